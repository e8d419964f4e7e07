"""Debian's headless Chromium over the DevTools protocol: the page with no data says so plainly.
The operator's walk through a live run is ``test_walkthrough.py`` (playwright-core)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from streams.embedded.process import ManagedProcess, free_port
from tests.dashboards.cdp import Chromium, chromium_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots"


def start_dashboard(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[ManagedProcess, str]:
    port = free_port()
    process = ManagedProcess(
        name, [sys.executable, "-m", "cli", "dashboard", "--port", str(port), "--city", "hcmc"], port,
        tmp_path / f"{name}.log", ready_timeout_s=90, env=env,
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def chromium_ok() -> None:
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; CI installs it via .ci/run)")


async def first_paint(browser: Chromium, url: str, wards: int) -> dict[str, float]:
    await browser.navigate(url)
    await browser.wait_for(f"document.getElementById('map') && document.getElementById('map').dataset.wards === '{wards}'", 30)
    return {
        "map_painted_ms": round(await browser.evaluate("window.iocMapPaintedAt"), 1),
        "first_contentful_paint_ms": round(await browser.evaluate(
            "(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: -1}).startTime"), 1),
    }


def test_page_says_plainly_when_there_is_no_data(tmp_path: Path, data_dir: Path, chromium_ok: None) -> None:
    """A stopped worker and no broker: banners and "no data", never zeros."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_DATA_DIR=str(data_dir), IOC_WORKER_METRICS_URLS=f"http://127.0.0.1:{free_port()}/metrics")
    process, url = start_dashboard(tmp_path, "dashboard-nodata", env)

    async def main() -> None:
        profile = tmp_path / "profile"
        profile.mkdir()
        browser = await Chromium(profile, width=1680, height=1100).start()
        await browser.watch_csp()  # issue 21: the page works under its Content-Security-Policy
        try:
            await first_paint(browser, f"{url}/?lang=en", 168)
            text = await browser.wait_for("!document.getElementById('banner-metrics').hidden && "
                                          "document.getElementById('banner-metrics').textContent", 15)
            assert "Metrics unavailable" in text and "no worker answers" in text
            assert await browser.evaluate("document.getElementById('stat-deadletter').textContent") == "No data"
            grey = "[...mapState.byCode.values()].filter(p => p[0].options.fillColor === COLOURS.nodata).length"
            assert await browser.evaluate(grey) == 168
            cells = await browser.evaluate("[...document.querySelectorAll('#ward-table tbody td.num')].map(td => td.textContent)")
            assert cells and set(cells) == {"–"}
            feed = await browser.evaluate("document.getElementById('feed-empty').textContent")
            assert "Feed not connected" in feed
            await browser.screenshot(SHOTS / "dashboard-no-data-en.png")
            assert await browser.csp_violations() == []
        finally:
            await browser.stop()

    try:
        asyncio.run(main())
    finally:
        process.stop(timeout_s=10)
