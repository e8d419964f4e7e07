"""Debian's headless Chromium against the dashboard during a simulated run: every ward of the city
on the map, real events and incidents in the feed, first paint measured, screenshots saved in
build/screenshots/ (look at them)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.embedded.process import ManagedProcess, free_port
from streams.simulator.places import CITIES
from tests.dashboards.cdp import Chromium, chromium_path
from tests.dashboards.live import produced, simulate, stack_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots"
TOKEN = "wall-screen-token"
CITY_BUDGET_MS = 2000
NATIONAL_BUDGET_MS = 5000


def start_dashboard(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[ManagedProcess, str]:
    port = free_port()
    process = ManagedProcess(
        name, [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(port), "--city", "hcmc"], port,
        tmp_path / f"{name}.log", ready_timeout_s=90, env=env,
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def chromium_ok() -> None:
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; CI installs it via .ci/run)")


@pytest.fixture
def live_dashboard(tmp_path: Path, embedded_stack: Any, data_dir: Path, pipeline_worker: str,
                   chromium_ok: None) -> Iterator[tuple[str, dict[str, str]]]:
    env = stack_env(embedded_stack, data_dir, IOC_WORKER_METRICS_URLS=pipeline_worker, IOC_DASHBOARD_TOKEN=TOKEN)
    env.pop("IOC_PROMETHEUS_URL", None)
    process, url = start_dashboard(tmp_path, "dashboard", env)
    try:
        yield url, env
    finally:
        process.stop(timeout_s=10)


async def first_paint(browser: Chromium, url: str, wards: int) -> dict[str, float]:
    await browser.navigate(url)
    await browser.wait_for(f"document.getElementById('map') && document.getElementById('map').dataset.wards === '{wards}'", 30)
    return {
        "map_painted_ms": round(await browser.evaluate("window.iocMapPaintedAt"), 1),
        "first_contentful_paint_ms": round(await browser.evaluate(
            "(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: -1}).startTime"), 1),
    }


def test_dashboard_during_a_run(tmp_path: Path, live_dashboard: tuple[str, dict[str, str]], generation: Any) -> None:
    url, env = live_dashboard
    city_codes = sorted(w.code for w in generation.wards_in_province(CITIES["hcmc"]))
    sim = simulate(env, count=900, rate=45, seed=21)  # ~20 s of a city evening while we watch
    timings: dict[str, Any] = {}

    async def main() -> None:
        profile = tmp_path / "profile"
        profile.mkdir()
        browser = await Chromium(profile, width=1680, height=1500).start()
        try:
            timings["city_168"] = await first_paint(browser, f"{url}/?token={TOKEN}", len(city_codes))
            drawn = await browser.evaluate("[...document.querySelectorAll('#wards path')].map(p => p.dataset.code).sort()")
            assert drawn == city_codes  # every ward of the city, once
            # real routed events and incidents arrive over server-sent events
            await browser.wait_for("document.querySelectorAll('#feed li.event').length >= 5", 60)
            await browser.wait_for("document.querySelectorAll('#feed li.incident').length >= 1", 60)
            feed_wards = await browser.evaluate("[...document.querySelectorAll('#feed li')].map(li => li.dataset.ward)")
            assert {w for w in feed_wards if w} <= set(city_codes)
            # numbers of this run: the worker's counters move and the page shows a rate
            await browser.wait_for("state.overview && state.overview.metrics.rates.ingested > 0", 45)
            await browser.wait_for("document.querySelectorAll('#wards path.l1, #wards path.l2, #wards path.l3, "
                                   "#wards path.l4, #wards path.l5').length > 0", 30)
            rows = await browser.evaluate("document.querySelectorAll('#ward-table tbody tr').length")
            assert rows == len(city_codes)
            banner = await browser.evaluate("document.getElementById('banner-approximate').hidden ? '' : "
                                            "document.getElementById('banner-approximate').textContent")
            assert ("GẦN ĐÚNG" in banner) is (generation.source == "approximate")
            assert ("THAM CHIẾU" in banner) is (generation.source == "reference")
            # hover details: move the mouse over the busiest ward
            box = await browser.evaluate(
                "(() => { const p = document.querySelector('#wards path.l5, #wards path.l4, #wards path.l3, "
                "#wards path.l2, #wards path.l1'); const r = p.getBoundingClientRect(); "
                "return [r.x + r.width / 2, r.y + r.height / 2, p.dataset.code]; })()")
            await browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
            tip = await browser.wait_for("!document.getElementById('tooltip').hidden && "
                                         "document.getElementById('tooltip').textContent", 5)
            assert box[2] in tip
            await browser.screenshot(SHOTS / "dashboard-hcmc-vi.png")

            timings["national_3321"] = await first_paint(browser, f"{url}/?scope=national&lang=en", len(generation.wards))
            await browser.wait_for("document.querySelectorAll('#feed li').length >= 1", 30)
            await asyncio.sleep(1.0)
            await browser.screenshot(SHOTS / "dashboard-national-en.png")
        finally:
            await browser.stop()

    try:
        asyncio.run(main())
    finally:
        produced(sim)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "first-paint.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"first paint: {timings}")
    assert timings["city_168"]["map_painted_ms"] < CITY_BUDGET_MS
    assert timings["national_3321"]["map_painted_ms"] < NATIONAL_BUDGET_MS


def test_page_says_plainly_when_there_is_no_data(tmp_path: Path, data_dir: Path, chromium_ok: None) -> None:
    """A stopped worker and no broker: banners and "no data", never zeros."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_DATA_DIR=str(data_dir), IOC_WORKER_METRICS_URLS=f"http://127.0.0.1:{free_port()}/metrics")
    process, url = start_dashboard(tmp_path, "dashboard-nodata", env)

    async def main() -> None:
        profile = tmp_path / "profile"
        profile.mkdir()
        browser = await Chromium(profile, width=1680, height=1100).start()
        try:
            await first_paint(browser, f"{url}/?lang=en", 168)
            text = await browser.wait_for("!document.getElementById('banner-metrics').hidden && "
                                          "document.getElementById('banner-metrics').textContent", 15)
            assert "Metrics unavailable" in text and "no worker answers" in text
            assert await browser.evaluate("document.getElementById('stat-deadletter').textContent") == "No data"
            assert await browser.evaluate("document.querySelectorAll('#wards path.nodata').length") == 168
            cells = await browser.evaluate("[...document.querySelectorAll('#ward-table tbody td.num')].map(td => td.textContent)")
            assert cells and set(cells) == {"–"}
            feed = await browser.evaluate("document.getElementById('feed-empty').textContent")
            assert "Feed not connected" in feed
            await browser.screenshot(SHOTS / "dashboard-no-data-en.png")
        finally:
            await browser.stop()

    try:
        asyncio.run(main())
    finally:
        process.stop(timeout_s=10)
