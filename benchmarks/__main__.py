"""Run every benchmark section in turn: ``python -m benchmarks [section ...]``.

Sections: throughput (pipeline vs raw passthrough on the embedded broker), locate (point-to-ward),
rules (rule evaluation cost), scaleout (events/s per worker count), open311 (API POSTs/s and p99),
dashboard (the page in headless Chromium: city and nationwide map paint, nationwide pan/zoom steps),
bridge (the MQTT bridge beside a bare MQTT-to-Kafka loop).
"""

from __future__ import annotations

import importlib
import sys
import time

SECTIONS = {
    "throughput": "benchmarks.throughput",
    "locate": "benchmarks.locate_bench",
    "rules": "benchmarks.rules_bench",
    "scaleout": "benchmarks.scaleout",
    "dashboard": "benchmarks.dashboard_bench",
    "bridge": "benchmarks.bridge_bench",
    "open311": "benchmarks.open311_bench",
}


def main(argv: list[str]) -> int:
    wanted = argv or list(SECTIONS)
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    failed = []
    for name in wanted:
        started = time.monotonic()
        print(f"\n######## {name} ########", flush=True)
        try:
            importlib.import_module(SECTIONS[name]).main()
        except Exception as exc:  # one broken section must not hide the others' numbers
            failed.append(name)
            print(f"!! section {name} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"(section {name}: {time.monotonic() - started:.0f} s)", flush=True)
    if failed:
        print(f"\nfailed sections: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
