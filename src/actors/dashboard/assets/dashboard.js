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
  const live = s.workers.filter((w) => w.state === "running" || w.state === "paused").length;
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

const KIND_COLOURS = { transfer: "#e53e3e", spill: "#dd6b20", unspill: "#b7791f" };
const ERRED_COLOUR = "#1a202c";

function rate(n) {
  return bytes(Math.round(n)) + "/s";
}

// Memory against the limit: managed (values in memory), then unmanaged (the rest of the
// process); spilled bytes are on disk and named in the label.
function memoryBar(w) {
  const limit = w.memory_limit || Math.max(w.memory_used, 1);
  const bar = el("div", { class: "bar memory" });
  const managed = Math.min(100, (100 * w.managed_bytes) / limit);
  const unmanaged = Math.min(100 - managed, (100 * w.unmanaged_bytes) / limit);
  const hot = w.memory_limit && w.memory_used > 0.8 * w.memory_limit;
  bar.appendChild(el("span", { class: "managed", style: `left:0;width:${managed}%;background:${hot ? COLOURS.erred : COLOURS.processing}` }));
  bar.appendChild(el("span", { class: "unmanaged", style: `left:${managed}%;width:${unmanaged}%;background:#90cdf4` }));
  const spilled = w.spilled_bytes ? ` + ${bytes(w.spilled_bytes)} spilled` : "";
  bar.appendChild(el("em", {}, `${bytes(w.memory_used)} / ${w.memory_limit ? bytes(w.memory_limit) : "no limit"}${spilled}`));
  bar.title = `managed ${bytes(w.managed_bytes)} · unmanaged ${bytes(w.unmanaged_bytes)} · spilled ${bytes(w.spilled_bytes)}`;
  return bar;
}

function renderWorkers(s) {
  const body = $("workers").querySelector("tbody");
  body.replaceChildren();
  for (const w of s.workers) {
    const row = el("tr", { "data-worker": w.name, "data-state": w.state.split(":")[0] });
    const live = w.state === "running" || w.state === "paused";
    row.appendChild(el("td", { title: w.addr }, w.name));
    row.appendChild(el("td", { class: live ? (w.state === "paused" ? "paused" : "") : "dead", title: w.state }, w.state));
    row.appendChild(el("td", {}, String(w.nthreads)));
    row.appendChild(el("td", {}, String(w.processing)));
    row.appendChild(el("td", { "data-cpu": String(Math.round(w.cpu_percent)) }, `${Math.round(w.cpu_percent)}%`));
    const cell = el("td");
    cell.appendChild(memoryBar(w));
    row.appendChild(cell);
    row.appendChild(el("td", { title: `${bytes(w.peer_bytes_in)} in total` }, rate(w.bytes_in_per_second)));
    row.appendChild(el("td", { title: `${bytes(w.bytes_out)} in total` }, rate(w.bytes_out_per_second)));
    body.appendChild(row);
  }
}

// One row per task thread of each live worker, then the worker's lane of transfers and
// spills; the last ten seconds, newest on the right.
function streamRows(s) {
  const rows = [];
  for (const w of s.workers) {
    if (!(w.state === "running" || w.state === "paused")) continue;
    for (let t = 0; t < w.nthreads; t += 1) rows.push({ worker: w.id, thread: t, label: `${w.name} #${t}` });
    rows.push({ worker: w.id, thread: null, label: `${w.name} ⇄`, io: true });
  }
  return rows;
}

function renderStream(s) {
  const canvas = $("stream");
  const width = canvas.clientWidth || 800;
  const rows = streamRows(s);
  const index = new Map(rows.map((r, i) => [`${r.worker}/${r.thread}`, i]));
  const rowHeight = Math.max(10, Math.min(28, 240 / Math.max(1, rows.length)));
  const labelWidth = 90;
  const height = Math.max(1, rows.length) * rowHeight;
  canvas.width = width * devicePixelRatio;
  canvas.height = height * devicePixelRatio;
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(devicePixelRatio, devicePixelRatio);
  ctx.clearRect(0, 0, width, height);
  ctx.font = `${Math.min(11, rowHeight - 2)}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  rows.forEach((r, i) => {
    ctx.fillStyle = r.io ? "#fff5f5" : (i % 2 ? "#f7fafc" : "#fff");
    ctx.fillRect(labelWidth, i * rowHeight, width - labelWidth, rowHeight);
    ctx.fillStyle = "#4a5568";
    ctx.fillText(r.label, 2, i * rowHeight + rowHeight / 2, labelWidth - 4);
  });
  const plot = width - labelWidth;
  const windowSeconds = 10;
  const start = s.now - windowSeconds;
  let drawn = 0;
  const kinds = {};
  for (const span of s.stream) {
    if (span.stop < start) continue;
    const row = index.get(`${span.worker}/${span.thread === null ? null : span.thread}`);
    if (row === undefined) continue;
    const x = labelWidth + ((Math.max(span.start, start) - start) / windowSeconds) * plot;
    const w = Math.max(1, ((span.stop - Math.max(span.start, start)) / windowSeconds) * plot);
    ctx.fillStyle = span.kind === "compute" ? (span.erred ? ERRED_COLOUR : colourOf(span.function)) : KIND_COLOURS[span.kind];
    ctx.fillRect(x, row * rowHeight + 1, w, rowHeight - 2);
    drawn += 1;
    kinds[span.kind] = (kinds[span.kind] || 0) + 1;
  }
  canvas.dataset.spans = String(s.stream.length);
  canvas.dataset.drawn = String(drawn);
  canvas.dataset.rows = String(rows.length);
  canvas.dataset.transfers = String(kinds.transfer || 0);
  canvas.dataset.spills = String((kinds.spill || 0) + (kinds.unspill || 0));
  renderStreamLegend(s);
}

function renderStreamLegend(s) {
  const names = [...new Set(s.stream.filter((x) => x.kind === "compute").map((x) => x.function))].slice(0, 12);
  const legend = $("stream-legend");
  legend.replaceChildren();
  for (const name of names) {
    const item = el("span", { class: "swatch" }, name.split("::").pop());
    item.style.setProperty("--swatch", colourOf(name));
    legend.appendChild(item);
  }
  for (const [kind, colour] of Object.entries(KIND_COLOURS)) {
    const item = el("span", { class: "swatch" }, kind);
    item.style.setProperty("--swatch", colour);
    legend.appendChild(item);
  }
  const failed = el("span", { class: "swatch" }, "failed");
  failed.style.setProperty("--swatch", ERRED_COLOUR);
  legend.appendChild(failed);
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
    // A name too long for its box is cut, keeping the count (the whole label shows on
    // hover), so neighbouring columns never overlap.
    const label = `${layer.name} (${total})`;
    const count = ` (${total})`;
    const room = Math.max(Math.floor((boxW - 8) / 7) - count.length, 4);
    const name = layer.name.length > room ? layer.name.slice(0, room - 1) + "\u2026" : layer.name;
    text.textContent = name + count;
    const title = document.createElementNS(ns, "title");
    title.textContent = label;
    text.appendChild(title);
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
  // A status may carry details after the word ("running (id w1, pid 42)").
  const ok = node.status === "running" || node.status.startsWith("running ");
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
