// Timings of the dashboard page shared by make bench (dashboard_page.cjs) and the browser test
// (tests/dashboards/walkthrough.cjs).
"use strict";

// How long the page took: its first paint, and the map drawn (window.iocMapPaintedAt, set by map.js).
async function loadTimes(page) {
  return page.evaluate(() => ({
    wards: Number(document.getElementById("map").dataset.wards),
    map_painted_ms: window.iocMapPaintedAt,
    first_contentful_paint_ms: (performance.getEntriesByName("first-contentful-paint")[0] || { startTime: -1 }).startTime,
    map_data_ms: (performance.getEntriesByName("ioc-map-data")[0] || { startTime: -1 }).startTime,
  }));
}

// Pan and zoom the map `steps` times, each step timed until two animation frames have passed
// (the canvas redrawn): median, p90 and max in ms.
async function frameSteps(page, steps) {
  return page.evaluate(async (n) => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const times = [];
    const moves = [[260, 0], [0, 200], [-260, 0], [0, -200]];
    for (let i = 0; i < n; i += 1) {
      const t0 = performance.now();
      if (i % 4 === 3) iocMap.setZoom(iocMap.getZoom() + (i % 8 === 3 ? 0.5 : -0.5), { animate: false });
      else iocMap.panBy(moves[i % 4], { animate: false });
      await frame();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { steps: n, median_ms: times[Math.floor(n / 2)], p90_ms: times[Math.floor(n * 0.9)], max_ms: times[n - 1] };
  }, steps);
}

module.exports = { loadTimes, frameSteps };
