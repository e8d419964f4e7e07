// ioc-router operations dashboard: shared state, helpers, the overview (banners, stats).
// Scripts, in order: i18n.js, app.js, map.js (Leaflet), feed.js, panels.js (ward, incident),
// kpi.js (KPIs, ranking), start.js. Nothing inline (the page runs under a strict CSP), nothing
// from the internet: Leaflet is served by the dashboard from node_modules (npm ci).
"use strict";

const POLL_MS = 5000;

const state = {
  lang: localStorage.getItem("ioc.lang") || "vi",
  scope: "city",
  config: null,
  overview: null,
  labels: { categories: {} },
  colourMode: "open",
  ward: null, // the ward open in the drill-down
  incident: null, // the incident open in the incident view
  kpis: null,
  ranking: null,
};

const $ = (id) => document.getElementById(id);
const t = (key) => (LABELS[key] ? LABELS[key][state.lang] : key);
const locale = () => (state.lang === "vi" ? "vi-VN" : "en-GB");
const fmtInt = (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString(locale()));
const fmtNum = (n, digits) => (n === null || n === undefined ? "–" : Number(n).toLocaleString(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const fmtPct = (r) => (r === null || r === undefined ? "–" : `${fmtNum(r * 100, 1)} %`);
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleTimeString(locale()) : "");
const fmtDateTime = (iso) => (iso ? new Date(iso).toLocaleString(locale()) : "");

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.abs(seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${fmtNum(s, 1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${fmtNum(s / 3600, 1)} h`;
}

// "12:03 left" / "late by 4 min": the SLA clock of a deadline, re-rendered every second
function fmtClock(dueIso, doneIso, pausedIso) {
  if (!dueIso) return { text: "–", cls: "" };
  const due = Date.parse(dueIso);
  if (doneIso) {
    const ok = Date.parse(doneIso) <= due;
    return { text: ok ? t("met") : `${t("missed")} (${fmtDuration((Date.parse(doneIso) - due) / 1000)})`, cls: ok ? "ok" : "late" };
  }
  if (pausedIso) return { text: t("paused"), cls: "paused" };
  const left = (due - Date.now()) / 1000;
  if (left >= 0) {
    const m = Math.floor(left / 60);
    const sec = Math.floor(left % 60);
    return { text: `${t("left")} ${m}:${String(sec).padStart(2, "0")}`, cls: left < 300 ? "soon" : "" };
  }
  return { text: `${t("late_by")} ${fmtDuration(-left)}`, cls: "late" };
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function category(kind) {
  const known = state.labels.categories[kind];
  return known ? known[state.lang] : kind || "";
}

function priorityBadge(priority) {
  return el("span", { class: `pri ${priority || ""}` }, priority || "?");
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `${response.status} ${response.statusText}`);
  return body;
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

function hasNumbers(ov) {
  return ov && (ov.metrics.state === "ok" || ov.metrics.state === "partial");
}

function renderOverview(ov) {
  const m = ov.metrics;
  const b = ov.boundaries;
  const numbers = hasNumbers(ov);
  banner("banner-approximate", b.approximate ? "warn" : "info", b.approximate ? t("approximate_banner") : b.reference ? t("reference_banner") : "");
  banner("banner-boundaries", "bad", b.state !== "ok" ? b.message : "");
  banner("banner-metrics", m.state === "partial" ? "warn" : "bad", metricsSentence(m));
  banner("banner-incidents", "info", ov.incidents.state !== "ok" ? `${t("incidents_unavailable")}: ${ov.incidents.message}` : "");
  if (!numbers) {
    for (const id of ["stat-rate", "stat-latency", "stat-deadletter", "stat-unroutable", "stat-breaches"]) setStat(id, t("no_data"), true);
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
  colourMap();
  renderWardTable();
  $("viewer").textContent = `${t("viewer")}: ${ov.viewer.name}${ov.viewer.wards.length ? ` (${ov.viewer.wards.join(", ")})` : ""}`;
  $("updated").textContent = `${t("updated")}: ${new Date(ov.generated_at).toLocaleTimeString(locale())}`;
  $("city-name").textContent = `· ${ov.city.toUpperCase()}`;
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
