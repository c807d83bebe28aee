// The sidebar for the selected Pond, Ripple or trigger: its state, the triggers and control verbs,
// retry budgets and Clear Failure, the window editor, and its runs. It is built once per selection;
// each refresh only rewrites the values (never an input someone is typing in). Nothing here edits
// topology: that comes from deployed code.

import { api, pondPath } from "./api.js";
import { ago, duration, h, instant, parseTime } from "./format.js";
import { pondLook } from "./graph.js";
import { runTable, statusPill } from "./runs.js";
import { nodeText, placementSection } from "./placement.js";
import { showWhy } from "./why.js";

const UNITS = ["SECOND", "MINUTE", "HOUR", "DAY", "WEEK"];
const DURATION_UNITS = { s: 1, min: 60, h: 3600, d: 86400 };
const DAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
const UNIT_LETTERS = { SECOND: "s", MINUTE: "m", HOUR: "h", DAY: "d", WEEK: "w" };

function triggerText(trigger) {
  if (!trigger) return "none";
  if (trigger.kind === "wave") return "Wave — standing pull";
  if (trigger.kind === "tide") return `Tide ≤ ${duration(trigger.bound_ms)} — standing push`;
  return trigger.kind;
}

/** "2026-05-01T02:00" from a datetime-local input, read as UTC → "2026-05-01T02:00:00Z". */
function utcInstant(value) {
  if (!value) return null;
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

/** "every 1d from 2026-01-01 02:00:00.000 UTC for 3h 00m on MON,WED,FRI" — a window as the API
 * lists it, said the way the CLI says it. */
function describeWindow(w) {
  const every = `${w.freq_interval}${UNIT_LETTERS[w.freq_unit] || ` × ${w.freq_unit}`}`;
  let text = `every ${every} from ${instant(w.start_anchor)} for ${duration(w.duration_seconds * 1000)}`;
  if (w.valid_days) text += ` on ${w.valid_days}`;
  if (w.until_time) text += ` until ${instant(w.until_time)}`;
  return text;
}

/** "a run every 3.1 s" — the median gap between the starts of the recent successful runs. */
function cadenceOf(runs) {
  const starts = runs
    .filter((r) => r.status === "success" && r.started_at)
    .map((r) => parseTime(r.started_at))
    .filter((t) => t !== null)
    .slice(0, 10);
  if (starts.length < 3) return null;
  const gaps = starts.slice(1).map((t, i) => starts[i] - t).sort((a, b) => a - b);
  const middle = Math.floor(gaps.length / 2);
  const median = gaps.length % 2 ? gaps[middle] : (gaps[middle - 1] + gaps[middle]) / 2;
  return `a run every ${duration(median)} (median of the last ${gaps.length} gaps)`;
}

export class Sidebar {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.selection = null;
    this.binders = [];
    this.token = 0;
    this.timer = null;
    this.showEmpty();
  }

  showEmpty() {
    this.binders = [];
    this.root.replaceChildren(
      h(
        "div",
        { class: "placeholder" },
        h("h2", {}, "Nothing selected"),
        h("p", {}, "Click a Pond, a Ripple or a trigger badge on the canvas to see its state and steer it."),
        h("p", { class: "muted" }, "Drag to pan, scroll to zoom, F to fit. Topology comes from deployed code; nothing here edits it."),
      ),
    );
  }

  /** Rebuild for a selection: {kind: "pond"|"ripple"|"trigger", pond: id, ripple?}. */
  show(selection) {
    this.selection = selection;
    this.forecastMoment = null;
    this.token += 1;
    clearTimeout(this.timer);
    this.binders = [];
    this.lastProblemRun = null;
    this.problemRuns = "";
    this.cadence = null;
    if (!selection) return this.showEmpty();
    const pond = this.app.pond(selection.pond);
    if (!pond) return this.showEmpty();
    const view =
      selection.kind === "ripple" ? this.rippleView(pond, selection.ripple)
      : selection.kind === "trigger" ? this.triggerView(pond)
      : this.pondView(pond);
    this.root.replaceChildren(view);
    this.root.scrollTop = 0;
    this.refresh();
    this.poll(this.token);
  }

  /** New status arrived: rewrite every bound value. */
  refresh() {
    if (!this.selection) return;
    const pond = this.app.pond(this.selection.pond);
    if (!pond) return this.show(null);
    const nowMs = this.app.nowMs();
    for (const bind of this.binders) bind(pond, nowMs);
  }

  bind(fn) {
    this.binders.push(fn);
  }

  /** A value cell that follows the live status. */
  live(fn) {
    const cell = h("dd");
    this.bind((p, nowMs) => {
      const value = fn(p, nowMs);
      const node = value instanceof Node ? value : document.createTextNode(value === null || value === undefined ? "–" : String(value));
      if (cell.firstChild && cell.firstChild.isEqualNode && cell.firstChild.isEqualNode(node) && cell.childNodes.length === 1) return;
      cell.replaceChildren(node);
    });
    return cell;
  }

  facts(rows) {
    return h("dl", { class: "facts" }, rows.map(([label, fn]) => [h("dt", {}, label), this.live(fn)]));
  }

  /** A button that posts a verb and reports the outcome. */
  verb(pond, label, verb, { body, confirm, title, extra } = {}) {
    const button = h("button", { type: "button", title, class: confirm ? "danger" : null }, label);
    // A destructive verb asks twice: the first click arms the button until it is clicked again,
    // loses focus, or a few seconds pass.
    let armed = null;
    const disarm = () => {
      clearTimeout(armed);
      armed = null;
      button.textContent = label;
      button.classList.remove("armed");
    };
    if (confirm) button.addEventListener("blur", disarm);
    button.addEventListener("click", async () => {
      if (confirm && !armed) {
        button.textContent = `Confirm ${label.toLowerCase()}?`;
        button.classList.add("armed");
        armed = setTimeout(disarm, 8000);
        return;
      }
      disarm();
      button.disabled = true;
      try {
        await api(pondPath(pond, verb), { method: "POST", body: typeof body === "function" ? body() : body });
        this.app.toast(`${label} → ${pond.id}${extra ? extra() : ""}`);
        this.app.refreshNow();
      } catch (error) {
        this.app.toast(`${label} on ${pond.id} failed: ${error.message}`, "error");
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  header(pond, title, subtitle) {
    const pill = h("span", { class: "pill" });
    this.bind((p) => {
      const look = pondLook(p);
      pill.className = `pill st-${look}`;
      pill.textContent = look === "never" ? "never run" : look;
    });
    return h(
      "header",
      { class: "side-head" },
      h("div", { class: "side-kicker" }, subtitle),
      h("h2", {}, title, " ", pill),
    );
  }

  // == Pond =======================================================================================

  pondView(pond) {
    const view = h("div", { class: "side-pond", dataset: { pond: pond.id } });
    view.append(
      this.header(pond, pond.id, `${pond.kind === "pond" ? "Pond" : pond.kind === "inlet" ? "Inlet" : "Outlet"} · version ${pond.version}`),
      this.problemPanel(pond),
      this.facts([
        ["Version", (p) => p.version],
        ["Freshness", (p, now) => (p.end_f ? h("span", { title: instant(p.end_f) }, ago(p.end_f, now)) : "no data yet")],
        ["Staleness", (p) => (p.staleness_ms === null ? "–" : duration(p.staleness_ms))],
        ["Running at", (p) => (p.status === "running" && p.start_f ? instant(p.start_f) : "–")],
        ["Demand", (p) => [p.has_pull ? "pull" : "", p.target_f ? `push to ${instant(p.target_f)}` : ""].filter(Boolean).join(", ") || "none"],
        ["Trigger", (p) => triggerText(p.trigger)],
        ["Runs", (p) => `${p.runs_completed} completed · ${p.failures} failure${p.failures === 1 ? "" : "s"}`],
        ["Cadence", () => this.cadence || "–"],
        ["Window delay", (p) => (p.d_ms ? duration(p.d_ms) : "–")],
        ["Duck on node", nodeText],
      ]),
      h("section", { class: "side-section" }, h("h3", {}, "Why"), h("div", { class: "side-why" }, h("p", { class: "muted" }, "Loading…"))),
      this.triggerSection(pond),
      this.controlSection(pond),
      this.budgetSection(pond),
      placementSection(this.app, pond),
      this.windowSection(pond),
      h("section", { class: "side-section" }, h("h3", {}, "Runs"), h("div", { class: "side-runs" }, h("p", { class: "muted" }, "Loading…"))),
    );
    return view;
  }

  /** For a failed, killed or blocked Pond: what is wrong, and the way to its traceback. */
  problemPanel(pond) {
    const panel = h("div", { class: "problem", hidden: true });
    this.bind((p) => {
      const look = pondLook(p);
      panel.hidden = !["failed", "killed", "blocked"].includes(look);
      if (panel.hidden) return;
      const signature = `${look}|${p.failed_f}|${this.problemRuns || ""}`;
      if (panel.dataset.signature === signature) return;
      panel.dataset.signature = signature;
      panel.className = `problem st-${look}`;
      const parts = [];
      if (look === "blocked") {
        const culprits = this.app.blockers(p.id);
        parts.push(
          h("strong", {}, "Blocked"),
          " — upstream cannot run. ",
          culprits.length
            ? ["Caused by ", culprits.map((c, i) => [i ? ", " : "", h("button", { class: "link", onclick: () => this.app.select(`pond:${c.id}`, { center: true }) }, `${c.id} (${pondLook(c)})`)])]
            : "",
        );
      } else {
        parts.push(
          h("strong", {}, look === "failed" ? "Failed" : "Killed"),
          look === "failed" && p.failed_f ? ` at freshness ${instant(p.failed_f)}. ` : ". ",
          look === "failed"
            ? "Wake or Force runs it again; Clear Failure resets it without running."
            : "Parked until Wake, Force or Clear Failure.",
        );
        const run = this.lastProblemRun;
        if (run) {
          const failing = (run.ripples || []).filter((a) => a.status === "failed");
          const message = failing.length ? `${failing[failing.length - 1].ripple}: ${failing[failing.length - 1].error}` : run.error;
          if (message) parts.push(h("div", { class: "problem-message" }, message.split("\n")[0]));
          parts.push(h("button", { type: "button", class: "primary", onclick: () => this.app.openRun(run) }, "Open Run Detail"));
        }
      }
      panel.replaceChildren(...parts.flat(Infinity));
    });
    return panel;
  }

  triggerSection(pond) {
    const bound = h("input", { type: "number", min: "0.1", step: "any", value: "60", "aria-label": "Tide bound in seconds", class: "narrow" });
    this.bind((p) => {
      if (p.trigger && p.trigger.kind === "tide" && document.activeElement !== bound && !bound.dataset.edited) {
        bound.value = String(p.trigger.bound_ms / 1000);
      }
    });
    bound.addEventListener("input", () => (bound.dataset.edited = "1"));
    const remove = this.verb(pond, "Remove trigger", "untrigger", { title: "Remove the standing trigger; demand already in the graph drains" });
    this.bind((p) => (remove.disabled = !p.trigger));
    return h(
      "section",
      { class: "side-section" },
      h("h3", {}, "Trigger"),
      h(
        "div",
        { class: "buttons" },
        this.verb(pond, "Tap", "tap", { title: "Pull once: run when the Sources have something newer" }),
        this.verb(pond, "Pulse", "pulse", { title: "Push once: bring the lineage to now" }),
        this.verb(pond, "Wave", "wave", { title: "Standing pull that renews itself after every run" }),
      ),
      h(
        "div",
        { class: "buttons" },
        h("label", { class: "inline" }, "bound ", bound, " s"),
        this.verb(pond, "Tide", "tide", {
          title: "Standing push that keeps staleness under the bound",
          body: () => ({ bound_seconds: Number(bound.value) }),
          extra: () => ` (≤ ${bound.value} s)`,
        }),
        remove,
      ),
    );
  }

  controlSection(pond) {
    const upstream = h("input", { type: "checkbox", "aria-label": "Sleep upstream too" });
    const clear = this.verb(pond, "Clear Failure", "clear", { title: "Reset failed/killed to idle without running" });
    this.bind((p) => (clear.disabled = !(p.is_failed || p.is_killed)));
    return h(
      "section",
      { class: "side-section" },
      h("h3", {}, "Control"),
      h(
        "div",
        { class: "buttons" },
        this.verb(pond, "Wake", "wake", { title: "One run of this Pond alone, once its Sources are newer; clears failed/killed" }),
        this.verb(pond, "Force", "force", { title: "Re-run every Ripple at the current freshness; clears failed/killed" }),
        this.verb(pond, "Kill", "kill", { confirm: true, title: "Stop the worker, cancel in-flight runs, park the Pond" }),
        clear,
      ),
      h(
        "div",
        { class: "buttons" },
        this.verb(pond, "Sleep", "sleep", {
          title: "Drop this Pond's demand and standing trigger",
          body: () => ({ upstream: upstream.checked }),
          extra: () => (upstream.checked ? " and upstream" : ""),
        }),
        h("label", { class: "inline" }, upstream, " upstream too"),
      ),
    );
  }

  budgetSection(pond) {
    const immediate = h("input", { type: "number", min: "0", step: "1", class: "narrow", "aria-label": "Immediate retries" });
    const onChange = h("input", { type: "number", min: "0", step: "1", class: "narrow", "aria-label": "Retries on Source change" });
    const inputs = [[immediate, "immediate_retries"], [onChange, "source_retries"]];
    for (const [input] of inputs) input.addEventListener("input", () => (input.dataset.edited = "1"));
    this.bind((p) => {
      for (const [input, field] of inputs) {
        if (document.activeElement !== input && !input.dataset.edited) input.value = String(p[field]);
      }
    });
    const save = h("button", { type: "button" }, "Save budgets");
    save.addEventListener("click", async () => {
      save.disabled = true;
      try {
        const body = { immediate_retries: Number(immediate.value), source_retries: Number(onChange.value) };
        await api(pondPath(pond, "budget"), { method: "POST", body });
        const answer = await api(pondPath(pond, "budget")); // the POST answers only {"ok": true}
        for (const [input, field] of inputs) {
          delete input.dataset.edited;
          input.value = String(answer[field]);
        }
        this.app.toast(`Retry budgets of ${pond.id}: ${answer.immediate_retries} immediate, ${answer.source_retries} on change`);
        this.app.refreshNow();
      } catch (error) {
        this.app.toast(`Budgets of ${pond.id}: ${error.message}`, "error");
      } finally {
        save.disabled = false;
      }
    });
    return h(
      "section",
      { class: "side-section" },
      h("h3", {}, "Retry budgets"),
      h(
        "div",
        { class: "buttons" },
        h("label", { class: "inline", title: "Retries of a failing Ripple, at once" }, "immediate ", immediate),
        h("label", { class: "inline", title: "Retries when a Source has new data after a failure" }, "on change ", onChange),
        save,
      ),
    );
  }

  windowSection(pond) {
    const section = h("section", { class: "side-section windows" }, h("h3", {}, "Windows"));
    if (pond.kind !== "inlet") {
      section.append(h("p", { class: "muted" }, "Windows apply to Inlets: this Pond starts when its Sources have new data."));
      return section;
    }
    const list = h("ul", { class: "window-list" }, h("li", { class: "muted" }, "Loading…"));
    const error = h("div", { class: "form-error", role: "alert", hidden: true });
    const field = (label, input) => h("label", { class: "field" }, h("span", {}, label), input);
    const name = h("input", { name: "window-name", required: true, placeholder: "nightly", pattern: "[A-Za-z0-9_\\-]{1,64}" });
    const every = h("input", { name: "window-every", type: "number", min: "1", step: "1", value: "1", class: "narrow", required: true });
    const unit = h("select", { name: "window-unit" }, UNITS.map((u) => h("option", { value: u, selected: u === "DAY" }, u.toLowerCase())));
    const length = h("input", { name: "window-duration", type: "number", min: "0", step: "any", class: "narrow", placeholder: "all" });
    const lengthUnit = h("select", { name: "window-duration-unit" }, Object.keys(DURATION_UNITS).map((u) => h("option", { value: u, selected: u === "h" }, u)));
    const start = h("input", { name: "window-start", type: "datetime-local", step: "1" });
    const until = h("input", { name: "window-until", type: "datetime-local", step: "1" });
    const days = DAYS.map((d) => h("label", { class: "day" }, h("input", { type: "checkbox", value: d }), d.slice(0, 2)));
    const form = h(
      "form",
      { class: "window-form" },
      field("Name", name),
      h("div", { class: "row" }, field("Every", h("span", { class: "inline" }, every, unit)), field("Open for", h("span", { class: "inline" }, length, lengthUnit))),
      field("Starting (UTC; empty: 00:00 today)", start),
      h("div", { class: "field" }, h("span", {}, "On days (none: every day)"), h("div", { class: "days" }, days)),
      field("Until (UTC, optional)", until),
      error,
      h("button", { type: "submit", class: "primary" }, "Add window"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const chosen = days.map((d) => d.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      const body = {
        name: name.value.trim(),
        start_anchor: utcInstant(start.value),
        duration_seconds: length.value ? Number(length.value) * DURATION_UNITS[lengthUnit.value] : null,
        freq_unit: unit.value,
        freq_interval: Number(every.value),
        valid_days: chosen.length ? chosen.join(",") : null,
        until_time: utcInstant(until.value),
      };
      try {
        await api(pondPath(pond, "windows"), { method: "POST", body });
        this.app.toast(`Window ${body.name} added to ${pond.id}`);
        name.value = "";
        await this.loadWindows(pond, list, this.token);
        this.app.refreshNow();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
    let count = null;
    this.bind((p) => {
      if (count !== null && count !== p.windows) this.loadWindows(p, list, this.token);
      count = p.windows;
    });
    this.loadWindows(pond, list, this.token);
    section.append(list, h("details", { class: "window-editor", open: true }, h("summary", {}, "Add a window"), form));
    return section;
  }

  async loadWindows(pond, list, token) {
    let windows;
    try {
      windows = (await api(pondPath(pond, "windows"))).windows;
    } catch (error) {
      if (token === this.token) list.replaceChildren(h("li", { class: "form-error" }, error.message));
      return;
    }
    if (token !== this.token) return;
    list.replaceChildren(
      ...(windows.length
        ? windows.map((w) =>
            h(
              "li",
              { dataset: { window: w.name } },
              h("div", {}, h("strong", {}, w.name), h("div", { class: "muted small window-rule" }, describeWindow(w))),
              h("button", {
                type: "button",
                class: "small",
                title: `Remove window ${w.name}`,
                onclick: async () => {
                  try {
                    await api(`api/ponds/${encodeURIComponent(pond.name)}/windows/${encodeURIComponent(w.name)}/remove?major=${pond.major}`, { method: "POST" });
                    this.app.toast(`Window ${w.name} removed from ${pond.id}`);
                    await this.loadWindows(pond, list, this.token);
                    this.app.refreshNow();
                  } catch (error) {
                    this.app.toast(`Removing ${w.name}: ${error.message}`, "error");
                  }
                },
              }, "Remove"),
            ),
          )
        : [h("li", { class: "muted" }, "No windows: the Inlet may start at any time.")]),
    );
  }

  // == Ripple =====================================================================================

  rippleView(pond, rippleName) {
    const ripple = () => (this.app.pond(pond.id)?.ripples || []).find((r) => r.name === rippleName) || {};
    const parents = pond.ripple_edges.filter((e) => e[1] === rippleName).map((e) => e[0]);
    const children = pond.ripple_edges.filter((e) => e[0] === rippleName).map((e) => e[1]);
    const links = (names) =>
      names.length
        ? names.map((n, i) => [i ? ", " : "", h("button", { class: "link", onclick: () => this.app.select(`ripple:${pond.id}:${n}`) }, n)]).flat()
        : ["–"];
    const pill = h("span", { class: "pill" });
    this.bind(() => {
      const r = ripple();
      const failed = this.app.failedRipples(pond.id).has(rippleName) && r.status !== "running";
      const state = failed ? "failed" : r.status || "idle";
      pill.className = `pill st-${state}`;
      pill.textContent = state;
    });
    return h(
      "div",
      { class: "side-ripple" },
      h(
        "header",
        { class: "side-head" },
        h("div", { class: "side-kicker" }, "Ripple in ", h("button", { class: "link", onclick: () => this.app.select(`pond:${pond.id}`) }, pond.id)),
        h("h2", {}, h("span", { class: "mono" }, rippleName), " ", pill),
      ),
      this.facts([
        ["Freshness", (_, now) => (ripple().end_f ? h("span", { title: instant(ripple().end_f) }, ago(ripple().end_f, now)) : "no data yet")],
        ["Running at", () => (ripple().status === "running" ? instant(ripple().start_f) : "–")],
        ["Demand", () => [ripple().has_pull ? "pull" : "", ripple().target_f ? `push to ${instant(ripple().target_f)}` : ""].filter(Boolean).join(", ") || "none"],
        ["Reads", () => h("span", {}, ...links(parents))],
        ["Feeds", () => h("span", {}, ...links(children))],
      ]),
      h("section", { class: "side-section" }, h("h3", {}, "Recent attempts"), h("div", { class: "side-attempts" }, h("p", { class: "muted" }, "Loading…"))),
    );
  }

  // == trigger ====================================================================================

  triggerView(pond) {
    const bound = h("input", { type: "number", min: "0.1", step: "any", class: "narrow", "aria-label": "Tide bound in seconds" });
    const text = h("p");
    this.bind((p) => {
      text.textContent = p.trigger
        ? p.trigger.kind === "wave"
          ? "A Wave delivers pull now and again after every run, so the lineage settles into the cadence of its slowest Pond."
          : `A Tide pushes a new target whenever staleness would pass ${duration(p.trigger.bound_ms)}.`
        : "This Pond has no standing trigger now.";
      if (p.trigger && p.trigger.kind === "tide" && document.activeElement !== bound && !bound.dataset.edited) {
        bound.value = String(p.trigger.bound_ms / 1000);
      }
    });
    bound.addEventListener("input", () => (bound.dataset.edited = "1"));
    const remove = this.verb(pond, "Remove trigger", "untrigger");
    this.bind((p) => (remove.disabled = !p.trigger));
    const title = h("span");
    this.bind((p) => (title.textContent = p.trigger ? (p.trigger.kind === "wave" ? "Wave" : "Tide") : "No trigger"));
    return h(
      "div",
      { class: "side-trigger" },
      h(
        "header",
        { class: "side-head" },
        h("div", { class: "side-kicker" }, "Standing trigger on ", h("button", { class: "link", onclick: () => this.app.select(`pond:${pond.id}`) }, pond.id)),
        h("h2", {}, title),
      ),
      this.facts([
        ["Kind", (p) => triggerText(p.trigger)],
        ["Staleness", (p) => (p.staleness_ms === null ? "–" : duration(p.staleness_ms))],
        ["Freshness", (p, now) => (p.end_f ? ago(p.end_f, now) : "no data yet")],
      ]),
      text,
      h(
        "div",
        { class: "buttons" },
        h("label", { class: "inline" }, "bound ", bound, " s"),
        this.verb(pond, "Tide", "tide", { body: () => ({ bound_seconds: Number(bound.value || 60) }) }),
        this.verb(pond, "Wave", "wave"),
        remove,
      ),
    );
  }

  // == what the sidebar fetches while it is open ==================================================

  async poll(token) {
    if (token !== this.token || !this.selection) return;
    const selection = this.selection;
    const pond = this.app.pond(selection.pond);
    if (pond && selection.kind !== "trigger") {
      try {
        const path =
          `api/runs?pond=${encodeURIComponent(pond.name)}&major=${pond.major}&lineage=false` +
          `&ripples=true&limit=${selection.kind === "ripple" ? 40 : 15}`;
        const runs = (await api(path)).runs;
        if (token !== this.token) return;
        this.renderRuns(pond, selection, runs);
        await this.explain(token, pond, selection);
      } catch {
        // keep the last list; the status poll shows the connection state
      }
    }
    if (token === this.token) this.timer = setTimeout(() => this.poll(token), 2000);
  }

  /** The Why block: the chain every poll (it is cheap), the forecast when the line's state,
   * trigger or demand moved since it was last asked. */
  async explain(token, pond, selection) {
    const box = selection.kind === "pond" ? this.root.querySelector(".side-why") : null;
    if (!box) return;
    const moment = JSON.stringify([pond.status, pond.trigger, pond.has_pull, pond.target_f, pond.runs_completed]);
    const withForecast = moment !== this.forecastMoment;
    const kept = withForecast ? null : box.querySelector(".why-forecast");
    const why = await showWhy(box, pond, { withForecast, current: () => token === this.token });
    if (why && token === this.token) {
      if (withForecast) this.forecastMoment = moment;
      else if (kept) box.append(kept);
    }
  }

  renderRuns(pond, selection, runs) {
    const nowMs = this.app.nowMs();
    const open = (run) => this.app.openRun(run);
    if (selection.kind === "pond") {
      const problem = runs.find((r) => r.status === "failed" || r.status === "killed") || null;
      const before = this.lastProblemRun;
      this.lastProblemRun = problem;
      if ((before && before.seq) !== (problem && problem.seq) || (before && before.status) !== (problem && problem.status)) {
        this.problemRuns = problem ? `${problem.seq}${problem.status}` : "";
        this.refresh();
      }
      this.cadence = cadenceOf(runs);
      const box = this.root.querySelector(".side-runs");
      if (box) {
        box.replaceChildren(runs.length ? runTable(runs, nowMs, open, { showPond: false }) : h("p", { class: "muted" }, "No runs yet."));
      }
      return;
    }
    const box = this.root.querySelector(".side-attempts");
    if (!box) return;
    const rows = [];
    for (const run of runs) {
      for (const a of run.ripples || []) {
        if (a.ripple !== selection.ripple) continue;
        rows.push(
          h(
            "tr",
            { class: "run-row", tabindex: 0, onclick: () => open(run), title: "Open Run Detail" },
            h("td", {}, `#${run.seq}`, a.retry ? h("span", { class: "retry" }, ` ↻${a.retry}`) : ""),
            h("td", {}, statusPill(a.status)),
            h("td", {}, a.started_at ? ago(a.started_at, nowMs) : "–"),
            h("td", { class: "attempt-error" }, a.error ? a.error.split("\n")[0] : ""),
          ),
        );
      }
    }
    box.replaceChildren(
      rows.length
        ? h("table", { class: "runs" }, h("thead", {}, h("tr", {}, h("th", {}, "Run"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Message"))), h("tbody", {}, rows))
        : h("p", { class: "muted" }, "This Ripple has not run yet."),
    );
  }
}
