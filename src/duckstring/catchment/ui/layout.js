// A stable layered layout of the package graph, computed once per topology and then kept, so the
// live refresh only recolours. Ponds sit in columns by depth from the Inlets (the longest path, so
// every Source→Sink edge points right); inside each Pond its Ripples sit in columns by depth the
// same way. A layer taller than the screen-friendly height wraps into several sub-columns, which
// keeps a graph of hundreds of Ponds close to the viewport's shape.

export const SIZES = {
  rippleW: 136,
  rippleH: 26,
  rippleGapX: 26,
  rippleGapY: 10,
  pad: 12,
  header: 48,
  pondMinW: 240,
  pondGapX: 90,
  pondGapY: 28,
};

/** What the layout depends on: Ponds, their Ripples and both kinds of edge — nothing that runs. */
export function topologyKey(status) {
  const ponds = status.ponds
    .map((p) => [p.id, p.ripples.map((r) => r.name), p.ripple_edges.map((e) => e.join(">"))])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const edges = status.edges.map((e) => e.join(">")).sort();
  return JSON.stringify([ponds, edges]);
}

/** Longest-path depth of every node from the nodes without parents; cycles cannot hang it. */
function depths(ids, parentsOf) {
  const depth = new Map();
  const visiting = new Set();
  const visit = (id) => {
    if (depth.has(id)) return depth.get(id);
    if (visiting.has(id)) return 0; // a cycle (deploy refuses them): break it anywhere
    visiting.add(id);
    let d = 0;
    for (const parent of parentsOf.get(id) || []) d = Math.max(d, visit(parent) + 1);
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const id of ids) visit(id);
  return depth;
}

function groupByDepth(ids, depth) {
  const layers = [];
  for (const id of ids) {
    const d = depth.get(id);
    (layers[d] ||= []).push(id);
  }
  return layers.filter(Boolean);
}

/** Reorder each layer by the mean position of its neighbours (a few sweeps down and up). */
function orderLayers(layers, parentsOf, childrenOf) {
  const rank = new Map();
  const renumber = (layer) => layer.forEach((id, i) => rank.set(id, i / Math.max(1, layer.length)));
  layers.forEach(renumber);
  const sweep = (layer, neighboursOf) => {
    const keyed = layer.map((id, i) => {
      const around = (neighboursOf.get(id) || []).filter((n) => rank.has(n));
      const key = around.length
        ? around.reduce((sum, n) => sum + rank.get(n), 0) / around.length
        : rank.get(id);
      return { id, key, i };
    });
    keyed.sort((a, b) => a.key - b.key || a.i - b.i);
    layer.splice(0, layer.length, ...keyed.map((k) => k.id));
    renumber(layer);
  };
  for (let pass = 0; pass < 4; pass++) {
    for (let i = 1; i < layers.length; i++) sweep(layers[i], parentsOf);
    for (let i = layers.length - 2; i >= 0; i--) sweep(layers[i], childrenOf);
  }
}

function adjacency(edges) {
  const parentsOf = new Map();
  const childrenOf = new Map();
  for (const [from, to] of edges) {
    if (!parentsOf.has(to)) parentsOf.set(to, []);
    if (!childrenOf.has(from)) childrenOf.set(from, []);
    parentsOf.get(to).push(from);
    childrenOf.get(from).push(to);
  }
  return { parentsOf, childrenOf };
}

/** Ripples of one Pond in columns by depth; sizes and positions relative to the Pond's corner. */
function layoutRipples(pond) {
  const S = SIZES;
  const names = pond.ripples.map((r) => r.name);
  const known = new Set(names);
  const edges = pond.ripple_edges.filter(([a, b]) => known.has(a) && known.has(b));
  const { parentsOf, childrenOf } = adjacency(edges);
  const layers = groupByDepth(names, depths(names, parentsOf));
  orderLayers(layers, parentsOf, childrenOf);
  const rows = Math.max(0, ...layers.map((l) => l.length));
  const innerW = layers.length ? layers.length * S.rippleW + (layers.length - 1) * S.rippleGapX : 0;
  const innerH = rows ? rows * S.rippleH + (rows - 1) * S.rippleGapY : 0;
  const width = Math.max(S.pondMinW, innerW + 2 * S.pad);
  const height = S.header + (rows ? innerH + S.pad : 0);
  const left = (width - innerW) / 2;
  const ripples = new Map();
  layers.forEach((layer, col) => {
    const colH = layer.length * S.rippleH + (layer.length - 1) * S.rippleGapY;
    const top = S.header + (innerH - colH) / 2;
    layer.forEach((name, row) => {
      ripples.set(name, {
        x: left + col * (S.rippleW + S.rippleGapX),
        y: top + row * (S.rippleH + S.rippleGapY),
        w: S.rippleW,
        h: S.rippleH,
      });
    });
  });
  return { width, height, ripples, edges };
}

/** Stack each layer's Ponds into columns no taller than `limit` (a layer may take several). */
function wrapLayers(layers, boxes, limit) {
  const S = SIZES;
  const columns = [];
  for (const layer of layers) {
    let column = { ids: [], height: 0, width: 0 };
    for (const id of layer) {
      const box = boxes.get(id);
      const extra = (column.ids.length ? S.pondGapY : 0) + box.h;
      if (column.ids.length && column.height + extra > limit) {
        columns.push(column);
        column = { ids: [], height: 0, width: 0 };
      }
      column.height += extra;
      column.width = Math.max(column.width, box.w);
      column.ids.push(id);
    }
    if (column.ids.length) columns.push(column);
  }
  return columns;
}

/**
 * Positions for every Pond (`x, y, w, h` and its Ripples) and a port on each side of an edge.
 * `aspect` is the canvas's height over its width, the shape the graph should fill.
 * Returns `{ponds: Map(id → box), edges: [{from, to, path}], width, height}`.
 */
export function layoutGraph(status, aspect = 0.6) {
  const S = SIZES;
  const ids = status.ponds.map((p) => p.id).sort();
  const byId = new Map(status.ponds.map((p) => [p.id, p]));
  const edges = status.edges.filter(([a, b]) => byId.has(a) && byId.has(b) && a !== b);
  const { parentsOf, childrenOf } = adjacency(edges);
  const layers = groupByDepth(ids, depths(ids, parentsOf));
  orderLayers(layers, parentsOf, childrenOf);

  const boxes = new Map();
  let area = 0;
  let tallest = 0;
  for (const id of ids) {
    const inner = layoutRipples(byId.get(id));
    boxes.set(id, { id, x: 0, y: 0, w: inner.width, h: inner.height, ...inner });
    area += (inner.width + S.pondGapX) * (inner.height + S.pondGapY);
    tallest = Math.max(tallest, inner.height);
  }
  // Wrap a layer once it is taller than the column height that lets the whole graph fill a
  // canvas of the given shape best (tried over a range: it is cheap next to drawing).
  let best = null;
  const floor = Math.max(tallest, 600);
  const ceiling = Math.max(floor, Math.sqrt(area * aspect) * 2.5);
  for (let i = 0; i <= 16; i++) {
    const limit = floor + ((ceiling - floor) * i) / 16;
    const columns = wrapLayers(layers, boxes, limit);
    const w = columns.reduce((sum, c) => sum + c.width + S.pondGapX, -S.pondGapX);
    const h = Math.max(...columns.map((c) => c.height));
    const scale = Math.min(1 / Math.max(1, w), aspect / Math.max(1, h));
    if (!best || scale > best.scale * 1.0001) best = { scale, columns };
  }
  const columns = best ? best.columns : [];
  const height = Math.max(0, ...columns.map((c) => c.height));
  let x = 0;
  for (const column of columns) {
    let y = (height - column.height) / 2;
    for (const id of column.ids) {
      const box = boxes.get(id);
      box.x = x + (column.width - box.w) / 2;
      box.y = y;
      y += box.h + S.pondGapY;
    }
    x += column.width + S.pondGapX;
  }
  const width = Math.max(0, x - S.pondGapX);

  // Ports: a Pond's incoming edges spread down its left side in the order of their Sources'
  // heights, its outgoing ones down its right side, so parallel edges never sit on one another.
  const ports = (list, box, key) => {
    list.sort((a, b) => key(a) - key(b));
    const span = Math.min(box.h - 16, 24 * list.length);
    const top = box.y + box.h / 2 - span / 2;
    return new Map(list.map((e, i) => [e, top + (span * (i + 0.5)) / list.length]));
  };
  const routed = edges.map(([from, to]) => ({ from, to }));
  const inPort = new Map();
  const outPort = new Map();
  for (const id of ids) {
    const box = boxes.get(id);
    const incoming = routed.filter((e) => e.to === id);
    const outgoing = routed.filter((e) => e.from === id);
    const centre = (other) => boxes.get(other).y + boxes.get(other).h / 2;
    for (const [e, y] of ports(incoming, box, (e) => centre(e.from))) inPort.set(e, y);
    for (const [e, y] of ports(outgoing, box, (e) => centre(e.to))) outPort.set(e, y);
  }
  for (const e of routed) {
    const a = boxes.get(e.from);
    const b = boxes.get(e.to);
    const x1 = a.x + a.w;
    const y1 = outPort.get(e);
    const x2 = b.x;
    const y2 = inPort.get(e);
    const bend = Math.max(36, (x2 - x1) * 0.45);
    e.path = `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
  }
  return { ponds: boxes, edges: routed, width, height };
}

/** The path of an edge between two Ripples of one Pond (coordinates inside the Pond). */
export function ripplePath(a, b) {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + b.h / 2;
  const bend = Math.max(10, (x2 - x1) * 0.5);
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}
