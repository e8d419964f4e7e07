// make bench's dashboard section: load the page in Debian's headless Chromium (playwright-core
// from npm) and time the city map, the nationwide map and pan/zoom steps of the nationwide view.
// One JSON argument {url, rounds, profile, chromium}; prints one JSON result.
"use strict";

const { chromium } = require("playwright-core");

const args = JSON.parse(process.argv[2]);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

async function load(page, url, wards) {
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("map").dataset.wards, null, { timeout: 60000 });
  return {
    wall_ms: Date.now() - started,
    wards: Number(await page.evaluate(() => document.getElementById("map").dataset.wards)),
    map_painted_ms: await page.evaluate(() => window.iocMapPaintedAt),
    first_contentful_paint_ms: await page.evaluate(() => (performance.getEntriesByName("first-contentful-paint")[0] || { startTime: -1 }).startTime),
  };
}

async function frames(page) {
  return page.evaluate(async () => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const steps = [];
    const moves = [[260, 0], [0, 200], [-260, 0], [0, -200]];
    for (let i = 0; i < 24; i += 1) {
      const t0 = performance.now();
      if (i % 4 === 3) iocMap.setZoom(iocMap.getZoom() + (i % 8 === 3 ? 0.5 : -0.5), { animate: false });
      else iocMap.panBy(moves[i % 4], { animate: false });
      await frame();
      steps.push(performance.now() - t0);
    }
    steps.sort((a, b) => a - b);
    return { median_ms: steps[Math.floor(steps.length / 2)], p90_ms: steps[Math.floor(steps.length * 0.9)], max_ms: steps[steps.length - 1] };
  });
}

async function main() {
  const rounds = [];
  for (let r = 0; r < args.rounds; r += 1) {
    const context = await chromium.launchPersistentContext(`${args.profile}-${r}`, {
      executablePath: args.chromium || "/usr/bin/chromium", headless: true, args: FLAGS, viewport: { width: 1680, height: 1050 } });
    const page = context.pages()[0] || await context.newPage();
    try {
      const city = await load(page, `${args.url}/?lang=en`);
      const national = await load(page, `${args.url}/?lang=en&scope=national`);
      await page.waitForTimeout(500);
      rounds.push({ city, national, national_frames: await frames(page) });
    } finally {
      await context.close();
    }
  }
  process.stdout.write(JSON.stringify({ rounds }));
}

main().catch((err) => { process.stdout.write(JSON.stringify({ error: String(err.stack || err) })); process.exit(1); });
