// ioc-router operations dashboard. Plain JS, no libraries, nothing from the internet.
// The map arrives as SVG paths (dashboards/mapdata.py); numbers from /api/overview every few
// seconds; the live feed over server-sent events (/api/feed).
"use strict";

const POLL_MS = 5000;
const FEED_MAX = 80;

const LABELS = {
  title: { vi: "Trung tâm điều hành – sự cố theo phường", en: "Operations center – incidents by ward" },
  scope_city: { vi: "Thành phố", en: "City" },
  scope_national: { vi: "Toàn quốc", en: "Nationwide" },
  map: { vi: "Bản đồ phường", en: "Ward map" },
  loading_map: { vi: "Đang tải bản đồ…", en: "Loading the map…" },
  event_rate: { vi: "Sự kiện / giây", en: "Events / second" },
  latency: { vi: "Độ trễ định tuyến", en: "Routing latency" },
  deadletter: { vi: "Thư lỗi (dead-letter)", en: "Dead-letter" },
  unroutable: { vi: "Không định tuyến được", en: "Unroutable" },
  sla_breaches: { vi: "Vi phạm SLA", en: "SLA breaches" },
  versions: { vi: "Phiên bản", en: "Versions" },
  feed: { vi: "Sự kiện trực tiếp", en: "Live feed" },
  ward_table: { vi: "Theo phường", en: "By ward" },
  col_ward: { vi: "Phường/xã", en: "Ward" },
  col_code: { vi: "Mã", en: "Code" },
  col_open: { vi: "Đang mở", en: "Open" },
  col_overdue: { vi: "Quá hạn", en: "Overdue" },
  col_ack: { vi: "Trung vị t.g. tiếp nhận", en: "Median time to ack" },
  col_routed: { vi: "Đã định tuyến", en: "Routed" },
  open: { vi: "Sự cố đang mở", en: "Open incidents" },
  overdue: { vi: "Quá hạn", en: "Overdue" },
  median_ack: { vi: "Trung vị tiếp nhận", en: "Median ack" },
  routed: { vi: "Đã định tuyến", en: "Routed" },
  population: { vi: "Dân số", en: "Population" },
  area: { vi: "Diện tích", en: "Area" },
  no_data: { vi: "Không có dữ liệu", en: "No data" },
  measuring: { vi: "đang đo…", en: "measuring…" },
  routed_per_s: { vi: "định tuyến/giây", en: "routed/s" },
  total: { vi: "tổng", en: "total" },
  ack: { vi: "tiếp nhận", en: "acknowledge" },
  resolve: { vi: "xử lý", en: "resolve" },
  rules: { vi: "Bộ quy tắc", en: "Rules" },
  boundaries: { vi: "Ranh giới", en: "Boundaries" },
  build: { vi: "Bản dựng", en: "Build" },
  approximate_banner: {
    vi: "Ranh giới GẦN ĐÚNG (approximate): đa giác phường được ước lượng, chưa phải ranh giới chính thức. Nhập ranh giới chính thức bằng `ioc boundaries import`.",
    en: "APPROXIMATE boundaries: ward polygons are estimated, not the official ones. Import official polygons with `ioc boundaries import`.",
  },
  reference_banner: {
    vi: "Ranh giới THAM CHIẾU tích hợp sẵn (reference, thanglequoc/vietnamese-provinces-database, MIT): chưa phải ranh giới chính thức do thành phố cung cấp. Nhập bằng `ioc boundaries import`.",
    en: "Built-in REFERENCE boundaries (thanglequoc/vietnamese-provinces-database, MIT), not the city's official file. Import it with `ioc boundaries import`.",
  },
  metrics_unreachable: { vi: "Không lấy được số liệu", en: "Metrics unavailable" },
  metrics_no_data: { vi: "Chưa có dữ liệu", en: "No data yet" },
  metrics_no_source: { vi: "Chưa cấu hình nguồn số liệu", en: "No metrics source configured" },
  metrics_partial: { vi: "Thiếu một phần số liệu", en: "Partial metrics" },
  incidents_unavailable: { vi: "Không đọc được trạng thái sự cố", en: "Incident state unavailable" },
  feed_live: { vi: "trực tiếp", en: "live" },
  feed_waiting: { vi: "Chưa có sự kiện nào kể từ khi mở trang.", en: "No events since this page opened." },
  feed_down: { vi: "Luồng sự kiện không hoạt động", en: "Feed not connected" },
  feed_lost: { vi: "mất kết nối, đang thử lại…", en: "connection lost, retrying…" },
  reporter: { vi: "Người báo", en: "Reporter" },
  masked: { vi: "đã che (không thuộc phường được phép xem)", en: "masked (not your ward)" },
  incident: { vi: "Sự cố", en: "Incident" },
  change_opened: { vi: "mở mới", en: "opened" },
  change_updated: { vi: "cập nhật", en: "updated" },
  change_escalated: { vi: "leo thang", en: "escalated" },
  change_resolved: { vi: "đã xử lý", en: "resolved" },
  change_reassigned: { vi: "chuyển phường", en: "reassigned" },
  change_current: { vi: "hiện tại", en: "current" },
  status_new: { vi: "mới", en: "new" },
  status_routed: { vi: "đã chuyển đến phường", en: "routed" },
  status_acknowledged: { vi: "đã tiếp nhận", en: "acknowledged" },
  status_dispatched: { vi: "đã điều lực lượng", en: "dispatched" },
  status_waiting_citizen: { vi: "chờ người dân", en: "waiting for citizen" },
  status_resolved: { vi: "đã xử lý", en: "resolved" },
  status_closed: { vi: "đã đóng", en: "closed" },
  status_reopened: { vi: "mở lại", en: "reopened" },
  status_reassigned: { vi: "chuyển sang phường khác", en: "reassigned" },
  evidence: { vi: "bằng chứng", en: "evidence" },
  ambiguous: { vi: "chưa rõ phường", en: "ward uncertain" },
  wards_of: { vi: "phường/xã", en: "wards" },
  legend_none: { vi: "0", en: "0" },
  legend_overdue: { vi: "viền vàng: có sự cố quá hạn", en: "yellow outline: overdue incidents" },
  legend_nodata: { vi: "xám: không có số liệu", en: "grey: no data" },
  viewer: { vi: "Người xem", en: "Viewer" },
  updated: { vi: "Cập nhật", en: "Updated" },
  workers_down: { vi: "worker không phản hồi", en: "worker(s) not answering" },
  generation: { vi: "thế hệ", en: "generation" },
};

const state = {
  lang: localStorage.getItem("ioc.lang") || "vi",
  scope: "city",
  map: null, // the layer JSON of the current scope
  paths: new Map(), // ward code -> <path>
  wards: new Map(), // ward code -> layer entry
  overview: null,
  labels: { categories: {} },
  feed: [],
  feedStatus: { state: "off", message: "" },
};

const $ = (id) => document.getElementById(id);
const t = (key) => (LABELS[key] ? LABELS[key][state.lang] : key);
const fmtInt = (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB"));
const fmtNum = (n, digits) => (n === null || n === undefined ? "–" : Number(n).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${fmtNum(seconds, 1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${fmtNum(seconds / 3600, 1)} h`;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- language ------------------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang-vi").classList.toggle("on", state.lang === "vi");
  $("lang-en").classList.toggle("on", state.lang === "en");
  document.title = `IOC – ${t("title")}`;
  renderLegend();
  if (state.overview) renderOverview(state.overview);
  renderFeed();
}

function setLanguage(lang) {
  state.lang = lang;
  localStorage.setItem("ioc.lang", lang);
  applyLanguage();
}

// -- fetching ------------------------------------------------------------------------------------
async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `${response.status} ${response.statusText}`);
  return body;
}

// -- map -----------------------------------------------------------------------------------------
async function loadMap(scope) {
  $("map-status").textContent = t("loading_map");
  $("map-status").hidden = false;
  let layer;
  try {
    layer = await getJSON(`/api/map?scope=${scope}`);
  } catch (err) {
    $("map-status").textContent = err.message;
    return;
  }
  if (scope !== state.scope) return; // the user switched while it loaded
  drawMap(layer);
}

function drawMap(layer) {
  state.map = layer;
  const svg = $("map");
  svg.setAttribute("viewBox", layer.view_box.join(" "));
  svg.classList.toggle("national", layer.scope === "national");
  // one innerHTML assignment: far faster than 3,321 appendChild calls; codes are digits only
  $("wards").innerHTML = layer.wards
    .map((w) => `<path d="${w.d}" data-code="${/^\d+$/.test(w.code) ? w.code : ""}"></path>`)
    .join("");
  state.paths = new Map();
  state.wards = new Map();
  for (const w of layer.wards) state.wards.set(w.code, w);
  for (const path of $("wards").children) state.paths.set(path.dataset.code, path);
  $("map-status").hidden = true;
  $("map-caption").textContent = `${fmtInt(layer.ward_count)} ${t("wards_of")} · ${t("generation")} ${layer.generation}`;
  if (state.overview) colourMap(state.overview);
  requestAnimationFrame(() => requestAnimationFrame(() => {
    // two frames: the paths are laid out and painted; the browser test reads this
    window.iocMapPaintedAt = performance.now();
    svg.dataset.wards = String(state.paths.size);
    svg.dataset.scope = layer.scope;
  }));
}

// Colour classes by open incidents. Up to 5 open, each count has its shade; above that the five
// shades split 1..max evenly, so a busy evening still shows where it is busiest.
function breaks(max) {
  if (max <= 5) return [1, 2, 3, 4, 5];
  const step = max / 5;
  return [1, 2, 3, 4, 5].map((i) => Math.max(i, Math.round(step * i)));
}

function level(open, bounds) {
  if (open <= 0) return "zero";
  for (let i = 0; i < bounds.length; i += 1) if (open <= bounds[i]) return `l${i + 1}`;
  return "l5";
}

function colourMap(overview) {
  const numbers = overview.metrics.state === "ok" || overview.metrics.state === "partial";
  const open = overview.map_values.open || {};
  const overdue = overview.map_values.overdue || {};
  let max = 0;
  for (const code of state.paths.keys()) max = Math.max(max, open[code] || 0);
  state.breaks = breaks(max);
  for (const [code, path] of state.paths) {
    const cls = [numbers ? level(open[code] || 0, state.breaks) : "nodata"];
    if (overdue[code]) cls.push("overdue");
    if (path.classList.contains("hover")) cls.push("hover");
    const next = cls.join(" ");
    if (path.getAttribute("class") !== next) path.setAttribute("class", next);
  }
  renderLegend();
}

function renderLegend() {
  const legend = $("legend");
  const b = state.breaks || breaks(0);
  legend.textContent = "";
  legend.append(el("span", {}, `${t("open")}:`));
  const colours = { zero: "#24415a", l1: "#6b5a2a", l2: "#b7792b", l3: "#e08a2c", l4: "#e5562e", l5: "#c81d25" };
  const swatches = [["zero", "0"]];
  let low = 1;
  b.forEach((high, i) => {
    if (high >= low) swatches.push([`l${i + 1}`, i === b.length - 1 ? `≥ ${low}` : (high === low ? `${low}` : `${low}–${high}`)]);
    low = high + 1;
  });
  for (const [cls, text] of swatches) legend.append(el("span", {}, el("i", { style: `background:${colours[cls]}` }), text));
  legend.append(el("span", {}, el("i", { style: "background:#2b3a48;border:2px solid #ffd23f" }), t("legend_overdue")));
  legend.append(el("span", {}, el("i", { style: "background:#3a434c" }), t("legend_nodata")));
}

function wardRow(code) {
  return state.overview ? state.overview.wards.find((r) => r.code === code) : null;
}

function showTooltip(event) {
  const path = event.target.closest("path");
  const tip = $("tooltip");
  for (const old of document.querySelectorAll("#wards path.hover")) if (old !== path) old.classList.remove("hover");
  if (!path || !path.dataset.code) { tip.hidden = true; return; }
  path.classList.add("hover");
  const code = path.dataset.code;
  const ward = state.wards.get(code) || {};
  const ov = state.overview;
  const numbers = ov && (ov.metrics.state === "ok" || ov.metrics.state === "partial");
  const row = wardRow(code);
  const overdue = ov && ov.incidents.state === "ok" ? (ov.map_values.overdue[code] || 0) : null;
  const lines = [
    [t("open"), numbers ? fmtInt(ov.map_values.open[code] || 0) : t("no_data")],
    [t("overdue"), overdue === null ? t("no_data") : fmtInt(overdue)],
  ];
  if (row) lines.push([t("median_ack"), fmtDuration(row.median_ack_s)], [t("routed"), row.routed === null ? t("no_data") : fmtInt(row.routed)]);
  if (ward.population) lines.push([t("population"), fmtInt(ward.population)]);
  if (ward.area_km2) lines.push([t("area"), `${fmtNum(ward.area_km2, 1)} km²`]);
  const dl = el("dl");
  for (const [k, v] of lines) dl.append(el("dt", {}, k), el("dd", {}, v));
  tip.textContent = "";
  tip.append(el("b", {}, `${ward.name || code}`), el("small", {}, `${code}`), dl);
  const wrap = $("map-wrap").getBoundingClientRect();
  let x = event.clientX - wrap.left + 14;
  let y = event.clientY - wrap.top + 14;
  tip.hidden = false;
  if (x + tip.offsetWidth > wrap.width) x -= tip.offsetWidth + 28;
  if (y + tip.offsetHeight > wrap.height) y -= tip.offsetHeight + 28;
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

// -- overview ------------------------------------------------------------------------------------
function banner(id, cls, text) {
  const node = $(id);
  node.hidden = !text;
  node.className = `banner ${cls}`;
  node.textContent = text || "";
}

function metricsSentence(m) {
  const head = { unreachable: "metrics_unreachable", no_data: "metrics_no_data", no_source: "metrics_no_source", partial: "metrics_partial" }[m.state];
  return head ? `${t(head)}: ${m.message}${m.source_url ? ` (${m.source_url})` : ""}` : "";
}

function setStat(id, text, nodata) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("nodata", Boolean(nodata));
}

function reasons(id, values) {
  const list = $(id);
  list.textContent = "";
  for (const [reason, n] of Object.entries(values || {}).slice(0, 5)) list.append(el("li", {}, el("span", {}, reason), el("span", {}, fmtInt(n))));
}

function renderOverview(ov) {
  const m = ov.metrics;
  const b = ov.boundaries;
  const numbers = m.state === "ok" || m.state === "partial";
  banner("banner-approximate", b.approximate ? "warn" : "info", b.approximate ? t("approximate_banner") : b.reference ? t("reference_banner") : "");
  banner("banner-boundaries", "bad", b.state !== "ok" ? b.message : "");
  banner("banner-metrics", m.state === "partial" ? "warn" : "bad", metricsSentence(m));
  banner("banner-incidents", "info", ov.incidents.state !== "ok" ? `${t("incidents_unavailable")}: ${ov.incidents.message}` : "");
  const none = numbers ? "" : t("no_data");
  if (!numbers) {
    for (const id of ["stat-rate", "stat-latency", "stat-deadletter", "stat-unroutable", "stat-breaches"]) setStat(id, none, true);
    for (const id of ["stat-rate-sub", "stat-latency-sub", "stat-breaches-sub"]) $(id).textContent = "";
    reasons("deadletter-reasons", {});
    reasons("unroutable-reasons", {});
  } else {
    const r = m.rates;
    setStat("stat-rate", r.ingested === null ? t("measuring") : fmtNum(r.ingested, 1), r.ingested === null);
    $("stat-rate-sub").textContent = r.routed === null ? "" : `${fmtNum(r.routed, 1)} ${t("routed_per_s")} · ${t("total")} ${fmtInt(m.totals.ingested)}`;
    setStat("stat-latency", m.latency.p50_s === null ? t("no_data") : `p50 ${fmtDuration(m.latency.p50_s)}`, m.latency.p50_s === null);
    $("stat-latency-sub").textContent = m.latency.p95_s === null ? "" : `p95 ${fmtDuration(m.latency.p95_s)}`;
    setStat("stat-deadletter", fmtInt(m.totals.deadletter), false);
    reasons("deadletter-reasons", m.deadletter_by_reason);
    setStat("stat-unroutable", fmtInt(m.totals.unroutable), false);
    reasons("unroutable-reasons", m.unroutable_by_reason);
    const ack = m.sla_breaches.ack || 0;
    const res = m.sla_breaches.resolve || 0;
    setStat("stat-breaches", fmtInt(ack + res), false);
    $("stat-breaches-sub").textContent = `${t("ack")} ${fmtInt(ack)} · ${t("resolve")} ${fmtInt(res)}`;
  }
  const versions = $("versions");
  versions.textContent = "";
  const rules = (m.rules_versions || []).map((v) => v.version).filter(Boolean);
  const gens = (m.boundary_generations || []).map((g) => `${g.generation} (${g.source})`);
  versions.append(el("dt", {}, t("rules")), el("dd", {}, rules.length ? [...new Set(rules)].join(", ") : t("no_data")));
  versions.append(el("dt", {}, t("boundaries")), el("dd", {}, gens.length ? [...new Set(gens)].join(", ") : (b.generation ? `${b.generation} (${b.source})` : t("no_data"))));
  const builds = (m.build || []).map((v) => v.version).filter(Boolean);
  if (builds.length) versions.append(el("dt", {}, t("build")), el("dd", {}, [...new Set(builds)].join(", ")));
  renderTable(ov);
  colourMap(ov);
  $("viewer").textContent = `${t("viewer")}: ${ov.viewer.name}${ov.viewer.wards.length ? ` (${ov.viewer.wards.join(", ")})` : ""}`;
  $("updated").textContent = `${t("updated")}: ${new Date(ov.generated_at).toLocaleTimeString(state.lang === "vi" ? "vi-VN" : "en-GB")}`;
  $("city-name").textContent = `· ${ov.city.toUpperCase()}`;
}

function cell(value, text, cls) {
  const td = el("td", { class: `num${value === null ? " nodata" : ""}${cls ? ` ${cls}` : ""}` }, value === null ? "–" : text);
  return td;
}

function renderTable(ov) {
  const body = $("ward-table").querySelector("tbody");
  const rows = ov.wards;
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    const open = r.open === null ? r.open_serving : r.open;
    frag.append(el("tr", { "data-code": r.code },
      el("td", {}, r.name || r.code), el("td", {}, r.code),
      cell(open, fmtInt(open), open > 0 ? "hot" : ""),
      cell(r.overdue, fmtInt(r.overdue), r.overdue > 0 ? "hot" : ""),
      cell(r.median_ack_s, fmtDuration(r.median_ack_s)),
      cell(r.routed, fmtInt(r.routed))));
  }
  body.textContent = "";
  body.append(frag);
  $("table-caption").textContent = `${fmtInt(rows.length)} ${t("wards_of")}`;
}

async function poll() {
  try {
    const ov = await getJSON(`/api/overview?scope=${state.scope}`);
    state.overview = ov;
    renderOverview(ov);
  } catch (err) {
    banner("banner-metrics", "bad", `${t("metrics_unreachable")}: ${err.message}`);
  }
}

// -- feed ----------------------------------------------------------------------------------------
function category(kind) {
  const known = state.labels.categories[kind];
  return known ? known[state.lang] : kind || "";
}

function feedEntry(item) {
  const time = item.time ? new Date(item.time).toLocaleTimeString(state.lang === "vi" ? "vi-VN" : "en-GB") : "";
  const ward = item.ward_name || item.ward || "";
  if (item.type === "incident") {
    return el("li", { class: "incident", "data-type": "incident", "data-ward": item.ward || "" },
      el("div", {}, el("span", { class: `pri ${item.priority || ""}` }, item.priority || "?"), " ",
        `${t("incident")} ${t(`change_${item.change}`)} · ${category(item.category)} · ${ward}`),
      el("div", { class: "meta" }, el("span", {}, time), el("span", {}, item.status ? t(`status_${item.status}`) : ""),
        item.evidence_count ? el("span", {}, `${item.evidence_count} ${t("evidence")}`) : null));
  }
  const text = item.description || item.address || "";
  const who = item.reporter
    ? el("div", { class: "who" }, `${t("reporter")}: ${item.reporter.name || "–"} · ${item.reporter.phone || "–"}${item.masked ? ` (${t("masked")})` : ""}`)
    : null;
  return el("li", { class: "event", "data-type": "event", "data-ward": item.ward || "" },
    el("div", {}, el("span", { class: `pri ${item.priority || ""}` }, item.priority || "?"), " ",
      `${category(item.category)} · ${ward}${item.ambiguous ? ` (${t("ambiguous")})` : ""}`),
    text ? el("div", {}, text) : null,
    who,
    el("div", { class: "meta" }, el("span", {}, time), el("span", {}, item.source || ""), item.rule ? el("span", {}, item.rule) : null));
}

function renderFeed() {
  const list = $("feed");
  list.textContent = "";
  for (const item of state.feed) list.append(feedEntry(item));
  renderFeedState();
}

function renderFeedState() {
  const s = state.feedStatus;
  const live = s.state === "live";
  $("feed-state").textContent = live ? `● ${t("feed_live")}` : `${t("feed_down")}: ${s.message}`;
  $("feed-state").style.color = live ? "var(--ok)" : "var(--warn)";
  $("feed-empty").textContent = state.feed.length ? "" : (live ? t("feed_waiting") : `${t("feed_down")}: ${s.message}`);
}

function connectFeed() {
  const source = new EventSource("/api/feed");
  source.addEventListener("status", (e) => { state.feedStatus = JSON.parse(e.data); renderFeedState(); });
  source.addEventListener("item", (e) => {
    const item = JSON.parse(e.data);
    if (state.feed.some((x) => x.id === item.id)) return;
    state.feed.unshift(item);
    if (state.feed.length > FEED_MAX) state.feed.pop();
    const list = $("feed");
    list.prepend(feedEntry(item));
    while (list.children.length > FEED_MAX) list.lastChild.remove();
    renderFeedState();
  });
  source.onerror = () => { state.feedStatus = { state: "lost", message: t("feed_lost") }; renderFeedState(); };
}

// -- start ---------------------------------------------------------------------------------------
function switchScope(scope) {
  if (scope === state.scope) return;
  state.scope = scope;
  $("scope-city").classList.toggle("on", scope === "city");
  $("scope-national").classList.toggle("on", scope === "national");
  $("wards").innerHTML = "";
  loadMap(scope);
  poll();
}

function tick() {
  $("clock").textContent = new Date().toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB");
}

function start() {
  const params = new URLSearchParams(location.search);
  if (params.get("lang") === "en" || params.get("lang") === "vi") state.lang = params.get("lang");
  if (params.get("scope") === "national") {
    state.scope = "national";
    $("scope-city").classList.remove("on");
    $("scope-national").classList.add("on");
  }
  applyLanguage();
  // the map first: the numbers and the feed queue behind it, so they do not delay the first paint
  loadMap(state.scope).finally(() => {
    poll();
    getJSON("/api/labels").then((labels) => { state.labels = labels; renderFeed(); }).catch(() => {});
    connectFeed();
    setInterval(poll, POLL_MS);
  });
  setInterval(tick, 1000);
  tick();
  $("lang-vi").onclick = () => setLanguage("vi");
  $("lang-en").onclick = () => setLanguage("en");
  $("scope-city").onclick = () => switchScope("city");
  $("scope-national").onclick = () => switchScope("national");
  $("map").addEventListener("mousemove", showTooltip);
  $("map").addEventListener("mouseleave", () => {
    $("tooltip").hidden = true;
    for (const old of document.querySelectorAll("#wards path.hover")) old.classList.remove("hover");
  });
}

start();
