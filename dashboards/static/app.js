// News Signals dashboard: plain JS, no dependencies, everything from this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const LABELS = ["negative", "neutral", "positive"];
const state = { signals: [], liveCount: 0 };

// With NEWSIG_API_KEY set, open the page once as /#key=YOUR_KEY: the key is kept in this
// browser's localStorage (never in the URL it then shows) and sent with every call.
(function keepKey() {
  const m = location.hash.match(/key=([^&]+)/);
  if (m) {
    localStorage.setItem("newsig-api-key", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
})();
const apiKey = () => localStorage.getItem("newsig-api-key");

async function getJSON(url, options) {
  const opts = Object.assign({}, options || {});
  if (apiKey()) opts.headers = Object.assign({}, opts.headers || {}, { "x-api-key": apiKey() });
  const resp = await fetch(url, opts);
  if (resp.status === 401) throw new Error("401: this server needs its API key: open /#key=YOUR_KEY once");
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : resp.statusText;
    throw new Error(`${resp.status}: ${detail}`);
  }
  return body;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function labelBadge(label) { return el("span", label, `label ${label}`); }

function filters() {
  const source = $("#filter-source").value;
  const ticker = $("#filter-ticker").value.trim().toUpperCase();
  const days = Number($("#filter-window").value);
  const since = new Date(Date.now() - days * 86400e3).toISOString();
  const event = $("#filter-event").value;
  return { source, ticker, event, since, bucket: $("#filter-bucket").value };
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return q.toString();
}

// One chip per company the headline names: ticker, role (raters marked), coloured by the
// sentiment toward that company. Signals stored before entities show their plain tickers.
function entityChips(s) {
  const box = el("span", null, "chips");
  const entities = s.entities || [];
  if (!entities.length) {
    for (const t of s.tickers || []) box.appendChild(el("span", t, "chip"));
    return box;
  }
  for (const e of entities) {
    const chip = el("span", e.role === "subject" ? e.ticker : `${e.ticker} · ${e.role}`,
                    `chip ${e.role} ${e.label}`);
    chip.title = `${e.name}: ${e.role}, ${e.label} (${e.score.toFixed(2)})`;
    chip.dataset.ticker = e.ticker;
    chip.dataset.role = e.role;
    box.appendChild(chip);
  }
  return box;
}

// One tag per event kind the headline reports (docs/events.md); a click filters by it.
function eventTags(s) {
  const box = el("span", null, "chips");
  for (const kind of s.events || []) {
    const tag = el("span", kind.replaceAll("_", " "), "chip event");
    tag.dataset.event = kind;
    tag.title = `event: ${kind} (click to filter)`;
    tag.addEventListener("click", () => {
      $("#filter-event").value = kind;
      loadSignals().catch(showError); loadSummary().catch(showError);
    });
    box.appendChild(tag);
  }
  return box;
}

function signalRow(s, fresh) {
  const tr = el("tr", null, fresh ? "fresh" : "");
  tr.dataset.id = s.signal_id;
  const title = el("td");
  if (s.link && /^https?:\/\//i.test(s.link)) {
    const a = el("a", s.title);
    a.href = s.link; a.target = "_blank"; a.rel = "noopener noreferrer";
    title.appendChild(a);
  } else {
    title.textContent = s.title;
  }
  title.appendChild(entityChips(s));
  title.appendChild(eventTags(s));
  const label = el("td"); label.appendChild(labelBadge(s.label));
  tr.append(title, el("td", s.source_id), label, el("td", s.score.toFixed(2), "num"),
            el("td", fmtTime(s.published_at)), el("td", fmtTime(s.first_seen_at)));
  return tr;
}

function renderSignals() {
  const body = $("#signals tbody");
  body.replaceChildren(...state.signals.slice(0, 50).map((s) => signalRow(s, false)));
  $("#signal-count").textContent = `(${state.signals.length} shown)`;
}

async function loadSignals() {
  const f = filters();
  const page = await getJSON(`signals?${query({ source: f.source, ticker: f.ticker, event: f.event, limit: 50 })}`);
  state.signals = page.items;
  renderSignals();
}

function drawChart(buckets, bucketSeconds, since) {
  const svg = $("#chart");
  const W = 600, H = 240, L = 34, R = 34, T = 12, B = 28;
  const ns = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };
  svg.replaceChildren();
  if (!buckets.length) {
    svg.appendChild(mk("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#90a4ae" }, "no signals in this window"));
    return;
  }
  // The x-axis spans the chosen window, so one busy hour is a bar, not the whole chart.
  const t0 = Math.min(new Date(since).getTime(), new Date(buckets[0].start).getTime());
  const t1 = Math.max(Date.now(), new Date(buckets[buckets.length - 1].start).getTime() + bucketSeconds * 1000);
  const x = (t) => L + ((t - t0) / Math.max(t1 - t0, 1)) * (W - L - R);
  const maxN = Math.max(...buckets.map((b) => b.total), 1);
  const yScore = (v) => T + ((1 - v) / 2) * (H - T - B);
  const yCount = (n) => H - B - (n / maxN) * (H - T - B);
  const bw = Math.max(1, x(t0 + bucketSeconds * 1000) - x(t0) - 1);
  for (const b of buckets) {
    const t = new Date(b.start).getTime();
    svg.appendChild(mk("rect", { x: x(t), y: yCount(b.total), width: bw, height: H - B - yCount(b.total), fill: "#cfd8dc" },
                       undefined)).appendChild(mk("title", {}, `${fmtTime(b.start)}: ${b.total} signals, mean ${b.mean_score?.toFixed(2)}`));
  }
  svg.appendChild(mk("line", { x1: L, x2: W - R, y1: yScore(0), y2: yScore(0), stroke: "#90a4ae", "stroke-dasharray": "4 3" }));
  const pts = buckets.map((b, i) => {
    const win = buckets.slice(Math.max(0, i - 2), i + 1);
    const n = win.reduce((a, w) => a + w.total, 0);
    const mean = n ? win.reduce((a, w) => a + (w.mean_score || 0) * w.total, 0) / n : 0;
    return `${x(new Date(b.start).getTime()) + bw / 2},${yScore(mean)}`;
  });
  svg.appendChild(mk("polyline", { points: pts.join(" "), fill: "none", stroke: "#2c7be5", "stroke-width": 2 }));
  for (const pt of pts) {
    const [cx, cy] = pt.split(",");
    svg.appendChild(mk("circle", { cx, cy, r: 3.5, fill: "#2c7be5" }));
  }
  const label = { "font-size": 13, fill: "#607080" };
  for (const v of [-1, 0, 1]) svg.appendChild(mk("text", { x: L - 6, y: yScore(v) + 4, "text-anchor": "end", ...label }, v.toFixed(0)));
  svg.appendChild(mk("text", { x: W - R + 4, y: T + 10, ...label }, `${maxN}`));
  svg.appendChild(mk("text", { x: W - R + 4, y: H - B, ...label }, "0"));
  for (const [t, anchor] of [[t0, "start"], [(t0 + t1) / 2, "middle"], [t1, "end"]]) svg.appendChild(mk("text", { x: x(t), y: H - 6, "text-anchor": anchor, ...label }, fmtTime(new Date(t).toISOString())));
}

function drawMix(buckets) {
  const totals = Object.fromEntries(LABELS.map((l) => [l, 0]));
  for (const b of buckets) for (const l of LABELS) totals[l] += b.counts[l] || 0;
  const all = LABELS.reduce((a, l) => a + totals[l], 0);
  const mix = $("#label-mix");
  mix.replaceChildren();
  if (!all) { mix.appendChild(el("span", "no signals yet")); return; }
  for (const l of LABELS) {
    if (!totals[l]) continue;
    const part = el("div", `${l} ${Math.round((100 * totals[l]) / all)}%`);
    part.style.width = `${(100 * totals[l]) / all}%`;
    part.style.background = `var(--${l.slice(0, 3)})`;
    part.dataset.label = l; part.dataset.count = totals[l];
    mix.appendChild(part);
  }
}

let summaryTimer = null;
async function loadSummary() {
  const f = filters();
  const s = await getJSON(`signals/summary?${query({ source: f.source, ticker: f.ticker, event: f.event, since: f.since, bucket: f.bucket })}`);
  drawChart(s.buckets, s.bucket_seconds, f.since);
  drawMix(s.buckets);
}
function refreshSummarySoon() { clearTimeout(summaryTimer); summaryTimer = setTimeout(() => loadSummary().catch(showError), 500); }

async function loadEvents() {
  const kinds = await getJSON("events");
  const select = $("#filter-event");
  for (const k of kinds) {
    const o = new Option(k.name.replaceAll("_", " "), k.name);
    o.title = `${k.group}, ${k.polarity}: ${k.reason}`;
    select.appendChild(o);
  }
}

async function loadFeeds() {
  const feeds = await getJSON("feeds");
  const select = $("#filter-source");
  const known = new Set([...select.options].map((o) => o.value));
  for (const f of feeds) if (!known.has(f.id)) select.appendChild(new Option(f.name || f.id, f.id));
  $("#feeds tbody").replaceChildren(...feeds.map((f) => {
    const tr = el("tr");
    tr.append(el("td", f.name || f.id), el("td", f.status, f.status === "failing" ? "error" : ""),
              el("td", fmtTime(f.last_success_at)), el("td", f.consecutive_failures, "num"),
              el("td", f.items_seen, "num"), el("td", f.signals_written, "num"), el("td", f.last_error || ""));
    return tr;
  }));
}

async function loadAlerts() {
  const alerts = await getJSON("alerts?limit=20");
  $("#alerts-empty").hidden = alerts.length > 0;
  const num = (x) => (x === null || x === undefined ? "" : Number(x).toFixed(2));
  $("#alerts tbody").replaceChildren(...alerts.map((a) => {
    const tr = el("tr");
    tr.append(el("td", fmtTime(a.detected_at)), el("td", a.ticker),
              el("td", a.direction, a.direction === "down" ? "negative" : "positive"),
              el("td", num(a.index.recent_mean), "num"), el("td", num(a.index.baseline_mean), "num"),
              el("td", num(a.index.z), "num"), el("td", a.index.recent_count, "num"));
    return tr;
  }));
}

async function loadHealth() {
  const pill = $("#health");
  try {
    const h = await getJSON("health");
    pill.textContent = `model ${h.model_version}`; pill.className = "pill ok";
  } catch (err) {
    pill.textContent = `degraded: ${err.message}`; pill.className = "pill bad";
  }
}

function showError(err) { console.warn(err); }

$("#classify-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("#classify-result");
  out.replaceChildren(el("span", "classifying…"));
  try {
    const res = await getJSON("classify", { method: "POST", headers: { "content-type": "application/json" },
                                             body: JSON.stringify({ headline: $("#classify-input").value }) });
    const p = res.predictions[0];
    const probs = LABELS.map((l) => `${l} ${(100 * p.probabilities[l]).toFixed(1)}%`).join(" · ");
    out.replaceChildren(labelBadge(p.label), el("span", ` score ${p.score.toFixed(2)} `), el("div", probs, "probs"));
    out.dataset.label = p.label;
  } catch (err) {
    out.replaceChildren(el("span", err.message, "error"));
  }
});

for (const id of ["#filter-source", "#filter-bucket", "#filter-window", "#filter-event"]) $(id).addEventListener("change", () => { loadSignals().catch(showError); loadSummary().catch(showError); });
$("#filter-ticker").addEventListener("change", () => { loadSignals().catch(showError); loadSummary().catch(showError); });

function matchesFilters(s) {
  const f = filters();
  return (!f.source || s.source_id === f.source) && (!f.ticker || (s.tickers || []).includes(f.ticker));
}

function connectStream() {
  const live = $("#live");
  const es = new EventSource(apiKey() ? `signals/stream?api_key=${encodeURIComponent(apiKey())}`
                                      : "signals/stream");
  es.onopen = () => { live.textContent = "live: on"; live.className = "pill ok"; };
  es.onerror = () => { live.textContent = "live: reconnecting"; live.className = "pill"; };
  es.addEventListener("signal", (ev) => {
    const s = JSON.parse(ev.data);
    state.liveCount += 1;
    live.dataset.received = state.liveCount;
    if (!matchesFilters(s) || state.signals.some((x) => x.signal_id === s.signal_id)) return;
    state.signals.unshift(s);
    $("#signals tbody").prepend(signalRow(s, true));
    $("#signal-count").textContent = `(${state.signals.length} shown)`;
    refreshSummarySoon();
  });
}

Promise.all([loadHealth(), loadFeeds(), loadEvents(), loadSignals(), loadSummary(), loadAlerts()]).catch(showError).finally(connectStream);
setInterval(() => { loadHealth(); loadFeeds().catch(showError); loadAlerts().catch(showError); }, 30000);
