// The Placement section of a Pond's sidebar: what its Duck asks of the node it runs on (CPUs,
// memory, custom resources of the cluster) and where it runs now. The placement is the
// operator's, like a window: kept across restarts and redeploys, taken by the line's next Duck.

import { api, pondPath } from "./api.js";
import { h } from "./format.js";

const GiB = 1024 ** 3;

/** "zone_a=1, gpu=2" → {zone_a: 1, gpu: 2}; a name alone asks for one. */
function parseResources(text) {
  const resources = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [name, amount = "1"] = part.split("=").map((p) => p.trim());
    const value = Number(amount);
    if (!name || !Number.isFinite(value)) throw new Error(`a resource must be NAME=N, not "${part}"`);
    resources[name] = value;
  }
  return resources;
}

function resourcesText(resources) {
  return Object.entries(resources)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, amount]) => `${name}=${amount}`)
    .join(", ");
}

/** Where a line's Duck runs, for the facts list. */
export function nodeText(p) {
  if (!p.node) return "–";
  return `${p.node.id.slice(0, 12)} (${p.node.address})`;
}

export function placementSection(app, pond) {
  const cpus = h("input", { type: "number", min: "0", step: "0.5", class: "narrow", "aria-label": "CPUs", placeholder: "default" });
  const memory = h("input", { type: "text", class: "narrow", "aria-label": "Memory", placeholder: "e.g. 8G" });
  const resources = h("input", { type: "text", "aria-label": "Custom resources", placeholder: "zone_a=1" });
  const note = h("p", { class: "muted placement-note" }, "Loading…");
  const show = (answer) => {
    cpus.value = answer.cpus === null ? "" : String(answer.cpus);
    memory.value = answer.memory === null ? "" : `${+(answer.memory / GiB).toFixed(2)}GiB`;
    resources.value = resourcesText(answer.resources);
    note.textContent =
      answer.launcher === "local"
        ? "Ducks run on this Catchment's machine (local launcher): the placement is kept for a cluster."
        : `Ray launcher · taken by the line's next Duck${answer.last_node ? ` · last node ${answer.last_node.slice(0, 12)}` : ""}`;
  };
  api(pondPath(pond, "placement"))
    .then(show)
    .catch((error) => (note.textContent = `Placement is not known: ${error.message}`));
  const send = async (body, what) => {
    try {
      const answer = await api(pondPath(pond, "placement"), { method: "POST", body });
      show(answer);
      app.toast(`Placement of ${pond.id} ${what}`);
    } catch (error) {
      app.toast(`Placement of ${pond.id}: ${error.message}`, "error");
    }
  };
  const save = h("button", { type: "button" }, "Save placement");
  save.addEventListener("click", async () => {
    let body;
    try {
      body = {
        cpus: cpus.value === "" ? null : Number(cpus.value),
        memory: memory.value.trim() === "" ? null : memory.value.trim(),
        resources: parseResources(resources.value),
      };
    } catch (error) {
      app.toast(`Placement of ${pond.id}: ${error.message}`, "error");
      return;
    }
    save.disabled = true;
    await send(body, "saved");
    save.disabled = false;
  });
  const clear = h("button", { type: "button" }, "Clear");
  clear.addEventListener("click", () => send({}, "cleared"));
  return h(
    "section",
    { class: "side-section placement" },
    h("h3", {}, "Placement"),
    h(
      "div",
      { class: "buttons" },
      h("label", { class: "inline", title: "CPUs its Duck holds on its node" }, "CPUs ", cpus),
      h("label", { class: "inline", title: "Memory its Duck holds: 8G, 512MiB" }, "memory ", memory),
    ),
    h("div", { class: "buttons" }, h("label", { class: "inline", title: "Custom resources of the cluster" }, "resources ", resources)),
    h("div", { class: "buttons" }, save, clear),
    note,
  );
}
