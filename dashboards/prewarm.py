"""Simplify the built-in boundaries' map layers ahead of first use: ``python -m dashboards.prewarm``.

``make setup`` runs it after ``routers.boundaries.prebuild``: simplifying the real wards takes
seconds (the whole country, ~1.1 M vertices; a full-precision city, up to ~220 k), so the national
layer and the three cities' layers are made once and kept beside the precompiled generation
(``Generation.map_cache_dirs``); a dashboard on a fresh data dir then reads them.
"""

from __future__ import annotations

import sys
import time

from dashboards.mapdata import SIMPLIFY_M
from streams.simulator.places import CITIES


def main() -> int:
    from routers.boundaries.generation import map_cache_name
    from routers.boundaries.prebuild import PREBUILT_DIR, prebuilt
    from routers.boundaries.registry import BoundaryRegistry

    found = prebuilt()
    if found is None:
        print("dashboard: no precompiled reference boundaries; nothing to prewarm")
        return 0
    layers = [(None, SIMPLIFY_M["national"])] + [(p, SIMPLIFY_M["city"]) for p in CITIES.values()]
    missing = [(p, m) for p, m in layers if not (found[0].parent / map_cache_name(found[1].id, p, m)).is_file()]
    if not missing:
        return 0
    started = time.perf_counter()
    generation = BoundaryRegistry(PREBUILT_DIR).load(found[1].id)
    for province, simplify_m in missing:
        generation.geojson(province, simplify_m)  # written to the cache
    print(f"dashboard: map layers of {generation.id} ready ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
