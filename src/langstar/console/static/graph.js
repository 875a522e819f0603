// The assistant's graph (GET /assistants/{id}/graph) drawn as SVG, top to bottom: each
// node on the layer after the furthest node leading to it, loops drawn back up the side.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 64;
const BOX_HEIGHT = 28;
const GAP = 24;
const CHAR = 7.4;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

// Visit order from the start; an edge back to a node seen earlier is a loop.
function order(nodes, edges) {
  const out = new Map(edges.map((e) => [e.source, []]));
  for (const e of edges) out.get(e.source).push(e.target);
  const start = nodes.find((n) => n.id === "__start__")?.id ?? nodes[0]?.id;
  const seen = new Map();
  const queue = start ? [start] : [];
  for (const n of nodes) if (!queue.includes(n.id)) queue.push(n.id);
  for (let i = 0; i < queue.length; i += 1) {
    const id = queue[i];
    if (seen.has(id)) continue;
    seen.set(id, seen.size);
    for (const next of out.get(id) ?? []) if (!seen.has(next)) queue.splice(i + 1, 0, next);
  }
  return seen;
}

function layers(nodes, edges) {
  const rank = order(nodes, edges);
  const forward = (e) => rank.get(e.source) < rank.get(e.target);
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  const sorted = [...nodes].sort((a, b) => rank.get(a.id) - rank.get(b.id));
  for (const node of sorted) {
    for (const e of edges) {
      if (e.target === node.id && forward(e)) layer.set(node.id, Math.max(layer.get(node.id), layer.get(e.source) + 1));
    }
  }
  const rows = [];
  for (const node of sorted) (rows[layer.get(node.id)] ??= []).push(node.id);
  return {rows: rows.filter(Boolean), forward};
}

function place(rows) {
  const width = (id) => Math.max(56, id.length * CHAR + 20);
  const rowWidth = (row) => row.reduce((sum, id) => sum + width(id), 0) + GAP * (row.length - 1);
  const total = Math.max(...rows.map(rowWidth)) + 2 * GAP + 40;
  const at = new Map();
  rows.forEach((row, y) => {
    let x = (total - rowWidth(row)) / 2;
    for (const id of row) {
      at.set(id, {x, y: 16 + y * ROW, w: width(id)});
      x += width(id) + GAP;
    }
  });
  return {at, width: total, height: 16 + rows.length * ROW - (ROW - BOX_HEIGHT) + 16};
}

function edgePath(from, to, forward, width) {
  const sx = from.x + from.w / 2;
  const tx = to.x + to.w / 2;
  if (forward) {
    const sy = from.y + BOX_HEIGHT;
    const ty = to.y - 2;
    const mid = (sy + ty) / 2;
    return `M${sx},${sy} C${sx},${mid} ${tx},${mid} ${tx},${ty}`;
  }
  // A loop: out of the side nearer the edge of the drawing, along the margin, back in.
  const sy = from.y + BOX_HEIGHT / 2;
  const ty = to.y + BOX_HEIGHT / 2;
  if (sx < width / 2) {
    const side = Math.max(6, Math.min(from.x, to.x) - 28);
    return `M${from.x},${sy} C${side},${sy} ${side},${ty} ${to.x - 2},${ty}`;
  }
  const side = Math.min(width - 6, Math.max(from.x + from.w, to.x + to.w) + 28);
  return `M${from.x + from.w},${sy} C${side},${sy} ${side},${ty} ${to.x + to.w + 2},${ty}`;
}

export function drawGraph(container, graph) {
  const nodes = graph?.nodes ?? [];
  const edges = (graph?.edges ?? []).filter((e) => nodes.some((n) => n.id === e.source) && nodes.some((n) => n.id === e.target));
  if (!nodes.length) {
    container.replaceChildren();
    return;
  }
  const {rows, forward} = layers(nodes, edges);
  const {at, width, height} = place(rows);
  const arrow = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, svg("path", {d: "M0,0 L10,5 L0,10 z"}));
  const drawing = svg("svg", {viewBox: `0 0 ${width} ${height}`, width, height, role: "img"}, svg("defs", {}, arrow));
  drawing.append(svg("title", {}, `Graph with ${nodes.length} nodes`));
  for (const e of edges) {
    const d = edgePath(at.get(e.source), at.get(e.target), forward(e), width);
    const path = svg("path", {d, class: e.conditional ? "edge conditional" : "edge", "marker-end": "url(#arrow)"});
    const when = typeof e.data === "string" ? ` (${e.data})` : "";
    path.append(svg("title", {}, `${e.source} → ${e.target}${when}`));
    drawing.append(path);
  }
  for (const n of nodes) {
    const {x, y, w} = at.get(n.id);
    const end = n.id === "__start__" || n.id === "__end__";
    const label = svg("text", {x: x + w / 2, y: y + BOX_HEIGHT / 2 + 4, "text-anchor": "middle"});
    label.textContent = n.id;
    drawing.append(svg("g", {class: end ? "node end" : "node"}, svg("rect", {x, y, width: w, height: BOX_HEIGHT, rx: end ? 14 : 6}), label));
  }
  container.replaceChildren(drawing);
}
