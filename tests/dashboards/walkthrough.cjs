// An IOC operator's walk through the dashboard, in Debian's headless Chromium driven by
// playwright-core (npm; never `npx playwright install`: the browser is /usr/bin/chromium).
// Called by tests/dashboards/test_walkthrough.py with one JSON argument; prints one JSON result.
// Every step saves a screenshot in `shots`.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");
const { loadTimes, frameSteps } = require("../../benchmarks/page_timing.cjs");

const args = JSON.parse(process.argv[2]);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

async function main() {
  const result = { steps: [], console: [] };
  fs.mkdirSync(args.shots, { recursive: true });
  const context = await chromium.launchPersistentContext(args.profile, {
    executablePath: args.chromium || "/usr/bin/chromium", headless: true, args: FLAGS,
    viewport: { width: 1680, height: 1250 }, acceptDownloads: true,
  });
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") result.console.push(m.text()); });
  page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
  const shot = async (name) => {
    await page.screenshot({ path: path.join(args.shots, `${name}.png`) });
    result.steps.push(name);
  };
  try {
    // 1. the page loads with the wall-screen token; the city's wards on the map
    const started = Date.now();
    await page.goto(`${args.url}/?token=${encodeURIComponent(args.token)}&lang=vi&from=${encodeURIComponent(args.from)}`);
    await page.waitForFunction((n) => document.getElementById("map").dataset.wards === String(n), args.cityWards, { timeout: 30000 });
    result.city_load = {
      wall_ms: Date.now() - started,
      ...(await loadTimes(page)),
      dom_content_loaded_ms: await page.evaluate(() => performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd),
      resources: await page.evaluate(() => performance.getEntriesByType("resource").map((r) => [r.name.replace(location.origin, ""), Math.round(r.startTime), Math.round(r.responseEnd)])),
    };
    await page.waitForFunction(() => state.overview && state.kpis, null, { timeout: 30000 });
    await shot("01-city-map");

    // 2. zoom into District 1 with the mouse wheel over Bến Thành until its name shows on the map
    const target = args.ward;
    let zooms = 0;
    for (; zooms < 30; zooms += 1) {
      const label = page.locator(".ward-label span", { hasText: target.name });
      if (await label.count() && await label.first().isVisible()) break;
      const point = await page.evaluate((code) => {
        const props = mapState.props.get(code);
        const p = iocMap.latLngToContainerPoint(props.label);
        const box = document.getElementById("map").getBoundingClientRect();
        return { x: box.left + p.x, y: box.top + p.y };
      }, target.code);
      await page.mouse.move(point.x, point.y);
      await page.mouse.wheel(0, -240);
      await page.waitForTimeout(350);
    }
    result.zoom = { wheel_steps: zooms, zoom: await page.evaluate(() => iocMap.getZoom()) };
    const labels = await page.$$eval(".ward-label span", (nodes) => nodes.map((n) => {
      const r = n.getBoundingClientRect();
      const m = document.getElementById("map").getBoundingClientRect();
      return { text: n.textContent, code: n.dataset.code, inside: r.left >= m.left && r.right <= m.right && r.top >= m.top && r.bottom <= m.bottom };
    }));
    result.labels = labels;
    await shot("02-district1-labels");
    // keyboard: the map pans and zooms from the keyboard too
    await page.focus("#map");
    const view = () => page.evaluate(() => [iocMap.getCenter().lng, iocMap.getZoom()]);
    const before = await view();
    await page.keyboard.press("ArrowRight");
    await page.waitForTimeout(500);
    const panned = await view();
    await page.keyboard.press("Minus");
    await page.waitForTimeout(600);
    const zoomedOut = await view();
    await page.keyboard.press("Equal");
    await page.keyboard.press("ArrowLeft");
    await page.waitForTimeout(700);
    const after = await view();
    result.keyboard = { before, panned, zoomed_out: zoomedOut, after };

    // 3. click the ward: its incidents, SLA clocks and KPIs
    const click = await page.evaluate((code) => {
      const props = mapState.props.get(code);
      const p = iocMap.latLngToContainerPoint(props.label);
      const box = document.getElementById("map").getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y + 14 };
    }, target.code);
    await page.mouse.click(click.x, click.y);
    await page.waitForFunction((code) => document.getElementById("ward-panel").dataset.loaded === code, target.code, { timeout: 20000 });
    await page.waitForSelector(`#ward-open li[data-incident="${args.incident}"]`, { timeout: 20000 });
    result.ward = {
      title: await page.textContent("#ward-title"),
      open: await page.$$eval("#ward-open li", (n) => n.map((li) => ({ id: li.dataset.incident, text: li.textContent }))),
      kpis: await page.$$eval("#ward-kpis [data-kpi]", (n) => Object.fromEntries(n.map((d) => [d.dataset.kpi, d.querySelector("dd").textContent]))),
    };
    await shot("03-ward-drilldown");

    // 4. open the incident: timeline with actors, evidence with a snapshot thumbnail
    await page.click(`#ward-open li[data-incident="${args.incident}"]`);
    await page.waitForFunction((id) => document.getElementById("incident-view").dataset.loaded === id, args.incident, { timeout: 20000 });
    await page.waitForFunction(() => [...document.querySelectorAll("#incident-evidence img")].some((i) => i.complete && i.naturalWidth > 0), null, { timeout: 20000 });
    result.incident = {
      timeline: await page.$$eval("#incident-timeline li", (n) => n.map((li) => ({ status: li.dataset.status, text: li.textContent }))),
      thumbnails: await page.$$eval("#incident-evidence img", (n) => n.map((i) => ({ src: i.src, width: i.naturalWidth }))),
      evidence: await page.$$eval("#incident-evidence li.ev", (n) => n.map((li) => li.textContent)),
      sla: await page.textContent("#incident-sla"),
      routing: await page.textContent("#incident-routing"),
    };
    await shot("04-incident-view");
    await page.click("#incident-close");
    // the water-level gauge's incident: its readings as a small chart
    await page.evaluate((id) => openIncident(id), args.gauge);
    await page.waitForFunction((id) => document.getElementById("incident-view").dataset.loaded === id, args.gauge, { timeout: 20000 });
    result.gauge = {
      points: await page.$$eval('#incident-evidence li[data-device="wl-d1-benthanh"] svg.chart circle', (n) => n.length),
      values: await page.$$eval("#incident-evidence li.ev.sensor", (n) => n.map((li) => li.textContent)),
    };
    await shot("04b-sensor-chart");
    await page.click("#incident-close");

    // 5. the feed: P4 sensor noise hidden by default, shown on request; then filtered to P1
    const lines = () => page.$$eval("#feed li", (n) => n.map((li) => [li.dataset.priority, li.dataset.sources]));
    result.feed_default = await lines();
    await page.check("#filter-noise");
    await page.waitForSelector('#feed li[data-priority="P4"][data-sources="sensor"]', { timeout: 30000 });
    result.feed_with_noise = await lines();
    await page.uncheck("#filter-noise");
    await page.selectOption("#filter-priority", "P1");
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length > 0, null, { timeout: 20000 });
    result.feed_p1 = await page.$$eval("#feed li", (n) => n.map((li) => li.dataset.priority));
    result.feed_incident_lines = await page.$$eval("#feed li.incident", (n) => n.map((li) => li.dataset.incident));
    await page.$eval("#feed-panel", (node) => node.scrollIntoView());
    await shot("05-feed-p1");
    await page.selectOption("#filter-priority", "");

    // 6. English
    await page.click("#lang-en");
    await page.waitForFunction(() => document.documentElement.lang === "en");
    result.english = {
      title: await page.textContent("h1 [data-i18n=title]"),
      kpi_headers: await page.$$eval("#ward-table th", (n) => n.map((th) => th.textContent)),
    };
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("06-english");

    // 7. the KPIs shown and the ranking exported as CSV
    await page.waitForFunction(() => state.kpis && state.ranking);
    await page.evaluate(() => loadKpis());
    await page.evaluate(() => loadRanking());
    result.kpis_shown = await page.evaluate(() => ({ json: state.kpis, city: Object.fromEntries([...document.querySelectorAll("#city-kpis [data-kpi]")].map((d) => [d.dataset.kpi, d.querySelector("dd").textContent])) }));
    await page.$eval("#kpi-panel", (node) => node.scrollIntoView());
    result.csv_requested_at = new Date().toISOString();
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#ranking-csv")]);
    const csvPath = path.join(args.shots, "ranking.csv");
    await download.saveAs(csvPath);
    result.csv_received_at = new Date().toISOString();
    result.csv = csvPath;
    result.csv_name = download.suggestedFilename();
    await shot("07-kpis-ranking");

    // 8. nationwide: 3,321 wards, then pan and zoom, measuring how long each frame takes
    const nationStart = Date.now();
    await page.click("#scope-national");
    await page.waitForFunction((n) => document.getElementById("map").dataset.wards === String(n), args.nationalWards, { timeout: 60000 });
    result.national_load = { wall_ms: Date.now() - nationStart };
    await page.evaluate(() => window.scrollTo(0, 0));
    result.national_frames = await frameSteps(page, 16);
    await page.waitForTimeout(800);
    await shot("08-nationwide");
  } catch (err) {
    result.error = String(err && err.stack || err);
    try { await shot("99-failure"); } catch (e) { /* the page is gone */ }
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main();
