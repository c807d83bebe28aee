// The Alerts dialog: the alert rules (add, test, remove) and the log of their deliveries. It
// reads and writes only through the API, like the CLI; it refreshes while open.

import { ApiError, api } from "./api.js";
import { clock, h, instant } from "./format.js";

const REFRESH_MS = 2000;
const KINDS = ["failure", "recovery", "stale", "forecast-breach"];

export class AlertsPanel {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.rules = root.querySelector(".alert-rules");
    this.log = root.querySelector(".alert-log");
    this.form = root.querySelector(".alert-form");
    this.error = root.querySelector(".alert-form .form-error");
    this.timer = null;
    this.last = "";
    root.addEventListener("click", (event) => {
      if (event.target === root) this.close();
    });
    root.querySelector(".detail-close").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !root.hidden) this.close();
    });
    const kind = this.form.elements.on;
    kind.replaceChildren(...KINDS.map((k) => h("option", { value: k }, k)));
    const syncDuration = () => {
      this.form.elements.duration.disabled = kind.value !== "stale";
    };
    kind.addEventListener("change", syncDuration);
    syncDuration();
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
  }

  open() {
    this.root.hidden = false;
    this.last = "";
    this.load();
  }

  close() {
    this.root.hidden = true;
    clearTimeout(this.timer);
  }

  async load() {
    clearTimeout(this.timer);
    if (this.root.hidden) return;
    try {
      const [{ alerts }, { deliveries }] = await Promise.all([api("api/alerts"), api("api/alerts/log?limit=50")]);
      const key = JSON.stringify([alerts, deliveries]);
      if (key !== this.last) {
        this.last = key;
        this.render(alerts, deliveries);
      }
    } catch (error) {
      this.rules.replaceChildren(h("p", { class: "form-error" }, `Could not load the alerts: ${error.message}`));
    }
    this.timer = setTimeout(() => this.load(), REFRESH_MS);
  }

  render(alerts, deliveries) {
    const nowMs = this.app.nowMs();
    this.rules.replaceChildren(
      alerts.length
        ? h(
            "table",
            { class: "runs" },
            h("thead", {}, h("tr", {}, ["Name", "On", "Ponds", "To", "State", ""].map((t) => h("th", {}, t)))),
            h(
              "tbody",
              {},
              alerts.map((rule) =>
                h(
                  "tr",
                  { class: "alert-rule", dataset: { name: rule.name } },
                  h("td", { class: "mono" }, rule.name),
                  h("td", {}, rule.duration ? `${rule.on} ${rule.duration}` : rule.on),
                  h("td", {}, rule.ponds.length ? rule.ponds.join(", ") : "all"),
                  h("td", { class: "mono alert-url" }, rule.to),
                  h("td", {}, rule.state, rule.pending ? ` · ${rule.pending} pending` : ""),
                  h(
                    "td",
                    {},
                    h("button", { type: "button", class: "small", onclick: () => this.test(rule.name) }, "Test"),
                    " ",
                    h("button", { type: "button", class: "small danger", onclick: (event) => this.remove(rule.name, event.currentTarget) }, "Remove"),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No alert rules yet: add one below."),
    );
    this.log.replaceChildren(
      deliveries.length
        ? h(
            "table",
            { class: "runs" },
            h("thead", {}, h("tr", {}, ["At", "Alert", "Kind", "Line", "Attempt", "Outcome"].map((t) => h("th", {}, t)))),
            h(
              "tbody",
              {},
              deliveries.map((d) =>
                h(
                  "tr",
                  { class: `alert-delivery ${d.ok ? "st-idle" : "st-failed"}`, title: d.title },
                  h("td", { title: instant(d.at) }, clock(d.at, nowMs)),
                  h("td", { class: "mono" }, d.rule),
                  h("td", {}, d.kind),
                  h("td", {}, d.line || "–"),
                  h("td", { class: "num" }, String(d.attempt)),
                  h("td", { class: d.ok ? "" : "attempt-error" }, d.ok ? "delivered" : `failed: ${d.error || ""}`),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "Nothing delivered yet."),
    );
  }

  async add() {
    const f = this.form.elements;
    const body = {
      name: f.name.value.trim(),
      on: f.on.value,
      ponds: f.ponds.value.split(",").map((p) => p.trim()).filter(Boolean),
      to: f.to.value.trim(),
    };
    if (body.on === "stale") body.duration = f.duration.value.trim();
    this.error.hidden = true;
    try {
      await api("api/alerts", { method: "POST", body });
    } catch (error) {
      this.error.textContent = error instanceof ApiError ? error.message : String(error);
      this.error.hidden = false;
      return;
    }
    this.form.reset();
    f.duration.disabled = true;
    this.app.toast(`Alert ${body.name} added`);
    this.last = "";
    this.load();
  }

  async test(name) {
    try {
      await api(`api/alerts/${encodeURIComponent(name)}/test`, { method: "POST" });
      this.app.toast(`Test notification of ${name} queued: the log shows its delivery`);
    } catch (error) {
      this.app.toast(error.message, "error");
    }
    this.load();
  }

  async remove(name, button) {
    if (!button.classList.contains("armed")) {
      // A second click confirms: a rule removed by a stray click would stay silent.
      button.classList.add("armed");
      button.textContent = "Remove?";
      return;
    }
    try {
      await api(`api/alerts/${encodeURIComponent(name)}`, { method: "DELETE" });
      this.app.toast(`Alert ${name} removed`);
    } catch (error) {
      this.app.toast(error.message, "error");
    }
    this.last = "";
    this.load();
  }
}
