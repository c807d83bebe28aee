// Times and durations as people read them. Every age is measured against the Catchment's own
// clock (the status document's `now`), never the browser's, so a skewed laptop shows true ages.

/** Milliseconds since the epoch of an API timestamp (UTC ISO-8601, microseconds allowed). */
export function parseTime(text) {
  if (!text) return null;
  const trimmed = text.replace(/(\.\d{3})\d+/, "$1");
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? null : ms;
}

/** "340 ms", "2.4 s", "3m 12s", "2h 05m", "3d 4h". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  const sign = ms < 0 ? "-" : "";
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${sign}${s.toFixed(1)} s`;
  if (s < 60) return `${sign}${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${sign}${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${sign}${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "12s ago" style age of `iso` at server time `nowMs`; "never" for none. */
export function ago(iso, nowMs) {
  const t = parseTime(iso);
  if (t === null) return "never";
  const age = Math.max(0, nowMs - t);
  if (age < 1000) return "just now";
  const s = age / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** "10:47:15.620" UTC for today-ish timestamps; the date too when it is not `nowMs`'s day. */
export function clock(iso, nowMs) {
  const t = parseTime(iso);
  if (t === null) return "–";
  const text = new Date(t).toISOString();
  const sameDay = nowMs !== undefined && text.slice(0, 10) === new Date(nowMs).toISOString().slice(0, 10);
  return sameDay ? text.slice(11, 23) : `${text.slice(0, 10)} ${text.slice(11, 23)}`;
}

/** The full UTC instant, for tooltips and detail rows. */
export function instant(iso) {
  const t = parseTime(iso);
  return t === null ? "–" : new Date(t).toISOString().replace("T", " ").replace("Z", " UTC");
}

/** Milliseconds between two API timestamps (to `nowMs` when still open). */
export function span(startIso, endIso, nowMs) {
  const start = parseTime(startIso);
  if (start === null) return null;
  const end = endIso ? parseTime(endIso) : nowMs;
  return end === null || end === undefined ? null : end - start;
}

/** Build an element: h("td", {class: "x", title: "y"}, "text", child, …). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
