// make bench's dashboard section: load the page in Debian's headless Chromium (playwright-core
// from npm) and time the city map, the nationwide map and pan/zoom steps of the nationwide view.
// One JSON argument {url, rounds, profile, chromium}; prints one JSON result.
"use strict";

const { chromium } = require("playwright-core");
const { loadTimes, frameSteps } = require("./page_timing.cjs");

const args = JSON.parse(process.argv[2]);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

async function load(page, url) {
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("map").dataset.wards, null, { timeout: 60000 });
  return { wall_ms: Date.now() - started, ...(await loadTimes(page)) };
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
      rounds.push({ city, national, national_frames: await frameSteps(page, 24) });
    } finally {
      await context.close();
    }
  }
  process.stdout.write(JSON.stringify({ rounds }));
}

main().catch((err) => { process.stdout.write(JSON.stringify({ error: String(err.stack || err) })); process.exit(1); });
