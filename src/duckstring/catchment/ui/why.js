// The "Why" block: a line's state as the chain of reasons the Catchment gives (root last), the
// forecast of when it is next fresh, and why one run happened. Everything is text nodes.

import { api, pondPath } from "./api.js";
import { duration, h } from "./format.js";

/** Reasons that end a chain badly. */
const ALARMS = new Set(["failed", "killed", "budget_spent", "not_deployed"]);

/** The reasons of `GET …/why`, each indented under the one it explains (nested) or listed. */
export function reasonList(reasons, { nested = true } = {}) {
  if (!reasons.length) return h("p", { class: "muted" }, "Nothing to explain.");
  return h(
    "ol",
    { class: `why-chain${nested ? " nested" : ""}` },
    reasons.map((reason, depth) =>
      h(
        "li",
        {
          class: `why-reason${ALARMS.has(reason.kind) ? " alarm" : ""}`,
          style: nested ? `padding-left: ${depth * 12}px` : null,
          dataset: { kind: reason.kind, line: reason.line },
        },
        nested && depth ? "└ " : "",
        h("span", { class: "why-text" }, reason.text),
        " ",
        h("span", { class: "why-rule" }, reason.rule),
      ),
    ),
  );
}

/** One line of the forecast, or nothing when it has nothing to say. */
export function forecastLine(forecast) {
  if (!forecast || (!forecast.next_fresh && !forecast.reason)) return null;
  const bits = [];
  if (forecast.next_fresh_in !== null && forecast.next_fresh_in !== undefined) {
    bits.push(`next fresh in ${duration(forecast.next_fresh_in * 1000)}`);
  } else if (forecast.reason) {
    bits.push(forecast.reason);
  }
  if (forecast.cadence) bits.push(`every ${duration(forecast.cadence * 1000)}`);
  if (forecast.holds === false) bits.push("its Tide cannot be held");
  if (forecast.bottleneck) {
    const pond = forecast.bottleneck.line.split("@")[0];
    bits.push(`bottleneck ${pond}.${forecast.bottleneck.ripple} (${duration(forecast.bottleneck.seconds * 1000)})`);
  }
  if (forecast.assumed && forecast.assumed.length) bits.push(`not measured yet, taken as 1 s: ${forecast.assumed.join(", ")}`);
  return h("p", { class: `why-forecast${forecast.holds === false ? " alarm" : ""}` }, "Forecast: ", bits.join(" · "));
}

/** Fill `box` with why `pond` is in its state (and its forecast, when `withForecast`). */
export async function showWhy(box, pond, { withForecast = false, current = () => true } = {}) {
  let why;
  try {
    why = await api(pondPath(pond, "why"));
  } catch (error) {
    if (current()) box.replaceChildren(h("p", { class: "form-error" }, `Could not explain: ${error.message}`));
    return null;
  }
  if (!current()) return null;
  const parts = [reasonList(why.reasons)];
  box.replaceChildren(...parts);
  if (withForecast) {
    try {
      const forecast = await api(pondPath(pond, "forecast"));
      const line = current() ? forecastLine(forecast) : null;
      if (line) box.append(line);
    } catch {
      // the forecast is a hint: the chain above stands without it
    }
  }
  return why;
}

/** Why run `seq` of a line happened, for Run Detail. */
export async function showRunCause(box, run) {
  const path = `api/ponds/${encodeURIComponent(run.pond)}/why?major=${run.major}&run=${run.seq}`;
  try {
    const answer = await api(path);
    box.replaceChildren(reasonList(answer.reasons, { nested: false }));
  } catch (error) {
    box.replaceChildren(h("p", { class: "muted" }, `Why it ran is not known: ${error.message}`));
  }
}
