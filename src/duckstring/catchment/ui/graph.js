// The canvas: Ponds as containers holding their Ripples, Source→Sink edges between them, drawn
// in SVG. The DOM is built once per topology; every refresh after that only changes classes and
// text of the Ponds whose state moved, so nothing flickers and nothing jumps.

import { ago } from "./format.js";
import { layoutGraph, ripplePath, SIZES } from "./layout.js";

const SVG = "http://www.w3.org/2000/svg";
const FAR_ZOOM = 0.55; // below this, Ponds show only their name, as large as their box allows

function el(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (parent) parent.append(node);
  return node;
}

function clip(text, width, charW) {
  const room = Math.max(3, Math.floor(width / charW));
  return text.length <= room ? text : `${text.slice(0, room - 1)}…`;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setClass(node, name, on) {
  if (node.classList.contains(name) !== on) node.classList.toggle(name, on);
}

/** The state a Pond is drawn in: the API's precedence, plus "never" for a line never run. */
export function pondLook(p) {
  if (p.status === "idle" && !p.end_f && p.runs_completed === 0) return "never";
  return p.status;
}

function triggerLabel(trigger) {
  if (!trigger) return "";
  if (trigger.kind === "tide") {
    const s = trigger.bound_ms === null ? "?" : trigger.bound_ms / 1000;
    return `TIDE ≤${s}s`;
  }
  return trigger.kind.toUpperCase();
}

export class Graph {
  constructor(svg, { onSelect }) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.viewport = svg.querySelector("#viewport");
    this.edgeLayer = svg.querySelector("#edges");
    this.pondLayer = svg.querySelector("#ponds");
    this.view = { x: 0, y: 0, k: 1 };
    this.layout = null;
    this.nodes = new Map(); // pond id → {group, parts…, key}
    this.edgeNodes = []; // {from, to, group}
    this.selection = null;
    this.failedRipples = new Map(); // pond id → Set of Ripple names that failed its failed run
    this.bindPointer();
  }

  // == topology ===================================================================================

  /** Rebuild the drawing for a new topology; the view stays where the user left it. */
  setTopology(status) {
    const rect = this.svg.getBoundingClientRect();
    const aspect = rect.width > 0 && rect.height > 0 ? rect.height / rect.width : 0.6;
    this.layout = layoutGraph(status, aspect);
    this.edgeLayer.replaceChildren();
    this.pondLayer.replaceChildren();
    this.nodes.clear();
    this.edgeNodes = [];
    const names = new Map();
    for (const p of status.ponds) names.set(p.name, (names.get(p.name) || 0) + 1);
    for (const edge of this.layout.edges) {
      const group = el("g", { class: "edge", "data-from": edge.from, "data-to": edge.to }, this.edgeLayer);
      el("path", { d: edge.path, class: "edge-base", "marker-end": "url(#arrow)" }, group);
      el("path", { d: edge.path, class: "edge-pull" }, group);
      el("path", { d: edge.path, class: "edge-push" }, group);
      this.edgeNodes.push({ ...edge, group });
    }
    for (const p of status.ponds) this.buildPond(p, this.layout.ponds.get(p.id), names.get(p.name) > 1);
    this.applyView();
  }

  buildPond(p, box, showMajor) {
    const S = SIZES;
    const group = el("g", {
      class: "pond",
      transform: `translate(${box.x},${box.y})`,
      "data-id": p.id,
      "data-select": `pond:${p.id}`,
      tabindex: 0,
      role: "button",
      "aria-label": `${p.id} (${p.kind})`,
    }, this.pondLayer);
    el("rect", { class: "pond-box", width: box.w, height: box.h, rx: 9 }, group);
    el("path", {
      class: "pond-head",
      d: `M0,9 a9,9 0 0 1 9,-9 h${box.w - 18} a9,9 0 0 1 9,9 v${S.header - 9 - 4} h${-box.w} z`,
    }, group);
    const title = el("title", {}, group);
    title.textContent = `${p.id} (${p.kind})`;
    const label = showMajor ? `${p.name}@${p.major}` : p.name;
    const name = el("text", { class: "pond-name", x: 10, y: 19 }, group);
    const kindLabel = p.kind === "pond" ? "" : p.kind;
    const room = box.w - 20 - 78 - (kindLabel ? 7 * kindLabel.length + 8 : 0);
    el("tspan", {}, name).textContent = clip(label, room, 8.2);
    if (kindLabel) el("tspan", { class: "pond-kind", dx: 7 }, name).textContent = kindLabel;
    const line = el("text", { class: "pond-line", x: 10, y: 37 }, group);
    const demand = el("text", { class: "pond-demand", x: box.w - 10, y: 37, "text-anchor": "end" }, group);

    const trigger = el("g", { class: "pond-trigger", "data-select": `trigger:${p.id}` }, group);
    const triggerBox = el("rect", { y: -10, height: 20, rx: 10 }, trigger);
    const triggerText = el("text", { y: 4, "text-anchor": "middle" }, trigger);

    const bigName = el("text", {
      class: "pond-bigname",
      x: box.w / 2,
      y: box.h / 2,
      "text-anchor": "middle",
      "dominant-baseline": "central",
    }, group);
    bigName.textContent = label;
    const fit = Math.max(10, Math.min(box.h * 0.5, (box.w - 16) / (0.6 * Math.max(3, label.length))));
    bigName.style.setProperty("--fit", `${fit.toFixed(1)}px`);

    const rippleLayer = el("g", { class: "ripples" }, group);
    const rippleEdges = [];
    for (const [from, to] of box.edges) {
      const path = el("path", { class: "ripple-edge", d: ripplePath(box.ripples.get(from), box.ripples.get(to)), "marker-end": "url(#arrow-small)" }, rippleLayer);
      rippleEdges.push({ from, to, path });
    }
    const ripples = new Map();
    for (const [rippleName, r] of box.ripples) {
      const node = el("g", {
        class: "ripple",
        transform: `translate(${r.x},${r.y})`,
        "data-ripple": rippleName,
        "data-select": `ripple:${p.id}:${rippleName}`,
      }, rippleLayer);
      el("rect", { width: r.w, height: r.h, rx: 5 }, node);
      const text = el("text", { x: r.w / 2, y: r.h / 2 + 4, "text-anchor": "middle" }, node);
      text.textContent = clip(rippleName, r.w - 12, 6.9);
      const tip = el("title", {}, node);
      tip.textContent = rippleName;
      ripples.set(rippleName, node);
    }
    this.nodes.set(p.id, {
      group, box, line, demand, trigger, triggerBox, triggerText, ripples, rippleEdges, key: null,
    });
  }

  // == live state =================================================================================

  /** Recolour from a status document: Ponds whose state changed, and every age label. */
  update(status, nowMs) {
    const byId = new Map(status.ponds.map((p) => [p.id, p]));
    for (const p of status.ponds) {
      const node = this.nodes.get(p.id);
      if (!node) continue;
      const failed = this.failedRipples.get(p.id);
      // Everything paintPond draws from (gen counts runs started: it is no change counter).
      const key = `${pondLook(p)}|${p.has_pull}|${Boolean(p.target_f)}|` +
        `${p.trigger ? `${p.trigger.kind}${p.trigger.bound_ms}` : ""}|` +
        `${failed ? [...failed].join(",") : ""}|` +
        p.ripples.map((r) => `${r.status}${r.has_pull ? "p" : ""}${r.target_f ? "t" : ""}`).join();
      if (node.key !== key) {
        node.key = key;
        this.paintPond(p, node, failed);
      }
      const look = pondLook(p);
      const age = p.end_f ? `fresh ${ago(p.end_f, nowMs)}` : "no data yet";
      setText(node.line, `${look === "never" ? "never run" : look} · ${age}`);
    }
    for (const edge of this.edgeNodes) {
      const sink = byId.get(edge.to);
      setClass(edge.group, "pull", Boolean(sink && sink.has_pull));
      setClass(edge.group, "push", Boolean(sink && sink.target_f));
    }
  }

  paintPond(p, node, failed) {
    const look = pondLook(p);
    node.group.setAttribute("class", `pond st-${look}`);
    this.applySelectionClass(node.group, p.id);
    const demand = [p.has_pull ? "pull" : "", p.target_f ? "push" : ""].filter(Boolean).join(" + ");
    setText(node.demand, demand);
    setClass(node.demand, "is-pull", p.has_pull && !p.target_f);
    setClass(node.demand, "is-push", Boolean(p.target_f) && !p.has_pull);
    const label = triggerLabel(p.trigger);
    node.trigger.style.display = label ? "" : "none";
    if (label) {
      const w = 16 + label.length * 6.6;
      setText(node.triggerText, label);
      node.triggerBox.setAttribute("width", w);
      node.triggerBox.setAttribute("x", -w / 2);
      node.trigger.setAttribute("transform", `translate(${node.box.w - 8 - w / 2},15)`);
      node.trigger.setAttribute("class", `pond-trigger kind-${p.trigger.kind}`);
    }
    const states = new Map(p.ripples.map((r) => [r.name, r]));
    for (const [name, ripple] of node.ripples) {
      const r = states.get(name);
      let state = r ? r.status : "idle";
      if (failed && failed.has(name) && state !== "running") state = "failed";
      else if (state === "idle" && (look === "blocked" || look === "killed" || look === "never")) state = look;
      ripple.setAttribute("class", `ripple st-${state}`);
      this.applySelectionClass(ripple, `${p.id}:${name}`);
    }
    for (const edge of node.rippleEdges) {
      const child = states.get(edge.to);
      setClass(edge.path, "pull", Boolean(child && child.has_pull));
      setClass(edge.path, "push", Boolean(child && child.target_f));
    }
  }

  /** Ripples to draw red for a failed Pond (from its failed run's attempts). */
  setFailedRipples(pondId, names) {
    if (names && names.size) this.failedRipples.set(pondId, names);
    else this.failedRipples.delete(pondId);
  }

  // == selection and lineage ======================================================================

  select(selection, lineage) {
    this.selection = selection;
    this.lineage = lineage; // {ids: Set, edges: Set "a>b"} or null
    for (const [id, node] of this.nodes) {
      this.applySelectionClass(node.group, id);
      for (const [name, ripple] of node.ripples) this.applySelectionClass(ripple, `${id}:${name}`);
    }
    for (const edge of this.edgeNodes) {
      const inLineage = Boolean(lineage && lineage.edges.has(`${edge.from}>${edge.to}`));
      setClass(edge.group, "lineage", inLineage);
      setClass(edge.group, "dim", Boolean(lineage) && !inLineage);
    }
  }

  applySelectionClass(node, key) {
    const s = this.selection;
    if (node.classList.contains("ripple")) {
      setClass(node, "selected", Boolean(s && s.kind === "ripple" && `${s.pond}:${s.ripple}` === key));
      return;
    }
    setClass(node, "selected", Boolean(s && s.pond === key && s.kind !== "ripple"));
    setClass(node, "lineage", Boolean(this.lineage && this.lineage.ids.has(key)));
    setClass(node, "dim", Boolean(this.lineage) && !this.lineage.ids.has(key));
  }

  // == view: pan, zoom, fit =======================================================================

  applyView() {
    const { x, y, k } = this.view;
    this.viewport.setAttribute("transform", `translate(${x.toFixed(2)},${y.toFixed(2)}) scale(${k.toFixed(4)})`);
    setClass(this.svg, "far", k < FAR_ZOOM);
    this.svg.style.setProperty("--inv-zoom", (1 / k).toFixed(3));
  }

  fit() {
    if (!this.layout) return;
    const rect = this.svg.getBoundingClientRect();
    // Room at the bottom for the legend, which floats over the canvas.
    const margin = { side: 28, top: 24, bottom: 64 };
    const w = Math.max(1, this.layout.width);
    const h = Math.max(1, this.layout.height);
    const roomW = Math.max(40, rect.width - 2 * margin.side);
    const roomH = Math.max(40, rect.height - margin.top - margin.bottom);
    const k = Math.max(0.02, Math.min(roomW / w, roomH / h, 1.3));
    this.view = { k, x: (rect.width - w * k) / 2, y: margin.top + (roomH - h * k) / 2 };
    this.applyView();
  }

  zoomAt(factor, px, py) {
    const k = Math.min(3, Math.max(0.02, this.view.k * factor));
    const wx = (px - this.view.x) / this.view.k;
    const wy = (py - this.view.y) / this.view.k;
    this.view = { k, x: px - wx * k, y: py - wy * k };
    this.applyView();
  }

  zoomBy(factor) {
    const rect = this.svg.getBoundingClientRect();
    this.zoomAt(factor, rect.width / 2, rect.height / 2);
  }

  /** Bring a Pond to the middle of the canvas, zooming in far enough to read it. */
  centerOn(id) {
    const box = this.layout && this.layout.ponds.get(id);
    if (!box) return;
    const rect = this.svg.getBoundingClientRect();
    const k = Math.max(this.view.k, 0.9);
    this.view = { k, x: rect.width / 2 - (box.x + box.w / 2) * k, y: rect.height / 2 - (box.y + box.h / 2) * k };
    this.applyView();
  }

  bindPointer() {
    const svg = this.svg;
    let press = null;
    svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      press = { x: event.clientX, y: event.clientY, view: { ...this.view }, target: event.target, moved: false };
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener("pointermove", (event) => {
      if (!press) return;
      const dx = event.clientX - press.x;
      const dy = event.clientY - press.y;
      if (!press.moved && Math.hypot(dx, dy) < 4) return;
      press.moved = true;
      svg.classList.add("panning");
      this.view = { ...press.view, x: press.view.x + dx, y: press.view.y + dy };
      this.applyView();
    });
    const release = (event) => {
      if (!press) return;
      const { moved, target } = press;
      press = null;
      svg.classList.remove("panning");
      if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
      if (moved || event.type === "pointercancel") return;
      const hit = target.closest && target.closest("[data-select]");
      this.onSelect(hit ? hit.getAttribute("data-select") : null);
    };
    svg.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      const hit = event.target.closest && event.target.closest("[data-select]");
      if (!hit) return;
      event.preventDefault();
      this.onSelect(hit.getAttribute("data-select"));
    });
    svg.addEventListener("pointerup", release);
    svg.addEventListener("pointercancel", release);
    svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = svg.getBoundingClientRect();
      const unit = event.deltaMode === 1 ? 40 : event.deltaMode === 2 ? 800 : 1;
      const factor = Math.exp(-event.deltaY * unit * 0.0016);
      this.zoomAt(factor, event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
  }
}
