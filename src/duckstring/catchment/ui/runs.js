// Run history (newest first) and Run Detail: the freshness and timing of one Pond Run, a row per
// Ripple attempt (↻N marks a retry), and for a failed run every failing Ripple — or the worker —
// with its message and full traceback.

import { api } from "./api.js";
import { ago, clock, duration, h, instant, span } from "./format.js";
import { showRunCause } from "./why.js";

export function statusPill(status) {
  return h("span", { class: `pill st-${status}` }, status);
}

function retryMark(retry) {
  return retry > 0 ? h("span", { class: "retry", title: `retry ${retry}` }, `↻${retry}`) : "";
}

/** One row of a run list; `columns` picks which of pond / run / … to show. */
export function runRow(run, nowMs, onOpen, { showPond = true } = {}) {
  const took = span(run.started_at, run.finished_at, nowMs);
  return h(
    "tr",
    {
      class: `run-row st-${run.status}`,
      tabindex: 0,
      title: "Open Run Detail",
      dataset: { line: run.id, seq: String(run.seq) },
      onclick: () => onOpen(run),
      onkeydown: (event) => event.key === "Enter" && onOpen(run),
    },
    showPond ? h("td", { class: "run-pond" }, run.id) : null,
    h("td", { class: "run-seq" }, `#${run.seq}`),
    h("td", {}, statusPill(run.status)),
    h("td", { title: instant(run.f) }, clock(run.f, nowMs)),
    h("td", { title: instant(run.started_at) }, run.started_at ? ago(run.started_at, nowMs) : "–"),
    h("td", { class: "num" }, run.status === "running" ? `${duration(took)}…` : duration(took)),
  );
}

export function runTable(runs, nowMs, onOpen, { showPond = true } = {}) {
  return h(
    "table",
    { class: "runs" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        showPond ? h("th", {}, "Pond") : null,
        h("th", {}, "Run"),
        h("th", {}, "Status"),
        h("th", { title: "The freshness the run computed (UTC)" }, "Freshness"),
        h("th", {}, "Started"),
        h("th", { class: "num" }, "Duration"),
      ),
    ),
    h("tbody", {}, runs.map((run) => runRow(run, nowMs, onOpen, { showPond }))),
  );
}

/** The bottom drawer: every run, newest first, refreshed while open. */
export class RunHistory {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.body = root.querySelector(".history-body");
    this.scope = root.querySelector("#history-scope");
    this.last = "";
    root.querySelector(".history-toggle").addEventListener("click", () => {
      root.classList.toggle("collapsed");
      this.poll();
    });
    this.scope.addEventListener("change", () => this.poll());
  }

  async poll() {
    if (this.root.classList.contains("collapsed")) return;
    const pond = this.app.selectedPond();
    let path = "api/runs?limit=100";
    if (this.scope.value === "lineage" && pond) {
      path = `api/runs?limit=100&pond=${encodeURIComponent(pond.name)}&major=${pond.major}&lineage=true`;
    }
    let runs;
    try {
      runs = (await api(path)).runs;
    } catch {
      return; // the status poll reports the connection; keep what is shown
    }
    const nowMs = this.app.nowMs();
    const key = JSON.stringify(runs) + Math.floor(nowMs / 1000);
    if (key === this.last) return;
    this.last = key;
    const scroll = this.body.scrollTop;
    this.body.replaceChildren(
      runs.length
        ? runTable(runs, nowMs, (run) => this.app.openRun(run))
        : h("p", { class: "muted pad" }, "No runs yet. Tap, Pulse or Wave a Pond to start one."),
    );
    this.body.scrollTop = scroll;
  }
}

/** The Run Detail dialog. */
export class RunDetail {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.content = root.querySelector(".detail-content");
    this.run = null;
    this.timer = null;
    root.addEventListener("click", (event) => {
      if (event.target === root) this.close();
    });
    root.querySelector(".detail-close").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !root.hidden) this.close();
    });
  }

  async open(run) {
    this.run = run;
    // Why it ran does not change: asked once per opening, kept across the reloads.
    this.cause = h("div", { class: "detail-why" }, h("p", { class: "muted" }, "Loading…"));
    showRunCause(this.cause, run);
    this.root.hidden = false;
    this.content.replaceChildren(h("p", { class: "muted" }, `Loading ${run.id} run #${run.seq}…`));
    await this.load();
  }

  close() {
    this.root.hidden = true;
    this.run = null;
    clearTimeout(this.timer);
  }

  async load() {
    clearTimeout(this.timer);
    const wanted = this.run;
    if (!wanted) return;
    const path = (limit) =>
      `api/runs?pond=${encodeURIComponent(wanted.pond)}&major=${wanted.major}` +
      `&lineage=false&ripples=true&limit=${limit}`;
    const pick = (runs) => runs.find((r) => r.seq === wanted.seq && r.id === wanted.id) || null;
    let found = null;
    try {
      // The run asked for is nearly always among the newest; look further back only if not.
      const recent = (await api(path(50))).runs;
      found = pick(recent);
      if (!found && recent.length === 50) found = pick((await api(path(1000))).runs);
    } catch (error) {
      if (this.run === wanted) {
        this.content.replaceChildren(h("p", { class: "form-error" }, `Could not load the run: ${error.message}`));
      }
      return;
    }
    if (this.run !== wanted) return;
    if (!found) {
      this.content.replaceChildren(h("p", { class: "muted" }, "This run is no longer in the history."));
      return;
    }
    this.render(found);
    if (found.status === "running") this.timer = setTimeout(() => this.load(), 1000);
  }

  render(run) {
    const nowMs = this.app.nowMs();
    const attempts = run.ripples || [];
    const failedAttempts = attempts.filter((a) => a.status === "failed");
    const took = span(run.started_at, run.finished_at, nowMs);
    const facts = [
      ["Freshness", h("span", { title: instant(run.f) }, `${instant(run.f)} (${ago(run.f, nowMs)})`)],
      ["Kind", run.kind],
      ["Version", run.version || "–"],
      ["Started", instant(run.started_at)],
      ["Finished", run.finished_at ? instant(run.finished_at) : "still running"],
      ["Duration", run.status === "running" ? `${duration(took)} so far` : duration(took)],
    ];
    const attemptRows = attempts.map((a) =>
      h(
        "tr",
        { class: `st-${a.status}` },
        h("td", { class: "mono" }, a.ripple, " ", retryMark(a.retry)),
        h("td", {}, statusPill(a.status)),
        h("td", { title: instant(a.started_at) }, clock(a.started_at, nowMs)),
        h("td", { class: "num" }, duration(span(a.started_at, a.finished_at, nowMs))),
        h("td", { class: "attempt-error" }, a.error ? a.error.split("\n")[0] : ""),
      ),
    );
    const failures = failedAttempts.map((a) =>
      h(
        "section",
        { class: "failure" },
        h("h4", {}, h("span", { class: "mono" }, a.ripple), " ", retryMark(a.retry), " failed"),
        h("div", { class: "failure-message" }, a.error || "(no message)"),
        a.traceback ? h("pre", { class: "traceback" }, a.traceback) : h("p", { class: "muted" }, "No traceback was reported."),
      ),
    );
    const rippleErrors = new Set(failedAttempts.map((a) => a.error));
    if (run.status !== "success" && run.error && (!failedAttempts.length || !rippleErrors.has(run.error))) {
      failures.push(
        h(
          "section",
          { class: "failure worker" },
          h("h4", {}, run.status === "killed" ? "Killed" : "Worker"),
          h("div", { class: "failure-message" }, run.error),
          run.traceback ? h("pre", { class: "traceback" }, run.traceback) : null,
        ),
      );
    }
    const parts = [
      h(
        "header",
        { class: "detail-head" },
        h("h2", {}, `${run.id} · run #${run.seq} `, statusPill(run.status)),
        h("button", { class: "link", onclick: () => { this.close(); this.app.select(`pond:${run.id}`, { center: true }); } }, "Show Pond"),
      ),
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h3", {}, "Why it ran"),
      this.cause,
      h("h3", {}, "Ripple attempts"),
      attempts.length
        ? h(
            "table",
            { class: "attempts" },
            h("thead", {}, h("tr", {}, h("th", {}, "Ripple"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", { class: "num" }, "Duration"), h("th", {}, "Message"))),
            h("tbody", {}, attemptRows),
          )
        : h("p", { class: "muted" }, "No Ripple has started in this run."),
    ];
    if (failures.length) parts.push(h("h3", {}, "Failures"), ...failures);
    this.content.replaceChildren(...parts);
  }
}
