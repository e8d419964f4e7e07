// The ward map (Leaflet, canvas renderer): wards as vector data from /api/map, framed on the
// city's mainland with its far islands in insets, coloured by open / overdue / at-risk incidents,
// ward names once a ward is big enough on screen, cameras and sensors as layers to switch on.
// Zooming into the nationwide view swaps in the detailed polygons of the provinces in view.
"use strict";

const COLOURS = { zero: "#24415a", l1: "#6b5a2a", l2: "#b7792b", l3: "#e08a2c", l4: "#e5562e", l5: "#c81d25", nodata: "#3a434c" };
const LABEL_MIN_PX = 70; // a ward is named once its box is this wide on screen
const LABEL_MAX = 250;
const DETAIL_ZOOM = 9; // nationwide: from this zoom, the provinces in view in full detail
const DETAIL_MAX_PROVINCES = 6;

const mapState = {
  map: null,
  renderer: null,
  layer: null, // L.GeoJSON of the current scope
  byCode: new Map(), // ward code -> [L.Path, ...] (main map and insets)
  props: new Map(), // ward code -> feature properties
  labels: null,
  insets: [],
  data: null,
  breaks: [1, 2, 3, 4, 5],
  detail: new Map(), // province code -> L.GeoJSON (nationwide detail)
  coarse: new Map(), // province code -> [layers] of the coarse nationwide layer
  provinceBounds: new Map(),
  devices: null,
};

function breaks(max) {
  if (max <= 5) return [1, 2, 3, 4, 5];
  const step = max / 5;
  return [1, 2, 3, 4, 5].map((i) => Math.max(i, Math.round(step * i)));
}

function level(value, bounds) {
  if (value <= 0) return "zero";
  for (let i = 0; i < bounds.length; i += 1) if (value <= bounds[i]) return `l${i + 1}`;
  return "l5";
}

function mapValues() {
  const ov = state.overview;
  if (!ov) return null;
  if (state.colourMode === "open") return hasNumbers(ov) ? ov.map_values.open || {} : null;
  if (ov.incidents.state !== "ok") return null;
  return (state.colourMode === "overdue" ? ov.map_values.overdue : ov.map_values.at_risk) || {};
}

function wardStyle(code) {
  const values = mapValues();
  const cls = values === null ? "nodata" : level(values[code] || 0, mapState.breaks);
  const overdue = state.overview && (state.overview.map_values.overdue || {})[code];
  const selected = state.ward === code;
  return {
    fillColor: COLOURS[cls], fillOpacity: mapState.tiles ? 0.55 : 0.92,
    color: selected ? "#ffffff" : overdue ? "#ffd23f" : "#0f1720",
    weight: selected ? 3 : overdue ? 2.2 : (state.scope === "national" ? 0.4 : 1),
  };
}

function colourMap() {
  if (!mapState.map) return;
  const values = mapValues() || {};
  let max = 0;
  for (const code of mapState.byCode.keys()) max = Math.max(max, values[code] || 0);
  mapState.breaks = breaks(max);
  for (const [code, paths] of mapState.byCode) {
    const style = wardStyle(code);
    for (const p of paths) p.setStyle(style);
  }
  renderLegend();
}

function renderLegend() {
  const legend = $("legend");
  const b = mapState.breaks;
  legend.textContent = "";
  legend.append(el("span", {}, `${t({ open: "mode_open", overdue: "mode_overdue", at_risk: "mode_risk" }[state.colourMode])}:`));
  const swatches = [["zero", "0"]];
  let low = 1;
  b.forEach((high, i) => {
    if (high >= low) swatches.push([`l${i + 1}`, i === b.length - 1 ? `≥ ${low}` : (high === low ? `${low}` : `${low}–${high}`)]);
    low = high + 1;
  });
  for (const [cls, text] of swatches) legend.append(el("span", {}, el("i", { class: `sw ${cls}` }), text));
  legend.append(el("span", {}, el("i", { class: "sw overdue" }), t("legend_overdue")));
  legend.append(el("span", {}, el("i", { class: "sw nodata" }), t("legend_nodata")));
}

// -- hover ---------------------------------------------------------------------------------------
function showTooltip(code, containerPoint) {
  const tip = $("tooltip");
  const ward = mapState.props.get(code) || {};
  const ov = state.overview;
  const row = ov ? ov.wards.find((r) => r.code === code) : null;
  const incidentsOk = ov && ov.incidents.state === "ok";
  const lines = [
    [t("open"), hasNumbers(ov) ? fmtInt(ov.map_values.open[code] || 0) : (row && row.open_serving !== null ? fmtInt(row.open_serving) : t("no_data"))],
    [t("overdue"), incidentsOk ? fmtInt(ov.map_values.overdue[code] || 0) : t("no_data")],
    [t("at_risk"), incidentsOk ? fmtInt((ov.map_values.at_risk || {})[code] || 0) : t("no_data")],
  ];
  if (row) lines.push([t("median_ack"), fmtDuration(row.median_ack_s)], [t("routed"), row.routed === null ? t("no_data") : fmtInt(row.routed)]);
  if (ward.population) lines.push([t("population"), fmtInt(ward.population)]);
  if (ward.area_km2) lines.push([t("area"), `${fmtNum(ward.area_km2, 1)} km²`]);
  const dl = el("dl");
  for (const [k, v] of lines) dl.append(el("dt", {}, k), el("dd", {}, v));
  tip.textContent = "";
  tip.append(el("b", {}, ward.name || code), el("small", {}, code), dl);
  const wrap = $("map-wrap").getBoundingClientRect();
  let x = containerPoint.x + 14;
  let y = containerPoint.y + 14;
  tip.hidden = false;
  if (x + tip.offsetWidth > wrap.width) x -= tip.offsetWidth + 28;
  if (y + tip.offsetHeight > wrap.height) y -= tip.offsetHeight + 28;
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

function hideTooltip() { $("tooltip").hidden = true; }

function wardLayer(features, inset) {
  return L.geoJSON(features, {
    // one canvas renderer per map: the insets get their own
    renderer: inset ? L.canvas({ padding: 0.1 }) : mapState.renderer,
    smoothFactor: state.scope === "national" ? 2.5 : 1, // screen-space simplification: the nationwide view stays fluid
    style: (f) => wardStyle(f.properties.code),
    onEachFeature: (feature, layer) => {
      const code = feature.properties.code;
      if (!mapState.byCode.has(code)) mapState.byCode.set(code, []);
      mapState.byCode.get(code).push(layer);
      mapState.props.set(code, feature.properties);
      layer.on("click", () => openWard(code));
      if (!inset) {
        layer.on("mousemove", (e) => showTooltip(code, e.containerPoint));
        layer.on("mouseout", hideTooltip);
      }
    },
  });
}

// -- labels --------------------------------------------------------------------------------------
function updateLabels() {
  const map = mapState.map;
  if (!map || !mapState.labels) return;
  mapState.labels.clearLayers();
  const view = map.getBounds();
  const placed = []; // boxes of the names already placed: a name never covers another
  const candidates = [];
  for (const [code, paths] of mapState.byCode) {
    const main = paths.find((p) => p._map === map);
    if (!main) continue;
    const bounds = main.getBounds();
    if (!view.intersects(bounds)) continue;
    const a = map.latLngToContainerPoint(bounds.getSouthWest());
    const b = map.latLngToContainerPoint(bounds.getNorthEast());
    const width = Math.abs(b.x - a.x);
    if (width >= LABEL_MIN_PX) candidates.push([width, code]);
  }
  candidates.sort((x, y) => y[0] - x[0]); // the biggest wards first
  for (const [, code] of candidates) {
    if (placed.length >= LABEL_MAX) break;
    const props = mapState.props.get(code);
    const text = props.name || code;
    const at = map.latLngToContainerPoint(props.label);
    const half = (text.length * 6.4) / 2 + 2;
    const box = [at.x - half, at.y - 8, at.x + half, at.y + 8];
    if (placed.some((o) => box[0] < o[2] && box[2] > o[0] && box[1] < o[3] && box[3] > o[1])) continue;
    placed.push(box);
    const name = el("span", { "data-code": code }, text);
    mapState.labels.addLayer(L.tooltip({ permanent: true, direction: "center", className: "ward-label", interactive: false })
      .setLatLng(props.label).setContent(name));
  }
  $("map").dataset.labels = String(placed.length);
}

// -- insets (islands far offshore) ---------------------------------------------------------------
function clearInsets() {
  for (const inset of mapState.insets) inset.map.remove();
  mapState.insets = [];
  $("insets").textContent = "";
}

function drawInsets(data) {
  clearInsets();
  if (data.scope !== "city") return;
  for (const spec of data.frame.insets || []) {
    const codes = new Set(spec.codes);
    const names = data.features.filter((f) => codes.has(f.properties.code)).map((f) => f.properties.name);
    const box = el("div", { class: "inset" });
    const caption = el("button", { class: "inset-caption", type: "button", title: names.join(", ") }, names.join(", "));
    const frame = el("div", { class: "inset-map" });
    box.append(frame, caption);
    $("insets").append(box);
    const map = L.map(frame, { zoomControl: false, attributionControl: false, dragging: false, scrollWheelZoom: false,
      doubleClickZoom: false, boxZoom: false, keyboard: false, touchZoom: false, zoomSnap: 0.1 });
    const layer = wardLayer(data.features.filter((f) => codes.has(f.properties.code)), true).addTo(map);
    map.fitBounds(L.latLngBounds([spec.bounds[1], spec.bounds[0]], [spec.bounds[3], spec.bounds[2]]), { padding: [6, 6] });
    // the caption flies the main map there
    caption.addEventListener("click", () => mapState.map.fitBounds(layer.getBounds(), { padding: [20, 20] }));
    mapState.insets.push({ map, layer, codes });
  }
}

// -- nationwide detail per zoom ------------------------------------------------------------------
async function refreshDetail() {
  const map = mapState.map;
  if (!map || state.scope !== "national") return;
  const wanted = new Set();
  if (map.getZoom() >= DETAIL_ZOOM) {
    const view = map.getBounds();
    for (const [code, bounds] of mapState.provinceBounds) if (view.intersects(bounds)) wanted.add(code);
  }
  const chosen = [...wanted].slice(0, DETAIL_MAX_PROVINCES);
  for (const [code, layer] of mapState.detail) {
    if (!chosen.includes(code)) {
      map.removeLayer(layer);
      mapState.detail.delete(code);
      for (const coarse of mapState.coarse.get(code) || []) mapState.layer.addLayer(coarse);
      forgetLayers(layer);
    }
  }
  for (const code of chosen) {
    if (mapState.detail.has(code)) continue;
    mapState.detail.set(code, null);
    try {
      const data = await getJSON(`/api/map?scope=province&province=${code}`);
      if (state.scope !== "national" || !mapState.detail.has(code)) continue;
      for (const coarse of mapState.coarse.get(code) || []) mapState.layer.removeLayer(coarse);
      const layer = wardLayer(data.features, false).addTo(map);
      mapState.detail.set(code, layer);
    } catch (err) {
      mapState.detail.delete(code);
    }
  }
  updateLabels();
}

function forgetLayers(group) {
  const gone = new Set(group.getLayers());
  for (const [code, paths] of mapState.byCode) mapState.byCode.set(code, paths.filter((p) => !gone.has(p)));
}

// -- devices -------------------------------------------------------------------------------------
async function loadDevices(control) {
  let body;
  try {
    body = await getJSON("/api/devices");
  } catch (err) {
    return;
  }
  const cameras = L.layerGroup();
  const sensors = L.layerGroup();
  for (const d of body.devices) {
    const isCamera = /cam/i.test(d.kind);
    const marker = L.circleMarker([d.lat, d.lon], { renderer: mapState.renderer, radius: 4, weight: 1,
      color: "#0f1720", fillOpacity: 0.95, fillColor: isCamera ? "#4aa3ff" : "#3fb68b", className: isCamera ? "camera" : "sensor" });
    marker.bindTooltip(`${d.id} · ${d.kind}${d.description ? ` · ${d.description}` : ""}`);
    (isCamera ? cameras : sensors).addLayer(marker);
  }
  mapState.devices = { cameras, sensors, control };
  nameDeviceLayers();
}

// the layer switcher's names follow the language
function nameDeviceLayers() {
  const d = mapState.devices;
  if (!d) return;
  for (const [layer, key] of [[d.cameras, "cameras"], [d.sensors, "sensors"]]) {
    d.control.removeLayer(layer);
    d.control.addOverlay(layer, `${t(key)} (${layer.getLayers().length})`);
  }
}

// -- the map -------------------------------------------------------------------------------------
function createMap() {
  const map = L.map("map", { preferCanvas: true, zoomSnap: 0.25, zoomDelta: 0.5, wheelPxPerZoomLevel: 90,
    minZoom: 4, maxZoom: 18, keyboard: true, attributionControl: Boolean(state.config && state.config.tile_url) });
  mapState.renderer = L.canvas({ padding: 0.3, tolerance: 2 });
  if (state.config && state.config.tile_url) {
    L.tileLayer(state.config.tile_url, { maxZoom: 19 }).addTo(map);
    mapState.tiles = true;
  }
  mapState.labels = L.layerGroup().addTo(map);
  const control = L.control.layers(null, null, { collapsed: false, position: "topright" }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  map.on("zoomend moveend", () => { updateLabels(); refreshDetail(); });
  map.on("mouseout", hideTooltip);
  mapState.map = map;
  window.iocMap = map;
  // the panels beside the map change its size: Leaflet must know, or it draws beside the view
  new ResizeObserver(() => map.invalidateSize({ pan: false })).observe($("map"));
  loadDevices(control);
}

async function loadMap(scope, pending) {
  $("map-status").textContent = t("loading_map");
  $("map-status").hidden = false;
  let data;
  try {
    data = await (pending || getJSON(`/api/map?scope=${scope}`));
  } catch (err) {
    $("map-status").textContent = err.message;
    return;
  }
  if (scope !== state.scope) return; // the user switched while it loaded
  performance.mark("ioc-map-data");
  drawMap(data);
}

function drawMap(data) {
  if (!mapState.map) createMap();
  const map = mapState.map;
  if (mapState.layer) map.removeLayer(mapState.layer);
  for (const layer of mapState.detail.values()) if (layer) map.removeLayer(layer);
  mapState.detail = new Map();
  mapState.byCode = new Map();
  mapState.props = new Map();
  mapState.data = data;
  mapState.layer = wardLayer(data.features, false).addTo(map);
  mapState.coarse = new Map();
  mapState.provinceBounds = new Map();
  if (data.scope === "national") {
    for (const layer of mapState.layer.getLayers()) {
      const code = layer.feature.properties.province_code;
      if (!mapState.coarse.has(code)) mapState.coarse.set(code, []);
      mapState.coarse.get(code).push(layer);
      const b = layer.getBounds();
      if (mapState.provinceBounds.has(code)) mapState.provinceBounds.get(code).extend(b);
      else mapState.provinceBounds.set(code, L.latLngBounds(b.getSouthWest(), b.getNorthEast()));
    }
  }
  const frame = data.frame.main || data.bounds;
  map.fitBounds(L.latLngBounds([frame[1], frame[0]], [frame[3], frame[2]]), { animate: false, padding: [8, 8] });
  drawInsets(data);
  $("map-status").hidden = true;
  $("map-caption").textContent = `${fmtInt(data.ward_count)} ${t("wards_of")} · ${t("generation")} ${data.generation}`;
  colourMap();
  updateLabels();
  requestAnimationFrame(() => requestAnimationFrame(() => {
    // two frames: the canvas is drawn; the browser test reads this
    window.iocMapPaintedAt = performance.now();
    $("map").dataset.wards = String(mapState.byCode.size);
    $("map").dataset.scope = data.scope;
  }));
}

// the browser test and the keyboard: centre a ward and zoom until its name shows
function zoomToWard(code, zoom) {
  const paths = mapState.byCode.get(code) || [];
  const main = paths.find((p) => p._map === mapState.map);
  if (!main) return false;
  mapState.map.setView(main.getBounds().getCenter(), zoom || mapState.map.getZoom(), { animate: false });
  return true;
}
