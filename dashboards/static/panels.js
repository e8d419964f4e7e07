// Drill-downs: a ward (open incidents with SLA clocks, recent incidents, KPIs) and an incident
// (status timeline with actors, evidence with snapshots and readings, reporters as the viewer may
// see them, SLA countdown and escalation, the rules trace that routed it).
"use strict";

function kpiList(node, k) {
  node.textContent = "";
  const rows = [
    ["kpi_received", fmtInt(k.received)], ["kpi_reports", fmtInt(k.reports)],
    ["kpi_ack_rate", `${fmtPct(k.ack_on_time_rate)} (${fmtInt(k.ack_on_time)}/${fmtInt(k.ack_decided)})`],
    ["kpi_resolve_rate", `${fmtPct(k.resolve_on_time_rate)} (${fmtInt(k.resolve_on_time)}/${fmtInt(k.resolve_decided)})`],
    ["kpi_median_ack", fmtDuration(k.median_ack_s)], ["kpi_p90_ack", fmtDuration(k.p90_ack_s)],
    ["kpi_median_resolve", fmtDuration(k.median_resolve_s)], ["kpi_p90_resolve", fmtDuration(k.p90_resolve_s)],
    ["kpi_open", fmtInt(k.open_now)], ["kpi_overdue", fmtInt(k.overdue_now)],
  ];
  for (const [key, value] of rows) node.append(el("div", { "data-kpi": key }, el("dt", {}, t(key)), el("dd", {}, value)));
}

// a clock span re-rendered by tickClocks() every second
function clock(due, done, paused) {
  const c = fmtClock(due, done, paused);
  return el("span", { class: `clock ${c.cls}`, "data-due": due || "", "data-done": done || "", "data-paused": paused || "" }, c.text);
}

function tickClocks() {
  for (const node of document.querySelectorAll(".clock[data-due]")) {
    const c = fmtClock(node.dataset.due || null, node.dataset.done || null, node.dataset.paused || null);
    node.textContent = c.text;
    node.className = `clock ${c.cls}`;
  }
}

function incidentRow(i) {
  const acked = Boolean(i.acknowledged_at);
  return el("li", { class: `${i.overdue ? "overdue" : ""}${i.at_risk ? " risk" : ""}`, "data-incident": i.id, tabindex: "0",
    onclick: () => openIncident(i.id), onkeydown: (e) => { if (e.key === "Enter") openIncident(i.id); } },
  el("div", {}, priorityBadge(i.priority), " ", category(i.kind), " · ", t(`status_${i.status}`)),
  el("div", { class: "meta" },
    el("span", {}, `${t("ack_due")}: `, clock(i.ack_due, i.acknowledged_at, i.paused_since)),
    acked || i.resolved_at ? el("span", {}, `${t("resolve_due")}: `, clock(i.resolve_due, i.resolved_at, i.paused_since)) : null,
    i.escalation_level ? el("span", { class: "esc" }, `${t("escalation")} ${i.escalation_level}`) : null,
    el("span", {}, `${i.evidence_count} ${t("evidence")}`), el("span", {}, fmtTime(i.created_at))));
}

async function openWard(code) {
  state.ward = code;
  colourMap();
  const panel = $("ward-panel");
  panel.hidden = false;
  panel.dataset.code = code;
  const props = mapState.props.get(code) || {};
  $("ward-title").textContent = props.name || code;
  $("ward-code").textContent = code;
  let body;
  try {
    body = await getJSON(`/api/wards/${code}?period=${$("kpi-period").value}`);
  } catch (err) {
    $("ward-kpis").textContent = err.message;
    return;
  }
  if (state.ward !== code) return;
  state.wardBody = body;
  renderWard(body);
}

function renderWard(body) {
  $("ward-title").textContent = body.name;
  kpiList($("ward-kpis"), body.kpis);
  const open = $("ward-open");
  open.textContent = "";
  for (const i of body.open) open.append(incidentRow(i));
  $("ward-open-empty").hidden = body.open.length > 0;
  const recent = $("ward-recent");
  recent.textContent = "";
  for (const i of body.recent.filter((r) => !body.open.some((o) => o.id === r.id)).slice(0, 15)) recent.append(incidentRow(i));
  const events = $("ward-events");
  events.textContent = "";
  for (const item of body.events || []) events.append(feedLine({ ...item, key: item.id }));
  $("ward-panel").dataset.loaded = body.code;
}

function closeWard() {
  state.ward = null;
  $("ward-panel").hidden = true;
  colourMap();
}

// -- incident view -------------------------------------------------------------------------------
function sparkline(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const w = 220;
  const h = 48;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "chart");
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const points = values.map((v, i) => `${(i / Math.max(values.length - 1, 1)) * (w - 4) + 2},${h - 4 - ((v - min) / span) * (h - 8)}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  for (const p of points) {
    const dot = document.createElementNS(ns, "circle");
    const [x, y] = p.split(",");
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", y);
    dot.setAttribute("r", "2");
    svg.append(dot);
  }
  return svg;
}

function thumbnail(url, label) {
  const link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "thumb" });
  const img = el("img", { src: url, alt: label, loading: "eager", referrerpolicy: "no-referrer", width: "160" });
  img.addEventListener("error", () => link.replaceWith(el("span", { class: "thumb missing" }, t("snapshot_missing"))));
  link.append(img);
  return link;
}

function evidenceItem(e) {
  const d = e.detail;
  const head = el("div", {}, el("span", { class: `src ${e.source}` }, t(`source_${e.source}`)), " ", category(e.kind), " · ",
    fmtDateTime(e.occurred_at), e.device_id ? ` · ${e.device_id}` : "", e.suppressed ? ` · ${t("suppressed")}` : "");
  // pictures (camera snapshot, citizen photos) come through the dashboard: the page loads images from its own origin
  const body = ((d && d.images) || []).map((url, n) => thumbnail(url, n === 0 && e.source === "camera" ? `${e.kind} ${e.device_id || ""}` : t("photo")));
  if (!d) {
    body.push(el("div", { class: "muted" }, t("no_detail")));
  } else {
    if (d.description) body.push(el("div", { class: "text" }, d.description));
    if (d.address) body.push(el("div", { class: "muted" }, d.address));
    if (d.value !== undefined && d.value !== null) body.push(el("div", {}, `${fmtNum(d.value, 2)} ${d.unit || ""}`));
    if (d.confidence !== undefined) body.push(el("div", { class: "muted" }, `confidence ${fmtNum(d.confidence, 2)}`));
    if (d.reporter) body.push(el("div", { class: "who" }, `${t("reporter")}: ${d.reporter.name || "–"} · ${d.reporter.phone || "–"}${d.masked ? ` (${t("masked")})` : ""}`));
    else if (d.reporter_retained === false) body.push(el("div", { class: "who muted" }, t("reporter_not_retained")));
  }
  return el("li", { class: `ev ${e.source}`, "data-event": e.event_id }, head, body);
}

function renderIncident(inc) {
  $("incident-title").textContent = `${category(inc.kind)} · ${inc.ward_name || inc.ward}`;
  const head = $("incident-head");
  head.textContent = "";
  head.append(...[priorityBadge(inc.priority), el("span", {}, t(`status_${inc.status}`)), el("span", {}, inc.id),
    el("span", {}, fmtDateTime(inc.created_at)), inc.moved_to ? el("span", {}, `→ ${inc.moved_to}`) : null].filter(Boolean));
  const sla = $("incident-sla");
  sla.textContent = "";
  sla.append(
    el("div", {}, el("dt", {}, t("ack_due")), el("dd", {}, clock(inc.ack_due, inc.acknowledged_at, inc.paused_since))),
    el("div", {}, el("dt", {}, t("resolve_due")), el("dd", {}, clock(inc.resolve_due, inc.resolved_at, inc.paused_since))),
    el("div", {}, el("dt", {}, t("escalation")), el("dd", { class: inc.escalation_level ? "esc" : "" }, t(`level_${Math.min(inc.escalation_level || 0, 2)}`),
      (inc.escalations || []).map((x) => el("small", {}, ` ${x.kind} → ${(x.targets || []).join(", ")} ${fmtTime(x.at)}`)))));
  const timeline = $("incident-timeline");
  timeline.textContent = "";
  for (const h of inc.history || []) {
    timeline.append(el("li", { "data-status": h.status },
      el("time", {}, fmtDateTime(h.at)), " ", el("b", {}, t(`status_${h.status}`)),
      el("span", { class: "muted" }, ` · ${t("actor")}: ${h.actor}`), h.note ? el("span", {}, ` · ${h.note}`) : null));
  }
  const evidence = $("incident-evidence");
  evidence.textContent = "";
  // one small chart per sensor: its readings in the order they came
  const bySensor = new Map();
  for (const e of inc.evidence || []) {
    if (e.source !== "sensor" || typeof e.value !== "number") continue;
    const key = e.device_id || e.kind;
    if (!bySensor.has(key)) bySensor.set(key, []);
    bySensor.get(key).push(e);
  }
  for (const [device, readings] of bySensor) {
    if (readings.length < 2) continue;
    const values = readings.map((e) => e.value);
    evidence.append(el("li", { class: "ev chart-row", "data-device": device },
      el("div", {}, `${t("source_sensor")} ${device}: ${category(readings[0].kind)} ${fmtNum(Math.min(...values), 2)}–${fmtNum(Math.max(...values), 2)}`),
      sparkline(values)));
  }
  for (const e of inc.evidence || []) evidence.append(evidenceItem(e));
  const routing = $("incident-routing");
  routing.textContent = "";
  if (inc.routing) {
    routing.append(el("div", {}, `${t("rule")}: `, el("b", {}, inc.routing.rule || "–"), ` (${(inc.routing.matched || []).join(" → ")}) · ${inc.routing.rules_version || ""}`),
      el("div", {}, `${t("targets")}: ${(inc.routing.targets || inc.targets || []).join(", ")}`),
      el("ol", { class: "trace" }, (inc.routing.trace || []).map((line) => el("li", {}, line))));
  } else {
    routing.append(el("div", {}, `${t("targets")}: ${(inc.targets || []).join(", ")}`), el("div", { class: "muted" }, t("no_detail")));
  }
}

async function openIncident(id) {
  state.incident = id;
  const view = $("incident-view");
  view.hidden = false;
  view.dataset.incident = id;
  let inc;
  try {
    inc = await getJSON(`/api/incidents/${encodeURIComponent(id)}/view`);
  } catch (err) {
    $("incident-title").textContent = err.message;
    return;
  }
  if (state.incident !== id) return;
  state.incidentBody = inc;
  renderIncident(inc);
  view.dataset.loaded = id;
}

function closeIncident() {
  state.incident = null;
  $("incident-view").hidden = true;
}
