// KPIs per ward and for the city over a chosen period, and the monthly ward ranking by on-time
// rate (CSV export). Computed by the server from the incident state (routers/kpi.py): nothing is
// kept in the browser, so a reload shows the same figures.
"use strict";

const KPI_POLL_MS = 15000;

function currentMonth() {
  // the city's month: Vietnam time (UTC+7)
  return new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 7);
}

// a window from the address bar (?from=...&to=..., e.g. one shift) overrides the period and the month
function customWindow() {
  const params = new URLSearchParams(location.search);
  if (!params.get("from")) return "";
  const out = new URLSearchParams({ from: params.get("from") });
  if (params.get("to")) out.set("to", params.get("to"));
  return out.toString();
}

async function loadKpis() {
  const period = $("kpi-period").value;
  const custom = customWindow();
  $("kpi-period").disabled = Boolean(custom); // the address bar's window decides
  try {
    state.kpis = await getJSON(custom ? `/api/kpis?${custom}` : `/api/kpis?period=${encodeURIComponent(period)}`);
    const span = custom ? `${fmtDateTime(state.kpis.from)} – ${fmtDateTime(state.kpis.to)} · ` : "";
    $("kpi-caption").textContent = `${span}${t("updated")}: ${fmtTime(state.kpis.computed_at)}`;
  } catch (err) {
    state.kpis = null;
    $("kpi-caption").textContent = err.message;
  }
  kpiList($("city-kpis"), state.kpis ? state.kpis.city : {});
  $("city-kpis").dataset.period = state.kpis ? state.kpis.period : "";
  renderWardTable();
}

function cell(value, text, cls) {
  return el("td", { class: `num${value === null || value === undefined ? " nodata" : ""}${cls ? ` ${cls}` : ""}` },
    value === null || value === undefined ? "–" : text);
}

function renderWardTable() {
  const body = $("ward-table").querySelector("tbody");
  const ov = state.overview;
  if (!ov) return;
  const kpis = state.kpis ? state.kpis.wards : {};
  const frag = document.createDocumentFragment();
  for (const r of ov.wards) {
    const k = kpis[r.code] || null;
    const open = r.open === null ? r.open_serving : r.open;
    frag.append(el("tr", { "data-code": r.code, tabindex: "0", onclick: () => openWard(r.code) },
      el("td", {}, r.name || r.code), el("td", {}, r.code),
      cell(open, fmtInt(open), open > 0 ? "hot" : ""),
      cell(r.overdue, fmtInt(r.overdue), r.overdue > 0 ? "hot" : ""),
      cell(k && k.received, fmtInt(k && k.received)),
      cell(k && k.ack_on_time_rate, fmtPct(k && k.ack_on_time_rate)),
      cell(k && k.resolve_on_time_rate, fmtPct(k && k.resolve_on_time_rate)),
      cell(k ? k.median_ack_s : null, fmtDuration(k && k.median_ack_s)),
      cell(k ? k.p90_ack_s : null, fmtDuration(k && k.p90_ack_s)),
      cell(k ? k.median_resolve_s : null, fmtDuration(k && k.median_resolve_s)),
      cell(k ? k.p90_resolve_s : null, fmtDuration(k && k.p90_resolve_s)),
      cell(r.routed, fmtInt(r.routed))));
  }
  body.textContent = "";
  body.append(frag);
}

async function loadRanking() {
  const month = $("ranking-month").value || currentMonth();
  const custom = customWindow();
  const query = custom || `month=${month}`;
  $("ranking-csv").href = `/api/ranking?${query}&format=csv`;
  $("ranking-csv").setAttribute("download", `ioc-ward-ranking-${custom ? "window" : month}.csv`);
  $("ranking-month").disabled = Boolean(custom);
  let body;
  try {
    body = await getJSON(`/api/ranking?${query}`);
  } catch (err) {
    $("ranking-empty").hidden = false;
    $("ranking-empty").textContent = err.message;
    return;
  }
  state.ranking = body;
  const tbody = $("ranking-table").querySelector("tbody");
  const frag = document.createDocumentFragment();
  const decided = body.rows.filter((r) => r.received > 0);
  for (const r of decided) {
    frag.append(el("tr", { "data-code": r.ward, tabindex: "0", onclick: () => openWard(r.ward) },
      cell(r.rank, String(r.rank)), el("td", {}, `${r.ward_name} (${r.ward})`),
      cell(r.resolve_on_time_rate, fmtPct(r.resolve_on_time_rate)), cell(r.ack_on_time_rate, fmtPct(r.ack_on_time_rate)),
      cell(r.received, fmtInt(r.received)), cell(r.reports, fmtInt(r.reports))));
  }
  tbody.textContent = "";
  tbody.append(frag);
  $("ranking-empty").hidden = decided.length > 0;
  $("ranking-empty").textContent = t("ranking_empty");
  $("ranking-table").dataset.period = body.period;
}
