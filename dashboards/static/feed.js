// The live feed: one line per incident (its routed events and later notices fold into it),
// events without an incident on their own line; filters by priority, category, source and ward;
// P4 sensor readings hidden unless asked for.
"use strict";

const FEED_MAX = 200;

const feed = {
  lines: new Map(), // key -> line ("inc:<id>" or the event item id)
  folded: new Map(), // event item id -> incident key
  status: { state: "off", message: "" },
  filters: { priority: "", category: "", source: "", ward: "", noise: false },
  pending: false,
};

function lineSources(line) {
  return line.type === "incident" ? (line.sources || []) : [line.source].filter(Boolean);
}

function isNoise(line) {
  const sources = lineSources(line);
  return line.priority === "P4" && sources.length > 0 && sources.every((s) => s === "sensor");
}

function passes(line) {
  const f = feed.filters;
  if (!f.noise && isNoise(line)) return false;
  if (f.priority && line.priority !== f.priority) return false;
  if (f.category && line.category !== f.category) return false;
  if (f.source && !lineSources(line).includes(f.source)) return false;
  if (f.ward && line.ward !== f.ward) return false;
  return true;
}

function takeItem(item) {
  if (item.type === "incident") {
    const key = `inc:${item.incident_id}`;
    const before = feed.lines.get(key);
    const line = { ...(before || {}), ...item, key, updates: (before ? before.updates : 0) + 1 };
    if (before && Date.parse(before.time || 0) > Date.parse(item.time || 0)) line.time = before.time; // a late backlog item
    for (const id of item.event_ids || []) {
      feed.folded.set(id, key);
      const event = feed.lines.get(id);
      if (event) {
        feed.lines.delete(id);
        if (!line.description && event.description) line.description = event.description;
      }
    }
    feed.lines.set(key, line);
  } else {
    const owner = feed.folded.get(item.id);
    if (owner && feed.lines.has(owner)) {
      const line = feed.lines.get(owner);
      if (Date.parse(item.time || 0) > Date.parse(line.time || 0)) line.time = item.time;
      return;
    }
    if (feed.lines.has(item.id)) return;
    feed.lines.set(item.id, { ...item, key: item.id });
  }
  if (feed.lines.size > FEED_MAX * 2) {
    const oldest = [...feed.lines.values()].sort((a, b) => Date.parse(a.time || 0) - Date.parse(b.time || 0));
    for (const line of oldest.slice(0, feed.lines.size - FEED_MAX)) feed.lines.delete(line.key);
  }
  scheduleFeed();
}

function scheduleFeed() {
  if (feed.pending) return;
  feed.pending = true;
  requestAnimationFrame(() => { feed.pending = false; renderFeed(); });
}

function feedLine(line) {
  const ward = line.ward_name || line.ward || "";
  const time = fmtTime(line.time);
  if (line.type === "incident") {
    return el("li", { class: `incident${line.breaches && line.breaches.length ? " breach" : ""}`, "data-type": "incident",
      "data-ward": line.ward || "", "data-priority": line.priority || "", "data-incident": line.incident_id,
      "data-sources": lineSources(line).join(" "),
      tabindex: "0", onclick: () => openIncident(line.incident_id),
      onkeydown: (e) => { if (e.key === "Enter") openIncident(line.incident_id); } },
    el("div", {}, priorityBadge(line.priority), " ", `${t("incident")} · ${category(line.category)} · ${ward}`),
    line.description ? el("div", { class: "text" }, line.description) : null,
    el("div", { class: "meta" }, el("span", {}, time), el("span", {}, `${t(`change_${line.change}`)}`),
      el("span", {}, line.status ? t(`status_${line.status}`) : ""),
      line.evidence_count ? el("span", {}, `${line.evidence_count} ${t("evidence")}`) : null,
      el("span", {}, lineSources(line).map((s) => t(`source_${s}`)).join(", "))));
  }
  const text = line.description || line.address || "";
  const who = line.reporter
    ? el("div", { class: "who" }, `${t("reporter")}: ${line.reporter.name || "–"} · ${line.reporter.phone || "–"}${line.masked ? ` (${t("masked")})` : ""}`)
    : null;
  return el("li", { class: `event${line.suppressed ? " suppressed" : ""}`, "data-type": "event", "data-ward": line.ward || "",
    "data-priority": line.priority || "", "data-sources": line.source || "", tabindex: "0", onclick: () => line.ward && openWard(line.ward) },
  el("div", {}, priorityBadge(line.priority), " ", `${category(line.category)} · ${ward}${line.ambiguous ? ` (${t("ambiguous")})` : ""}`),
  text ? el("div", { class: "text" }, text) : null,
  who,
  el("div", { class: "meta" }, el("span", {}, time), el("span", {}, line.source ? t(`source_${line.source}`) : ""),
    line.rule ? el("span", {}, line.rule) : null, line.suppressed ? el("span", {}, `${t("suppressed")}: ${line.suppressed}`) : null));
}

function renderFeed() {
  const list = $("feed");
  const lines = [...feed.lines.values()].filter(passes)
    .sort((a, b) => Date.parse(b.time || 0) - Date.parse(a.time || 0)).slice(0, FEED_MAX);
  const frag = document.createDocumentFragment();
  for (const line of lines) frag.append(feedLine(line));
  list.textContent = "";
  list.append(frag);
  renderFeedState(lines.length);
}

function renderFeedState(shown) {
  const s = feed.status;
  const live = s.state === "live";
  $("feed-state").textContent = live ? `● ${t("feed_live")}` : `${t("feed_down")}: ${s.message}`;
  $("feed-state").classList.toggle("live", live);
  const count = shown === undefined ? $("feed").children.length : shown;
  $("feed-empty").textContent = count ? "" : (live ? t("feed_waiting") : `${t("feed_down")}: ${s.message}`);
}

function fillFeedFilters() {
  const cat = $("filter-category");
  const chosen = cat.value;
  cat.textContent = "";
  cat.append(el("option", { value: "" }, t("all_categories")));
  const entries = Object.entries(state.labels.categories).sort((a, b) => a[1][state.lang].localeCompare(b[1][state.lang], locale()));
  for (const [kind, names] of entries) cat.append(el("option", { value: kind }, names[state.lang]));
  cat.value = chosen;
  const ward = $("filter-ward");
  const chosenWard = ward.value;
  ward.textContent = "";
  ward.append(el("option", { value: "" }, t("all_wards")));
  const rows = state.overview ? [...state.overview.wards].sort((a, b) => (a.name || "").localeCompare(b.name || "", "vi")) : [];
  for (const r of rows) ward.append(el("option", { value: r.code }, `${r.name} (${r.code})`));
  ward.value = chosenWard;
}

function bindFeedFilters() {
  const bind = (id, key, read) => $(id).addEventListener("change", (e) => { feed.filters[key] = read(e.target); renderFeed(); });
  bind("filter-priority", "priority", (n) => n.value);
  bind("filter-category", "category", (n) => n.value);
  bind("filter-source", "source", (n) => n.value);
  bind("filter-ward", "ward", (n) => n.value);
  bind("filter-noise", "noise", (n) => n.checked);
}

function connectFeed() {
  const source = new EventSource("/api/feed");
  source.addEventListener("status", (e) => { feed.status = JSON.parse(e.data); renderFeedState(); });
  source.addEventListener("item", (e) => takeItem(JSON.parse(e.data)));
  source.onerror = () => { feed.status = { state: "lost", message: t("feed_lost") }; renderFeedState(); };
}
