"""The dashboard page in a real browser: how fast the city map paints (budget 2 s), how fast all
3,321 wards paint, and how long a pan or zoom step of the nationwide view takes to redraw.

Starts ``ioc dashboard`` on the active boundary generation (no broker, no Redis: the map is what
is timed) and drives Debian's headless Chromium with playwright-core from npm
(``benchmarks/dashboard_page.cjs``). Medians over rounds; ratios: nationwide/city paint, and the
pan/zoom step against one 60 Hz frame (16.7 ms) and against 100 ms (what still feels immediate).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 3
CITY_BUDGET_MS = 2000.0


def main() -> None:
    from streams.embedded.process import ManagedProcess, free_port

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or shutil.which("node") is None or not (REPO / "node_modules" / "playwright-core").is_dir():
        print("dashboard: skipped (needs Debian's chromium, node and `make setup`'s node_modules)")
        return
    with tempfile.TemporaryDirectory(prefix="ioc-dashboard-bench-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_") or k == "IOC_DATA_DIR"}
        dashboard = ManagedProcess("dashboard", [sys.executable, "-m", "cli", "dashboard", "--port", str(port)],
                                   port, Path(tmp) / "dashboard.log", ready_timeout_s=120, env=env)
        try:
            argument = {"url": f"http://127.0.0.1:{port}", "rounds": ROUNDS, "profile": f"{tmp}/profile", "chromium": chromium}
            run = subprocess.run(["node", str(REPO / "benchmarks" / "dashboard_page.cjs"), json.dumps(argument)],
                                 cwd=REPO, capture_output=True, timeout=600)
        finally:
            dashboard.stop(timeout_s=10)
    result = json.loads(run.stdout or b"{}")
    if run.returncode or "error" in result:
        raise RuntimeError(result.get("error") or run.stderr.decode()[-2000:])
    rounds = result["rounds"]

    def median(path: tuple[str, str]) -> float:
        return statistics.median(r[path[0]][path[1]] for r in rounds)

    city, national = median(("city", "map_painted_ms")), median(("national", "map_painted_ms"))
    step, worst = median(("national_frames", "median_ms")), median(("national_frames", "max_ms"))
    print(f"page, median of {ROUNDS} fresh browsers (wards: city {rounds[0]['city']['wards']}, nationwide {rounds[0]['national']['wards']})")
    print(f"  city map painted        {city:8.0f} ms   first contentful paint {median(('city', 'first_contentful_paint_ms')):.0f} ms   "
          f"{city / CITY_BUDGET_MS:.2f}x of the 2 s budget")
    print(f"  nationwide map painted  {national:8.0f} ms   {national / city:.2f}x the city map")
    print(f"  nationwide pan/zoom step median {step:.0f} ms (max {worst:.0f} ms): {step / 16.7:.1f} frames at 60 Hz, "
          f"{step / 100:.2f}x of 100 ms")
    out = REPO / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
