"""Simplify the built-in boundaries' national map layer ahead of first use: ``python -m dashboards.prewarm``.

``make setup`` runs it after ``routers.boundaries.prebuild``: simplifying all 3,321 real wards for
the national view takes seconds, so it is done once and kept beside the precompiled generation
(``Generation.map_cache_dirs``); a dashboard on a fresh data dir then reads it.
"""

from __future__ import annotations

import sys
import time

from dashboards.mapdata import SIMPLIFY_M


def main() -> int:
    from routers.boundaries.generation import map_cache_name
    from routers.boundaries.prebuild import PREBUILT_DIR, prebuilt
    from routers.boundaries.registry import BoundaryRegistry

    found = prebuilt()
    if found is None:
        print("dashboard: no precompiled reference boundaries; nothing to prewarm")
        return 0
    if (found[0].parent / map_cache_name(found[1].id, None, SIMPLIFY_M["national"])).is_file():
        return 0
    started = time.perf_counter()
    generation = BoundaryRegistry(PREBUILT_DIR).load(found[1].id)
    generation.geojson(None, SIMPLIFY_M["national"])  # read from, or written to, the cache
    print(f"dashboard: national map layer of {generation.id} ready ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
