// The web UI's entry: polls the status document about once a second, keeps the canvas, the
// sidebar and the run history in step with it, and owns the selection.

import { AlertsPanel } from "./alerts.js";
import { api } from "./api.js";
import { h, parseTime } from "./format.js";
import { Graph, pondLook } from "./graph.js";
import { topologyKey } from "./layout.js";
import { RunDetail, RunHistory } from "./runs.js";
import { Sidebar } from "./sidebar.js";

const REFRESH_MS = 1000;
const STATES = ["failed", "killed", "blocked", "running", "queued", "idle", "never"];

class App {
  constructor() {
    this.status = null;
    this.byId = new Map();
    this.parents = new Map();
    this.children = new Map();
    this.serverNow = Date.now();
    this.receivedAt = performance.now();
    this.topology = null;
    this.selection = null;
    this.timer = null;
    this.polling = false;
    this.again = false;
    this.failed = new Map(); // pond id → {key, names: Set}
    this.cycle = new Map(); // state → index of the last Pond jumped to

    this.graph = new Graph(document.getElementById("graph"), { onSelect: (spec) => this.select(spec) });
    this.sidebar = new Sidebar(document.getElementById("sidebar"), this);
    this.history = new RunHistory(document.getElementById("history"), this);
    this.detail = new RunDetail(document.getElementById("run-detail"), this);
    this.alerts = new AlertsPanel(document.getElementById("alerts"), this);
    this.bindControls();
  }

  // == what other parts ask =======================================================================

  nowMs() {
    return this.serverNow + (performance.now() - this.receivedAt);
  }

  pond(id) {
    return this.byId.get(id) || null;
  }

  selectedPond() {
    return this.selection ? this.pond(this.selection.pond) : null;
  }

  failedRipples(id) {
    const entry = this.failed.get(id);
    return entry ? entry.names : new Set();
  }

  /** The failed or killed Ponds upstream of `id` that keep it blocked (nearest first). */
  blockers(id) {
    const found = [];
    const seen = new Set([id]);
    const queue = [...(this.parents.get(id) || [])];
    while (queue.length) {
      const next = queue.shift();
      if (seen.has(next)) continue;
      seen.add(next);
      const p = this.pond(next);
      if (p && (p.is_failed || p.is_killed)) found.push(p);
      queue.push(...(this.parents.get(next) || []));
    }
    return found;
  }

  lineageOf(id) {
    const ids = new Set([id]);
    const edges = new Set();
    const walk = (start, step, edgeKey) => {
      const queue = [start];
      while (queue.length) {
        const at = queue.shift();
        for (const next of step.get(at) || []) {
          edges.add(edgeKey(at, next));
          if (!ids.has(next)) {
            ids.add(next);
            queue.push(next);
          }
        }
      }
    };
    walk(id, this.parents, (at, next) => `${next}>${at}`);
    walk(id, this.children, (at, next) => `${at}>${next}`);
    return { ids, edges };
  }

  /** Select "pond:ID", "ripple:ID:NAME", "trigger:ID" or nothing (null). */
  select(spec, { center = false } = {}) {
    let selection = null;
    if (spec) {
      const [kind, pond, ...rest] = spec.split(":");
      if (this.byId.has(pond)) selection = { kind, pond, ripple: rest.join(":") || undefined };
    }
    this.selection = selection;
    const hash = selection ? `#${encodeURIComponent(spec)}` : "";
    if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname + location.search);
    this.graph.select(selection, selection ? this.lineageOf(selection.pond) : null);
    this.sidebar.show(selection);
    document.body.classList.toggle("has-selection", Boolean(selection));
    if (selection && center) this.graph.centerOn(selection.pond);
    this.history.poll();
  }

  openRun(run) {
    this.detail.open(run);
  }

  toast(message, kind = "ok") {
    const box = document.getElementById("toasts");
    const note = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
    box.append(note);
    setTimeout(() => note.remove(), kind === "error" ? 9000 : 3500);
  }

  refreshNow() {
    clearTimeout(this.timer);
    this.poll();
  }

  // == the live loop ==============================================================================

  async poll() {
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    clearTimeout(this.timer);
    let delay = REFRESH_MS;
    try {
      const status = await api("api/status");
      this.apply(status);
      this.setConnection("live", "live");
    } catch (error) {
      delay = 2000;
      this.setConnection("offline", error.status ? `error: ${error.message}` : "offline — retrying");
    } finally {
      this.polling = false;
    }
    if (this.again) {
      this.again = false;
      delay = 0;
    }
    this.timer = setTimeout(() => this.poll(), delay);
  }

  apply(status) {
    this.status = status;
    this.byId = new Map(status.ponds.map((p) => [p.id, p]));
    this.serverNow = parseTime(status.now) ?? Date.now();
    this.receivedAt = performance.now();
    const key = topologyKey(status);
    if (key !== this.topology) {
      const first = this.topology === null || !this.graph.layout || this.graph.layout.ponds.size === 0;
      this.topology = key;
      this.parents = new Map();
      this.children = new Map();
      for (const [from, to] of status.edges) {
        if (!this.parents.has(to)) this.parents.set(to, []);
        if (!this.children.has(from)) this.children.set(from, []);
        this.parents.get(to).push(from);
        this.children.get(from).push(to);
      }
      this.graph.setTopology(status);
      if (first) this.graph.fit();
      document.getElementById("pond-names").replaceChildren(
        ...status.ponds.map((p) => h("option", { value: p.id })),
      );
      document.getElementById("empty").hidden = status.ponds.length > 0;
      if (this.selection && !this.byId.has(this.selection.pond)) this.select(null);
      else if (this.selection) this.graph.select(this.selection, this.lineageOf(this.selection.pond));
      else if (first && location.hash) this.select(decodeURIComponent(location.hash.slice(1)), { center: true });
    }
    this.trackFailures(status);
    this.graph.update(status, this.nowMs());
    this.sidebar.refresh();
    this.summarise(status);
  }

  /** A failed Pond's failing Ripples come from its newest failed run: fetch it once per failure. */
  trackFailures(status) {
    for (const id of [...this.failed.keys()]) {
      const p = this.byId.get(id);
      if (!p || !p.is_failed) {
        this.failed.delete(id);
        this.graph.setFailedRipples(id, null);
      }
    }
    for (const p of status.ponds) {
      if (!p.is_failed) continue;
      const key = `${p.failed_f}|${p.failures}`;
      if (this.failed.has(p.id) && this.failed.get(p.id).key === key) continue;
      this.failed.set(p.id, { key, names: new Set() });
      const path = `api/runs?pond=${encodeURIComponent(p.name)}&major=${p.major}&lineage=false&ripples=true&limit=10`;
      api(path)
        .then(({ runs }) => {
          const run = runs.find((r) => r.status === "failed");
          const entry = this.failed.get(p.id);
          if (!run || !entry || entry.key !== key) return;
          entry.names = new Set((run.ripples || []).filter((a) => a.status === "failed").map((a) => a.ripple));
          this.graph.setFailedRipples(p.id, entry.names);
          if (this.status) this.graph.update(this.status, this.nowMs());
          this.sidebar.refresh();
        })
        .catch(() => this.failed.delete(p.id)); // try again on the next refresh
    }
  }

  summarise(status) {
    const counts = new Map();
    for (const p of status.ponds) {
      const look = pondLook(p);
      counts.set(look, (counts.get(look) || 0) + 1);
    }
    const summary = document.getElementById("summary");
    const signature = STATES.map((s) => counts.get(s) || 0).join();
    if (summary.dataset.signature !== signature) {
      summary.dataset.signature = signature;
      summary.replaceChildren(
        h("span", { class: "count-total" }, `${status.ponds.length} Pond line${status.ponds.length === 1 ? "" : "s"}`),
        ...STATES.filter((s) => counts.get(s)).map((s) =>
          h("button", {
            type: "button",
            class: `pill st-${s}`,
            title: `Show the next ${s === "never" ? "never-run" : s} Pond`,
            onclick: () => this.jumpTo(s),
          }, `${counts.get(s)} ${s === "never" ? "never run" : s}`),
        ),
      );
    }
    const bad = (counts.get("failed") || 0) + (counts.get("killed") || 0);
    const title = bad ? `(${bad} failed) Duckstring` : "Duckstring";
    if (document.title !== title) document.title = title;
  }

  jumpTo(state) {
    const ponds = this.status.ponds.filter((p) => pondLook(p) === state);
    if (!ponds.length) return;
    const index = ((this.cycle.get(state) ?? -1) + 1) % ponds.length;
    this.cycle.set(state, index);
    this.select(`pond:${ponds[index].id}`, { center: true });
  }

  setConnection(kind, text) {
    const node = document.getElementById("connection");
    node.className = `connection ${kind}`;
    if (node.textContent !== text) node.textContent = text;
  }

  bindControls() {
    document.getElementById("fit").addEventListener("click", () => this.graph.fit());
    document.getElementById("alerts-open").addEventListener("click", () => this.alerts.open());
    document.getElementById("zoom-in").addEventListener("click", () => this.graph.zoomBy(1.25));
    document.getElementById("zoom-out").addEventListener("click", () => this.graph.zoomBy(0.8));
    const search = document.getElementById("search");
    const find = () => {
      const text = search.value.trim().toLowerCase();
      if (!text || !this.status) return;
      const match =
        this.status.ponds.find((p) => p.id.toLowerCase() === text) ||
        this.status.ponds.find((p) => p.name.toLowerCase() === text) ||
        this.status.ponds.find((p) => p.id.toLowerCase().includes(text));
      if (match) this.select(`pond:${match.id}`, { center: true });
      else this.toast(`No Pond matches “${search.value}”`, "error");
    };
    search.addEventListener("change", find);
    search.addEventListener("keydown", (event) => event.key === "Enter" && find());
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest && event.target.closest("input, select, textarea");
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      const open = ["run-detail", "key-prompt", "alerts"].some((id) => !document.getElementById(id).hidden);
      if (open) return;
      if (event.key === "f" || event.key === "F") this.graph.fit();
      else if (event.key === "+" || event.key === "=") this.graph.zoomBy(1.25);
      else if (event.key === "-") this.graph.zoomBy(0.8);
      else if (event.key === "Escape") this.select(null);
    });
    window.addEventListener("resize", () => {
      if (this.graph.layout && this.graph.layout.ponds.size < 2) this.graph.fit();
    });
  }

  start() {
    this.poll();
    setInterval(() => this.history.poll(), 2000);
    this.history.poll();
  }
}

const app = new App();
window.duckstring = app; // for a curious operator's console
app.start();
