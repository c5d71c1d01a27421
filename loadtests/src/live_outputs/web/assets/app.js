// Skein's live dashboard: one snapshot from /api/stats, then one server-sent event per
// second from /api/events. Charts are drawn on canvases by hand (no library, no network);
// what each chart drew is kept in window.skein.drawn for the browser test and for scripts.
"use strict";

const MAX_POINTS = 720; // the server's bound (history.rs); pairs merge when full
const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => (token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path);
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const $ = (id) => document.getElementById(id);

const skein = (window.skein = { points: [], drawn: {}, stats: null, events: 0 });
let sort = { key: "requests", dir: -1 };

// ---------- formatting ----------
const fmtInt = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
const fmtNum = (v, d = 1) => (v == null ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 }));
const fmtMs = (v) => (v == null ? "–" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US"));
const fmtDur = (s) => {
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}h ` : "") + (h || m ? `${m}m ` : "") + `${r}s`;
};
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// ---------- history (same merge rule as history.rs) ----------
function merge(a, b) {
  const wa = a.n, wb = b.n, avg = (x, y) => (x * wa + y * wb) / (wa + wb);
  const opt = (x, y) => (x != null && y != null ? avg(x, y) : x != null ? x : y);
  const out = { t: a.t, n: a.n + b.n };
  for (const k of ["rps", "fps", "users", "dropped", "cpu_pct"]) out[k] = avg(a[k], b[k]);
  for (const k of ["p50", "p95", "p99", "ip50", "ip95", "ip99", "rate", "ttfc_p95", "tcpu_pct"]) out[k] = opt(a[k], b[k]);
  out.rss_mb = Math.max(a.rss_mb, b.rss_mb);
  out.trss_mb = a.trss_mb != null && b.trss_mb != null ? Math.max(a.trss_mb, b.trss_mb) : a.trss_mb != null ? a.trss_mb : b.trss_mb;
  return out;
}
function addPoints(points) {
  for (const p of points) {
    const last = skein.points[skein.points.length - 1];
    if (last && p.t <= last.t) continue;
    skein.points.push(p);
    if (skein.points.length >= MAX_POINTS) {
      const merged = [];
      for (let i = 0; i < skein.points.length; i += 2) {
        merged.push(i + 1 < skein.points.length ? merge(skein.points[i], skein.points[i + 1]) : skein.points[i]);
      }
      skein.points = merged;
    }
  }
}

// ---------- charts ----------
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
// series: [{label, color, dash, key, axis: "left"|"right"}]
function drawChart(id, series, rightLabel) {
  const canvas = $(id);
  if (!canvas || canvas.offsetParent === null) return;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w * dpr || canvas.height !== h * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 48, r: rightLabel ? 48 : 12, t: 22, b: 22 };
  const pts = skein.points;
  const t0 = pts.length ? pts[0].t : 0;
  const t1 = pts.length ? Math.max(pts[pts.length - 1].t + pts[pts.length - 1].n, t0 + 10) : 10;
  const max = { left: 0, right: 0 };
  for (const s of series) for (const p of pts) { const v = p[s.key]; if (v != null) max[s.axis || "left"] = Math.max(max[s.axis || "left"], v); }
  const top = { left: niceMax(max.left * 1.08), right: niceMax(max.right * 1.08) };
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (w - pad.l - pad.r);
  const y = (v, axis) => h - pad.b - (v / top[axis || "left"]) * (h - pad.t - pad.b);
  // grid and axes
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = "#eceef3"; ctx.fillStyle = "#6b7385"; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const gy = pad.t + (i / 4) * (h - pad.t - pad.b);
    ctx.beginPath(); ctx.moveTo(pad.l, gy); ctx.lineTo(w - pad.r, gy); ctx.stroke();
    ctx.textAlign = "right"; ctx.fillText(fmtNum(top.left * (1 - i / 4), 2), pad.l - 6, gy + 4);
    if (rightLabel) { ctx.textAlign = "left"; ctx.fillText(fmtNum(top.right * (1 - i / 4), 1), w - pad.r + 6, gy + 4); }
  }
  ctx.textAlign = "center";
  for (let i = 0; i <= 5; i++) { const t = t0 + (i / 5) * (t1 - t0); ctx.fillText(fmtDur(t), x(t), h - 6); }
  // legend
  let lx = pad.l;
  ctx.textAlign = "left";
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.setLineDash(s.dash ? [5, 4] : []);
    ctx.beginPath(); ctx.moveTo(lx, 10); ctx.lineTo(lx + 16, 10); ctx.stroke();
    ctx.setLineDash([]); ctx.fillStyle = "#3b4252"; ctx.fillText(s.label, lx + 20, 14);
    lx += 28 + ctx.measureText(s.label).width;
  }
  // lines
  const drawn = [];
  for (const s of series) {
    const line = [];
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.8; ctx.setLineDash(s.dash ? [5, 4] : []);
    ctx.beginPath();
    let open = false;
    for (const p of pts) {
      const v = p[s.key];
      if (v == null) { open = false; continue; }
      const px = x(p.t + p.n / 2), py = y(v, s.axis);
      line.push({ t: p.t, v, x: px, y: py });
      if (open) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      open = true;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    drawn.push({ label: s.label, key: s.key, points: line });
  }
  skein.drawn[id] = drawn;
}

function drawAll() {
  const s = skein.stats || {};
  const open = s.load_model === "open";
  drawChart("c-rps", [
    { label: "req/s", key: "rps", color: "#2f6fdf" },
    { label: "failures/s", key: "fps", color: "#d64541" },
  ]);
  drawChart("c-lat", [
    { label: "p50", key: "p50", color: "#1f9d6a" },
    { label: "p95", key: "p95", color: "#d08a12" },
    { label: "p99", key: "p99", color: "#d64541" },
    { label: "intended p50", key: "ip50", color: "#1f9d6a", dash: true },
    { label: "intended p95", key: "ip95", color: "#d08a12", dash: true },
    { label: "intended p99", key: "ip99", color: "#d64541", dash: true },
  ]);
  $("c-load-title").textContent = open ? "Arrival rate (planned, /s), in flight, dropped arrivals/s" : "Users";
  drawChart("c-load", open
    ? [{ label: "planned rate", key: "rate", color: "#7b53c9" }, { label: "in flight", key: "users", color: "#2f6fdf" }, { label: "dropped/s", key: "dropped", color: "#d64541" }]
    : [{ label: "users", key: "users", color: "#2f6fdf" }, { label: "dropped/s", key: "dropped", color: "#d64541" }]);
  const target = skein.points.some((p) => p.tcpu_pct != null);
  drawChart("c-res", [
    { label: "CPU %", key: "cpu_pct", color: "#2f6fdf" },
    { label: "RSS MiB", key: "rss_mb", color: "#7b53c9", axis: "right" },
  ].concat(target ? [
    { label: "target CPU %", key: "tcpu_pct", color: "#2f6fdf", dash: true },
    { label: "target RSS MiB", key: "trss_mb", color: "#7b53c9", axis: "right", dash: true },
  ] : []), true);
  const streams = skein.points.some((p) => p.ttfc_p95 != null);
  $("f-ttfc").hidden = !streams;
  if (streams) drawChart("c-ttfc", [{ label: "TTFC p95", key: "ttfc_p95", color: "#d08a12" }]);
}

// ---------- tables and figures ----------
function renderRows(rows) {
  const { key, dir } = sort;
  rows = rows.slice().sort((a, b) => {
    const x = a[key], y = b[key];
    if (x == null && y == null) return 0;
    if (x == null) return 1;
    if (y == null) return -1;
    return (typeof x === "string" ? x.localeCompare(y) : x - y) * dir;
  });
  $("requests").querySelector("tbody").innerHTML = rows.map((r) => `<tr>
    <td>${esc(r.name)}</td><td>${esc(r.method)}</td>
    <td class="num">${fmtInt(r.requests)}</td><td class="num${r.failures ? " broken" : ""}">${fmtInt(r.failures)}</td>
    <td class="num">${fmtNum(r.rps, 1)}</td><td class="num">${fmtMs(r.avg_ms)}</td>
    <td class="num">${fmtMs(r.p50_ms)}</td><td class="num">${fmtMs(r.p95_ms)}</td><td class="num">${fmtMs(r.p99_ms)}</td>
    <td class="num">${fmtMs(r.intended_p99_ms)}</td><td class="num">${fmtMs(r.ttfc_p95_ms)}</td></tr>`).join("");
for (const th of $("requests").querySelectorAll("th")) {
    th.classList.toggle("asc", th.dataset.key === key && dir === 1);
    th.classList.toggle("desc", th.dataset.key === key && dir === -1);
  }
}

// A distributed run's workers (the manager's page); absent in a local run.
function renderWorkers(workers) {
  $("workers-panel").hidden = !workers;
  if (!workers) return;
  const lost = workers.filter((w) => w.state === "lost").length;
  $("workers-summary").textContent = `${workers.length - lost} active${lost ? ` · ${lost} lost` : ""}`;
  $("workers").querySelector("tbody").innerHTML = workers.map((w) => `<tr class="${w.state === "lost" ? "broken-row" : ""}" data-worker="${esc(w.id)}">
    <td>${esc(w.id)}</td><td class="${w.state === "lost" ? "broken" : ""}">${esc(w.state)}</td>
    <td class="num">${fmtInt(w.users)}</td><td class="num">${fmtNum(w.rps, 1)}</td>
    <td class="num">${fmtInt(w.requests)}</td><td class="num">${fmtInt(w.failures)}</td>
    <td class="num">${fmtNum(w.last_report_age_s, 1)} s ago</td></tr>`).join("");
}

// A capacity search's step in progress and the verdicts of its finished steps.
function renderCapacity(c, model, state) {
  $("capacity").hidden = !c;
  if (!c) return;
  const unit = model === "open" ? "arrivals/s" : "users";
  const now = state !== "ended" && c.step ? `Capacity step ${c.step}: ${fmtNum(c.offered, 2)} ${unit} (${esc(c.phase)})` : "Capacity search";
  const done = c.finished.map((f, i) => `<span class="${f.held ? "ok" : "broken"}" data-step="${i + 1}">#${i + 1} ${fmtNum(f.offered, 2)} ${f.held ? "held" : "broke"}</span>`).join(" · ");
  $("capacity").innerHTML = `${now}${done ? ` · finished: ${done}` : ""}`;
}

function render(s) {
  skein.stats = s;
  $("scenario").textContent = s.scenario ? `${s.scenario} · ${s.load_model} model` : "waiting for the run to start…";
  $("state").textContent = s.state;
  $("state").className = `badge ${s.state}`;
  $("clock").textContent = s.run_time_s ? `${fmtDur(s.elapsed_s)} / ${fmtDur(s.run_time_s)}` : "";
  const st = s.stage;
  $("stage").textContent = s.capacity ? "" : s.state === "ended" ? "Run ended" : st
    ? `Stage ${st.index} of ${st.count}: ${st.target_rate != null ? `${fmtNum(st.target_rate, 2)} arrivals/s` : `${fmtInt(st.target_users)} users`} · ends in ${fmtDur(st.ends_in_s)}`
    : s.state === "running" ? "Finishing: answers in flight" : "";
  $("k-requests").textContent = fmtInt(s.requests);
  $("k-failures").textContent = fmtInt(s.failures);
  $("k-failures").className = "value" + (s.failures ? " broken" : "");
  $("k-rps").textContent = fmtNum(s.rps, 1);
  $("k-fps").textContent = fmtNum(s.failures_per_s, 1);
  $("k-users-label").textContent = s.load_model === "open" ? "In flight" : "Users";
  $("k-users").textContent = fmtInt(s.active_users);
  $("k-dropped").textContent = fmtInt(s.dropped_arrivals);
  const last = skein.points[skein.points.length - 1];
  $("k-cpu").textContent = last ? `${fmtNum(last.cpu_pct, 1)} %` : "–";
  $("k-rss").textContent = s.rss_bytes ? `${fmtNum(s.rss_bytes / 1048576, 1)} MiB` : "–";
  for (const tile of document.querySelectorAll(".tile.target")) tile.hidden = !s.target;
  if (s.target) {
    $("k-tcpu").textContent = `${fmtNum(s.target.cpu_pct, 1)} %`;
    $("k-trss").textContent = `${fmtNum(s.target.rss_bytes / 1048576, 1)} MiB`;
  }
  renderRows(s.rows || []);
  const errors = s.errors || [];
  $("errors").querySelector("tbody").innerHTML = errors.map((e) => `<tr>
    <td>${esc(e.method)} ${esc(e.name)}</td><td class="err">${esc(e.error)}</td>
    <td class="num">${fmtInt(e.count)}</td><td>${esc(e.last_seen)}</td></tr>`).join("");
  $("errors").hidden = !errors.length;
  $("no-errors").hidden = !!errors.length;
  renderWorkers(s.workers);
  renderCapacity(s.capacity, s.load_model, s.state);
  const slas = s.slas || [];
  $("slas").querySelector("tbody").innerHTML = slas.map((v) => `<tr class="${v.passed ? "" : "broken-row"}">
    <td>${esc(v.threshold)}</td><td class="num">${esc(v.measured_text)}</td>
    <td class="${v.passed ? "ok" : "broken"}">${v.passed ? "holding" : "broken"}${v.broke_at_s != null ? ` (broke at ${fmtDur(v.broke_at_s)})` : ""}</td></tr>`).join("");
  $("slas").hidden = !slas.length;
  $("no-slas").hidden = !!slas.length;
  const rate = s.control && s.control.kind === "rate";
  $("rate-form").hidden = !rate || s.state === "ended";
  if (rate && document.activeElement !== $("rate") && s.control.rate != null) $("rate").placeholder = fmtNum(s.control.rate, 2);
  const users = s.control && s.control.kind === "users";
  $("users-form").hidden = !users || s.state === "ended";
  if (users) {
    if (document.activeElement !== $("users") && s.control.users != null) $("users").placeholder = fmtInt(s.control.users);
    if (document.activeElement !== $("spawn-rate") && s.control.spawn_rate != null) $("spawn-rate").placeholder = fmtNum(s.control.spawn_rate, 2);
    $("users").max = s.control.max_users;
    $("users").title = `at most ${fmtInt(s.control.max_users)} (--web-max-users)`;
  }
  $("control-note").textContent = s.state !== "ended" && s.control && s.control.note ? s.control.note : "";
  $("stop").disabled = s.state !== "running";
  if (s.end) {
    $("end").hidden = false;
    $("end").classList.toggle("failed", !/^passed/.test(s.end.verdict));
    $("verdict").textContent = s.end.verdict;
    const order = (f) => (f === "report.html" ? 0 : f.endsWith(".csv") ? 1 : 2);
    $("links").innerHTML = s.end.files.slice().sort((a, b) => order(a) - order(b) || a.localeCompare(b))
      .map((f) => `<a href="${esc(withToken(`files/${encodeURIComponent(f)}`))}" target="_blank">${esc(f)}</a>`).join("");
  }
  drawAll();
}

function message(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(answer.error || `${r.status} ${r.statusText}`);
  return answer;
}

$("stop").addEventListener("click", async () => {
  $("stop").disabled = true;
  try { await post("api/stop"); message("Stopping: users finish, then the results are written."); }
  catch (e) { message(`Stop refused: ${e.message}`); $("stop").disabled = false; }
});
$("rate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const rate = Number($("rate").value);
  try { await post("api/rate", { rate }); message(`Arrival rate set to ${fmtNum(rate, 2)}/s for the rest of the run (a new stage in the results).`); $("rate").value = ""; }
  catch (e) { message(`Rate refused: ${e.message}`); }
});
$("users-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { users: Number($("users").value) };
  if ($("spawn-rate").value !== "") body.spawn_rate = Number($("spawn-rate").value);
  try {
    const set = await post("api/users", body);
    message(`Users set to ${fmtInt(set.users)} at ${fmtNum(set.spawn_rate, 2)}/s for the rest of the run (a new stage in the results).`);
    $("users").value = ""; $("spawn-rate").value = "";
  } catch (e) { message(`Users refused: ${e.message}`); }
});
for (const th of $("requests").querySelectorAll("th")) {
  th.addEventListener("click", () => {
    sort = sort.key === th.dataset.key ? { key: sort.key, dir: -sort.dir } : { key: th.dataset.key, dir: th.classList.contains("num") ? -1 : 1 };
    if (skein.stats) renderRows(skein.stats.rows || []);
  });
}
window.addEventListener("resize", drawAll);
$("stats-link").href = withToken("api/stats");

async function start() {
  const r = await fetch("api/stats", { headers });
  if (!r.ok) { message(`The dashboard refused this page (${r.status}): open the address skein printed, with its ?token=.`); return; }
  const first = await r.json();
  addPoints(first.points || []);
  render(first);
  const events = new EventSource(withToken("api/events"));
  events.addEventListener("stats", (ev) => {
    const s = JSON.parse(ev.data);
    skein.events += 1;
    addPoints(s.points || []);
    render(s);
  });
  events.onerror = () => {
    if (skein.stats && skein.stats.state === "ended") { message("The dashboard's server has stopped; this page shows the run's end."); events.close(); }
  };
}
start();
