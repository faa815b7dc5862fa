// pyruntime panel: vanilla ES module, no build step, no network beyond this origin.
const $ = (id) => document.getElementById(id);
const P = (window.__panel = { seq: 0, framesRendered: 0, lastError: null, state: null, events: 0,
  dropped: 0, thinned: 0, gaps: 0, lastEvent: null, control: false, edges: {} });

async function api(path, method = "GET", body) {
  const opt = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) { opt.body = JSON.stringify(body); opt.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, opt);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.status + "");
  return j;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
const SVGNS = "http://www.w3.org/2000/svg";
function sv(tag, attrs = {}, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---------------------------------------------------------------- board
function gchip(goid, status) { return el("span", { class: "g " + status, "data-g": goid, title: "G" + goid + " " + status }, "G" + goid); }

function renderBoard(st) {
  const statusOf = {};
  for (const g of st.goroutines) statusOf[g.goid] = g.status;
  const held = new Set((st.panel.held || []).map((h) => h.p));
  const board = $("board");
  board.replaceChildren();
  for (const p of st.ps) {
    const parked = st.paused && (held.has(p.id) || p.status === "idle" || p.status === "dead");
    const card = el("div", { class: "pcard " + p.status + (held.has(p.id) ? " held" : ""), "data-testid": "p-" + p.id,
      "data-status": p.status, "data-parked": parked ? "1" : "0" });
    const head = el("div", { class: "ph" });
    head.append(el("span", {}, "P" + p.id), el("span", { class: "pst", "data-testid": "p-" + p.id + "-status" },
      (parked ? (held.has(p.id) ? "parked (held at a transition)" : "parked (idle)") : (held.has(p.id) ? "held · " : "") + p.status) +
      " · M" + p.m + " · tick " + p.schedtick));
    card.append(head);
    const run = el("div", { class: "slot" }, "running: ");
    run.append(p.curg != null ? gchip(p.curg, "running") : el("span", {}, "—"));
    run.setAttribute("data-testid", "p-" + p.id + "-curg");
    const rn = el("div", { class: "slot", "data-testid": "p-" + p.id + "-runnext" }, "runnext: ");
    rn.append(p.runnext != null ? gchip(p.runnext, "runnable") : el("span", {}, "—"));
    const rq = el("div", { class: "slot", "data-testid": "p-" + p.id + "-runq" }, "runq (" + p.runq.length + "): ");
    for (const g of p.runq.slice(0, 40)) rq.append(gchip(g, statusOf[g] || "runnable"));
    if (p.runq.length > 40) rq.append(el("span", {}, " +" + (p.runq.length - 40)));
    card.append(run, rn, rq);
    board.append(card);
  }
  const grq = $("grq"); grq.replaceChildren();
  grq.append(el("span", {}, "(" + st.global_runq.length + ") "));
  for (const g of st.global_runq.slice(0, 60)) grq.append(gchip(g, "runnable"));
  const ms = $("ms"); ms.replaceChildren();
  for (const m of st.ms) {
    const cls = "mchip" + (m.syscall ? " sys" : "") + (m.blocked ? " blocked" : "");
    const what = m.syscall ? "syscall G" + m.curg : m.blocked ? "blocked (G" + m.curg + ")" : (m.p != null ? "P" + m.p : "idle");
    ms.append(el("span", { class: cls, "data-testid": "m-" + m.id, title: "tid " + m.tid }, "M" + m.id + " " + what));
  }
  const hit = $("bp-hit");
  if (st.breakpoint) {
    hit.classList.remove("hidden");
    const b = st.breakpoint;
    hit.textContent = "breakpoint " + b.id + " hit: G" + b.goid + " " + b.from + " → " + b.to +
      (b.reason ? " (" + b.reason + ")" : "") + "\n" + (b.stack || []).join("\n");
  } else hit.classList.add("hidden");
}

// ---------------------------------------------------------------- state graph
const NODES = { new: [50, 36], runnable: [230, 36], running: [230, 150], waiting: [405, 150], syscall: [55, 150], dead: [230, 235] };
const EDGES = [["new", "runnable"], ["runnable", "running"], ["running", "runnable"], ["running", "waiting"],
  ["waiting", "runnable"], ["running", "syscall"], ["syscall", "runnable"], ["running", "dead"]];
const bpEdges = new Set();

let graphBuilt = false;
const edgeEls = {};
function drawGraph() {
  // Built once; each poll only updates the counts and the breakpoint marks (a node that is
  // replaced under the pointer would swallow a click).
  const g = $("graph");
  if (!graphBuilt) {
    for (const [a, b] of EDGES) {
      const [x1, y1] = NODES[a], [x2, y2] = NODES[b];
      const back = EDGES.some(([c, d]) => c === b && d === a);
      const off = back ? (a < b ? 14 : -14) : 0;
      const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
      const nx = -dy / len * off, ny = dx / len * off;
      const key = a + ">" + b;
      const line = sv("line", { class: "edge", x1: x1 + nx, y1: y1 + ny, x2: x2 + nx, y2: y2 + ny });
      // the click target: a transparent band 12 px wide along the edge
      const ux = -dy / len * 6, uy = dx / len * 6, ax = x1 + nx, ay = y1 + ny, bx = x2 + nx, by = y2 + ny;
      const hit = sv("polygon", { class: "hit", points: [[ax + ux, ay + uy], [bx + ux, by + uy], [bx - ux, by - uy], [ax - ux, ay - uy]].map((q) => q.join(",")).join(" "),
        "data-testid": "edge-" + a + "-" + b, "data-edge": key });
      hit.addEventListener("click", () => breakOn(a, b));
      const lx = (x1 + x2) / 2 + nx * 2.6, ly = (y1 + y2) / 2 + ny * 2.6 + (dy === 0 ? -6 : 3);
      const t = sv("text", { class: "cnt", x: lx, y: ly, "text-anchor": "middle", "data-testid": "count-" + a + "-" + b }, "0");
      t.addEventListener("click", () => breakOn(a, b));
      g.append(line, hit, t);
      edgeEls[key] = { line, t };
    }
    for (const [n, [x, y]] of Object.entries(NODES)) {
      const grp = sv("g", { class: "node", "data-testid": "node-" + n });
      grp.append(sv("rect", { x: x - 36, y: y - 12, width: 72, height: 24, rx: 5 }), sv("text", { x: x, y: y + 4, "text-anchor": "middle" }, n));
      g.append(grp);
    }
    graphBuilt = true;
  }
  for (const [key, { line, t }] of Object.entries(edgeEls)) {
    const txt = String(P.edges[key] || 0);
    if (t.textContent !== txt) t.textContent = txt;
    line.classList.toggle("bp", bpEdges.has(key));
  }
}

async function breakOn(from, to) {
  if (!P.control) { say("read-only panel: start it with --panel-control to set breakpoints"); return; }
  try {
    const r = await api("/api/breakpoints", "POST", { from, to, suspend: "all" });
    bpEdges.add(from + ">" + to);
    say("breakpoint " + r.id + " on " + from + " → " + to + " (pauses everything)");
    refreshBps();
  } catch (e) { say("breakpoint failed: " + e.message); }
}

async function refreshBps() {
  try {
    const r = await api("/api/breakpoints");
    const box = $("bps"); box.replaceChildren();
    bpEdges.clear();
    for (const b of r.breakpoints) {
      bpEdges.add((b.from || "*") + ">" + b.to);
      const s = el("span", { "data-testid": "bp-" + b.id }, "#" + b.id + " " + (b.from || "*") + "→" + b.to + " [" + b.suspend + "] hits " + b.hits + " ");
      const x = el("button", {}, "×");
      x.addEventListener("click", async () => { await api("/api/breakpoints/" + b.id, "DELETE").catch(() => {}); refreshBps(); });
      s.append(x); box.append(s);
    }
  } catch (e) { /* read-only or stopped */ }
}

// ---------------------------------------------------------------- timelines (from the event stream)
const WINDOW_NS = 10e9;
const spans = [];        // {p, g, t0, t1}
const open = new Map();  // p -> {g, t0}
let tNow = 0;
function onEvent(ev) {
  P.events++; P.lastEvent = ev; P.seq = Math.max(P.seq, ev.seq || 0);
  tNow = Math.max(tNow, ev.t_ns || 0);
  if (ev.p == null) return;
  const cur = open.get(ev.p);
  if (ev.kind === "GoStart") {
    if (cur) spans.push({ p: ev.p, g: cur.g, t0: cur.t0, t1: ev.t_ns });
    open.set(ev.p, { g: ev.g, t0: ev.t_ns });
  } else if ((ev.kind === "GoBlock" || ev.kind === "GoStop" || ev.kind === "GoDestroy" || ev.kind === "GoSyscallBegin") && cur && cur.g === ev.g) {
    spans.push({ p: ev.p, g: cur.g, t0: cur.t0, t1: ev.t_ns });
    open.delete(ev.p);
  }
  if (spans.length > 20000) spans.splice(0, spans.length - 20000);
}
function color(g) { return "hsl(" + ((g * 47) % 360) + ",65%,55%)"; }
function drawTimeline() {
  const c = $("timeline"), x = c.getContext("2d");
  const st = P.state; const np = st ? st.ps.length : 1;
  x.fillStyle = "#0b0f14"; x.fillRect(0, 0, c.width, c.height);
  const lane = Math.max(8, Math.floor((c.height - 10) / Math.max(np, 1)));
  const t1 = tNow, t0 = t1 - WINDOW_NS, W = c.width - 30;
  x.fillStyle = "#8a96a3"; x.font = "10px sans-serif";
  for (let i = 0; i < np; i++) x.fillText("P" + i, 2, 10 + i * lane + lane / 2);
  const draw = (p, g, a, b) => {
    if (b < t0) return;
    const xa = 30 + Math.max(0, (a - t0) / WINDOW_NS * W), xb = 30 + (b - t0) / WINDOW_NS * W;
    x.fillStyle = color(g); x.fillRect(xa, 5 + p * lane, Math.max(1, xb - xa), lane - 3);
  };
  for (const s of spans) draw(s.p, s.g, s.t0, s.t1);
  for (const [p, o] of open) draw(p, o.g, o.t0, t1);
}

// ---------------------------------------------------------------- heatmaps (metrics histograms, per second)
const heat = { sched: { prev: null, cols: [] }, sys: { prev: null, cols: [] } };
function pushHist(h, key) {
  if (!h || !h.counts) return;
  const H = heat[key];
  if (H.prev && H.prev.length === h.counts.length) {
    H.cols.push(h.counts.map((c, i) => Math.max(0, c - H.prev[i])));
    if (H.cols.length > 120) H.cols.shift();
  }
  H.prev = h.counts.slice();
  H.buckets = h.buckets;
}
function quantile(col, buckets, q) {
  const tot = col.reduce((a, b) => a + b, 0); if (!tot) return null;
  let acc = 0;
  for (let i = 0; i < col.length; i++) { acc += col[i]; if (acc >= q * tot) return buckets[i + 1] ?? buckets[i]; }
  return null;
}
function fmt(s) { if (s == null || typeof s !== "number") return "—"; if (s < 1e-6) return (s * 1e9).toFixed(0) + " ns"; if (s < 1e-3) return (s * 1e6).toFixed(1) + " µs"; if (s < 1) return (s * 1e3).toFixed(2) + " ms"; return s.toFixed(2) + " s"; }
function drawHeat(key, canvasId, qid) {
  const c = $(canvasId), x = c.getContext("2d"), H = heat[key];
  x.fillStyle = "#0b0f14"; x.fillRect(0, 0, c.width, c.height);
  if (!H.cols.length) return;
  // show buckets from 64 ns to ~10 s: fold Go's 4 sub-buckets per power of two into rows
  const n = H.cols[0].length, rows = Math.ceil(n / 4);
  const cw = c.width / 120, rh = c.height / rows;
  let max = 1;
  for (const col of H.cols) for (const v of col) if (v > max) max = v;
  H.cols.forEach((col, ci) => {
    for (let r = 0; r < rows; r++) {
      let v = 0; for (let k = 0; k < 4; k++) v += col[r * 4 + k] || 0;
      if (!v) continue;
      const a = Math.min(1, 0.15 + Math.log1p(v) / Math.log1p(max));
      x.fillStyle = "rgba(79,179,255," + a.toFixed(3) + ")";
      x.fillRect(ci * cw, c.height - (r + 1) * rh, Math.ceil(cw), Math.ceil(rh));
    }
  });
  const last = H.cols[H.cols.length - 1];
  $(qid).textContent = "last second: " + last.reduce((a, b) => a + b, 0) + " samples, p50 " + fmt(quantile(last, H.buckets, 0.5)) + ", p99 " + fmt(quantile(last, H.buckets, 0.99));
}

// ---------------------------------------------------------------- goroutine table
function renderTable(st) {
  const tb = $("gtable").querySelector("tbody"); tb.replaceChildren();
  const now = Date.now() / 1000, leakS = Number($("in-leak").value || 5), only = $("only-leaks").checked;
  let n = 0, leaks = 0;
  for (const g of st.goroutines) {
    const blocked = g.wait_since ? now - g.wait_since : null;
    const leak = g.status === "waiting" && blocked != null && blocked >= leakS;
    if (leak) leaks++;
    if (only && !leak) continue;
    if (n++ > 500) break;
    const L = g.leak;
    const dead = L && L.wakers && L.wakers.length === 0 && L.on;
    const tr = el("tr", { class: dead ? "leak" : leak ? "suspect" : "", "data-testid": "g-" + g.goid, "data-status": g.status,
      "data-leak": dead ? "1" : "0" });
    const wake = L ? (L.on ? L.on + " — " : "") + (dead ? "nobody can wake it: leaked" : L.wakers && L.wakers.length ? "could be woken by " + L.wakers.map((w) => typeof w === "number" ? "G" + w : w).join(", ") : L.verdict) : "";
    for (const v of [g.goid, g.status, g.wait_reason || "", blocked != null ? fmt(blocked) : "", g.home_p ?? "", g.created_by || "", g.fn, g.created_at || "", wake]) tr.append(el("td", {}, String(v)));
    tb.append(tr);
  }
  const dead = st.goroutines.filter((g) => g.leak && g.leak.on && g.leak.wakers && g.leak.wakers.length === 0).length;
  $("gcount").textContent = st.goroutines.length + " goroutines, " + leaks + " blocked ≥ " + leakS + " s, " + dead + " leaked (nothing can wake them)";
}

// ---------------------------------------------------------------- loop
function say(s) { $("ctl-result").textContent = s; }
let tick = 0;
async function poll() {
  try {
    const withMetrics = tick++ % 3 === 0;
    const leakS = Number($("in-leak").value || 5);
    const st = await api("/api/state?leak=" + leakS + (withMetrics ? "" : "&metrics=0"));
    if (!withMetrics && P.state) st.metrics = P.state.metrics;
    else if (withMetrics) { pushHist(st.metrics["/sched/latencies:seconds"], "sched"); pushHist(st.metrics["/sched/syscall/latencies:seconds"], "sys"); }
    P.state = st; P.control = st.panel.control; P.edges = st.panel.edges || {};
    P.seq = Math.max(P.seq, st.seq);
    const s = $("status");
    s.textContent = !st.running ? "no runtime running" : st.paused ? "PAUSED" + (st.breakpoint ? " at breakpoint " + st.breakpoint.id : "") : "running · GOMAXPROCS " + st.gomaxprocs;
    s.className = "status" + (st.paused ? " paused" : "") + (!st.running ? " stopped" : "");
    s.setAttribute("data-paused", st.paused ? "1" : "0");
    const dropped = P.dropped + (st.panel.dropped || 0);
    const d = $("dropped");
    if (dropped || P.thinned) {
      d.textContent = (dropped ? dropped + " events dropped" : "") + (dropped && P.thinned ? " · " : "") +
        (P.thinned ? P.thinned + " not streamed (view limited to 2000 events/s; counts and histograms are exact)" : "");
      d.classList.remove("hidden"); d.classList.toggle("bad", dropped > 0);
    }
    for (const id of ["btn-pause", "btn-resume", "btn-step", "btn-procs", "btn-stw", "btn-gc"]) $(id).disabled = !st.panel.control;
    if (document.activeElement !== $("in-procs")) $("in-procs").value = st.gomaxprocs || 1;
    renderBoard(st); drawGraph(); renderTable(st);
    P.lastError = null;
  } catch (e) { P.lastError = String(e); $("status").textContent = "panel unreachable: " + e.message; }
  setTimeout(poll, 300);
}
function frame() {
  try { drawTimeline(); drawHeat("sched", "heat-sched", "q-sched"); drawHeat("sys", "heat-sys", "q-sys"); P.framesRendered++; }
  catch (e) { P.lastError = String(e); }
  requestAnimationFrame(frame);
}
function stream() {
  const es = new EventSource("/api/events?max_rate=2000");
  es.onopen = () => { $("conn").textContent = "stream: live"; };
  es.onerror = () => { $("conn").textContent = "stream: reconnecting"; };
  es.onmessage = (m) => {
    try {
      const ev = JSON.parse(m.data);
      if (ev.kind === "gap") { if (ev.reason === "rate") P.thinned += ev.dropped; else P.dropped += ev.dropped; P.gaps++; return; }
      onEvent(ev);
    } catch (e) { P.lastError = String(e); }
  };
}
function bind(id, f) { $(id).addEventListener("click", async () => { try { say(await f()); } catch (e) { say("failed: " + e.message); } }); }
bind("btn-pause", async () => { const r = await api("/api/pause", "POST", {}); return "paused: " + r.ps_parked + "/" + r.ps_total + " Ps parked in " + r.reached_in_ms + " ms; " + r.ms_in_syscall + " Ms in syscall (not stopped)"; });
bind("btn-resume", async () => { await api("/api/resume", "POST", {}); return "resumed"; });
bind("btn-step", async () => { const r = await api("/api/step", "POST", {}); return r.stepped ? "stepped: " + r.event.kind + " G" + r.event.g + (r.event.p != null ? " on P" + r.event.p : "") : "no step: " + r.note; });
bind("btn-procs", async () => { const r = await api("/api/gomaxprocs", "POST", { n: Number($("in-procs").value) }); return "GOMAXPROCS " + r.previous + " → " + r.gomaxprocs; });
bind("btn-stw", async () => { const r = await api("/api/stw", "POST", { ms: Number($("in-stw").value) }); return "stop-the-world: asked " + r.requested_ms + " ms, measured pause " + r.pause_ms + " ms (stopping " + r.stopping_ms + " ms)"; });
bind("btn-gc", async () => { const r = await api("/api/gc", "POST", {}); return "gc: " + r.collected + " objects in " + r.ms + " ms"; });
drawGraph(); refreshBps(); setInterval(refreshBps, 2000); poll(); stream(); requestAnimationFrame(frame);
