// The taskforce dashboard: renders snapshots pushed by the center over server-sent events
// (falling back to polling /api/snapshot). No external scripts or fonts.
"use strict";

const $ = (id) => document.getElementById(id);
const PHASES = ["memory", "processing", "waiting", "erred", "released"];
const COLOURS = { memory: "#2f855a", processing: "#3182ce", waiting: "#cbd5e0", erred: "#e53e3e", released: "#9ae6b4" };
let previous = null;

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function colourOf(name) {
  let hash = 0;
  for (const c of name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  // The golden angle spreads similar names over distant hues.
  return "hsl(" + Math.round((hash * 137.508) % 360) + ", 65%, 50%)";
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function stackedBar(counts) {
  const total = PHASES.reduce((sum, p) => sum + counts[p], 0) || 1;
  const bar = el("div", { class: "bar" });
  let left = 0;
  for (const phase of PHASES) {
    const width = (100 * counts[phase]) / total;
    if (width > 0) {
      bar.appendChild(el("span", { style: `left:${left}%;width:${width}%;background:${COLOURS[phase]}` }));
    }
    left += width;
  }
  return bar;
}

function renderSummary(s) {
  const live = s.workers.filter((w) => w.state === "running").length;
  let rate = "";
  if (previous && s.now > previous.now) {
    rate = ` · ${Math.round((s.finished_total - previous.finished_total) / (s.now - previous.now))} tasks/s`;
  }
  const t = s.totals;
  $("summary").textContent = `${live} workers · ${t.waiting} waiting · ${t.processing} running · ` +
    `${t.memory} in memory · ${t.erred} failed · ${s.finished_total} finished${rate}`;
}

function renderProgress(s) {
  const box = $("progress");
  box.replaceChildren();
  for (const f of s.functions.slice(0, 30)) {
    const row = el("div", { class: "fn", "data-function": f.function });
    row.appendChild(el("span", { class: "name", title: f.function }, f.function.split("::").pop()));
    row.appendChild(stackedBar(f.counts));
    const done = f.counts.memory + f.counts.released;
    const all = PHASES.reduce((sum, p) => sum + f.counts[p], 0);
    row.appendChild(el("span", { class: "count" }, `${done} / ${all}`));
    box.appendChild(row);
  }
}

function renderWorkers(s) {
  const body = $("workers").querySelector("tbody");
  body.replaceChildren();
  for (const w of s.workers) {
    const row = el("tr", { "data-worker": w.name });
    row.appendChild(el("td", { title: w.addr }, w.name));
    row.appendChild(el("td", { class: w.state === "running" ? "" : "dead" }, w.state));
    row.appendChild(el("td", {}, String(w.nthreads)));
    row.appendChild(el("td", {}, String(w.processing)));
    const cell = el("td");
    const bar = el("div", { class: "bar" });
    const limit = w.memory_limit || w.memory_used || 1;
    const used = Math.min(100, (100 * w.memory_used) / limit);
    bar.appendChild(el("span", { style: `left:0;width:${used}%;background:${used > 80 ? COLOURS.erred : COLOURS.processing}` }));
    bar.appendChild(el("em", {}, `${bytes(w.memory_used)} / ${w.memory_limit ? bytes(w.memory_limit) : "no limit"}`));
    cell.appendChild(bar);
    row.appendChild(cell);
    row.appendChild(el("td", {}, bytes(w.stored_bytes)));
    row.appendChild(el("td", {}, bytes(w.spilled_bytes)));
    row.appendChild(el("td", {}, bytes(w.peer_bytes_in)));
    body.appendChild(row);
  }
}

function renderStream(s) {
  const canvas = $("stream");
  const width = canvas.clientWidth || 800;
  canvas.width = width * devicePixelRatio;
  const workers = s.workers.map((w) => w.id);
  const rows = Math.max(1, workers.length);
  const rowHeight = Math.max(12, Math.min(40, 150 / rows));
  canvas.height = rows * rowHeight * devicePixelRatio;
  canvas.style.height = rows * rowHeight + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(devicePixelRatio, devicePixelRatio);
  ctx.clearRect(0, 0, width, rows * rowHeight);
  const windowSeconds = 10;
  const start = s.now - windowSeconds;
  for (const span of s.stream) {
    if (span.stop < start) continue;
    const row = workers.indexOf(span.worker);
    if (row < 0) continue;
    const x = ((Math.max(span.start, start) - start) / windowSeconds) * width;
    const w = Math.max(1, ((span.stop - Math.max(span.start, start)) / windowSeconds) * width);
    ctx.fillStyle = span.erred ? COLOURS.erred : colourOf(span.function);
    ctx.fillRect(x, row * rowHeight + 2, w, rowHeight - 4);
  }
  canvas.dataset.spans = String(s.stream.length);
}

function renderGraph(s) {
  const svg = $("graph");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const depth = {};
  const byName = Object.fromEntries(s.layers.map((l) => [l.name, l]));
  const depthOf = (name, seen) => {
    if (depth[name] !== undefined) return depth[name];
    if (seen.has(name)) return 0;
    seen.add(name);
    const inputs = (byName[name] || { inputs: [] }).inputs;
    depth[name] = inputs.length ? 1 + Math.max(...inputs.map((i) => depthOf(i, seen))) : 0;
    return depth[name];
  };
  const columns = [];
  for (const layer of s.layers.slice(0, 60)) {
    const d = depthOf(layer.name, new Set());
    (columns[d] = columns[d] || []).push(layer);
  }
  const boxW = 130, boxH = 26, gapX = 40, gapY = 8;
  const height = Math.max(...columns.map((c) => (c ? c.length : 0)), 1) * (boxH + gapY);
  svg.setAttribute("height", height);
  const position = {};
  columns.forEach((column, d) => (column || []).forEach((layer, i) => {
    position[layer.name] = { x: d * (boxW + gapX), y: i * (boxH + gapY) };
  }));
  for (const layer of s.layers) {
    for (const input of layer.inputs) {
      const a = position[input], b = position[layer.name];
      if (!a || !b) continue;
      const line = document.createElementNS(ns, "line");
      line.setAttribute("x1", a.x + boxW); line.setAttribute("y1", a.y + boxH / 2);
      line.setAttribute("x2", b.x); line.setAttribute("y2", b.y + boxH / 2);
      line.setAttribute("stroke", "#a0aec0");
      svg.appendChild(line);
    }
  }
  for (const layer of s.layers) {
    const p = position[layer.name];
    if (!p) continue;
    const total = PHASES.reduce((sum, ph) => sum + layer.counts[ph], 0) || 1;
    let x = p.x;
    for (const phase of PHASES) {
      const w = (boxW * layer.counts[phase]) / total;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", p.y); rect.setAttribute("width", w); rect.setAttribute("height", boxH);
      rect.setAttribute("fill", COLOURS[phase]);
      svg.appendChild(rect);
      x += w;
    }
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", p.x + 4); text.setAttribute("y", p.y + 17); text.setAttribute("font-size", "12");
    text.textContent = `${layer.name} (${total})`;
    svg.appendChild(text);
  }
}

function renderEvents(s) {
  const list = $("events");
  list.replaceChildren();
  for (const event of s.events.slice().reverse()) {
    list.appendChild(el("li", {}, `${event.at.toFixed(1)}s  ${event.text}`));
  }
}

function treeItem(node) {
  const item = el("li", { "data-node": node.name, "data-restarts": String(node.restarts) });
  item.appendChild(el("span", { class: "name" }, node.name));
  const ok = node.status === "running";
  item.appendChild(el("span", { class: ok ? "status" : "status bad" }, " " + node.status));
  if (node.restarts > 0) item.appendChild(el("span", { class: "restarts" }, ` ↻${node.restarts}`));
  if (node.last_exit) item.appendChild(el("span", { class: "exit" }, ` (last exit: ${node.last_exit})`));
  if (node.children.length) {
    const list = el("ul");
    for (const child of node.children) list.appendChild(treeItem(child));
    item.appendChild(list);
  }
  return item;
}

function renderTree(s) {
  $("tree").replaceChildren(...(s.tree || []).map(treeItem));
}

function render(snapshot) {
  renderSummary(snapshot);
  renderProgress(snapshot);
  renderWorkers(snapshot);
  renderStream(snapshot);
  renderGraph(snapshot);
  renderEvents(snapshot);
  renderTree(snapshot);
  previous = snapshot;
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

function poll() {
  fetch("/api/snapshot").then((r) => r.json()).then((s) => {
    $("connection").textContent = "polling";
    render(s);
  }).catch(() => {}).finally(() => setTimeout(poll, 1000));
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("snapshot", (e) => {
    $("connection").textContent = "live";
    $("connection").className = "connection live";
    render(JSON.parse(e.data));
  });
  source.onerror = () => {
    $("connection").textContent = "reconnecting";
    $("connection").className = "connection";
  };
}

// `?poll` asks for polling instead of a live feed (headless browsers that wait for the
// network to go quiet never would with a feed open).
const polling = !window.EventSource || new URLSearchParams(location.search).has("poll");
if (polling) poll(); else { fetch("/api/snapshot").then((r) => r.json()).then(render).catch(() => {}); connect(); }
