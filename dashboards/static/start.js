// Start-up: language, the map first (so nothing delays its first paint), then numbers, feed, KPIs.
"use strict";

function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang-vi").classList.toggle("on", state.lang === "vi");
  $("lang-en").classList.toggle("on", state.lang === "en");
  document.title = `IOC – ${t("title")}`;
  renderLegend();
  nameDeviceLayers();
  if (state.overview) renderOverview(state.overview);
  fillFeedFilters();
  renderFeed();
  if (state.kpis) kpiList($("city-kpis"), state.kpis.city);
  if (state.wardBody && state.ward) renderWard(state.wardBody);
  if (state.incidentBody && state.incident) renderIncident(state.incidentBody);
  if (state.ranking) loadRanking();
}

function setLanguage(lang) {
  state.lang = lang;
  localStorage.setItem("ioc.lang", lang);
  applyLanguage();
}

function switchScope(scope) {
  if (scope === state.scope) return;
  state.scope = scope;
  $("scope-city").classList.toggle("on", scope === "city");
  $("scope-national").classList.toggle("on", scope === "national");
  loadMap(scope);
  poll();
}

function tick() {
  $("clock").textContent = new Date().toLocaleString(locale());
  tickClocks();
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (params.get("lang") === "en" || params.get("lang") === "vi") state.lang = params.get("lang");
  if (params.get("scope") === "national") {
    state.scope = "national";
    $("scope-city").classList.remove("on");
    $("scope-national").classList.add("on");
  }
  $("ranking-month").value = currentMonth();
  applyLanguage();
  // the map's data and the page's settings at once: the map is what the first paint waits for
  const layer = getJSON(`/api/map?scope=${state.scope}`);
  state.config = await getJSON("/api/config").catch(() => null);
  await loadMap(state.scope, layer);
  poll().then(fillFeedFilters);
  getJSON("/api/labels").then((labels) => { state.labels = labels; fillFeedFilters(); renderFeed(); }).catch(() => {});
  connectFeed();
  loadKpis();
  loadRanking();
  setInterval(poll, POLL_MS);
  setInterval(() => { loadKpis(); if (state.ward) openWard(state.ward); }, KPI_POLL_MS);
  setInterval(tick, 1000);
  tick();
}

$("lang-vi").addEventListener("click", () => setLanguage("vi"));
$("lang-en").addEventListener("click", () => setLanguage("en"));
$("scope-city").addEventListener("click", () => switchScope("city"));
$("scope-national").addEventListener("click", () => switchScope("national"));
$("colour-mode").addEventListener("change", (e) => { state.colourMode = e.target.value; colourMap(); });
$("kpi-period").addEventListener("change", () => { loadKpis(); if (state.ward) openWard(state.ward); });
$("ranking-month").addEventListener("change", loadRanking);
$("ward-close").addEventListener("click", closeWard);
$("incident-close").addEventListener("click", closeIncident);
document.addEventListener("keydown", (e) => { if (e.key === "Escape") { if (state.incident) closeIncident(); else if (state.ward) closeWard(); } });
bindFeedFilters();
start();
