"""The built-in default: real post-merger ward polygons shipped as package data (source ``reference``).

The files in ``reference_data/`` are the ``json/geojson`` export of thanglequoc/vietnamese-provinces-database
(MIT, see ``NOTICE``): the nationwide coverage-simplified file (all 3,321 wards, ~50 m tolerance)
and the full-precision files of Ho Chi Minh City (79), Hanoi (01) and Da Nang (48).

They are compiled into ONE generation, so a lookup is one index probe wherever it lands:

* outside the three cities every ward is the nationwide file's polygon, unchanged;
* inside them the full-precision polygon replaces the simplified one. Where the two files disagree
  about the province line (the simplified outline wanders up to ~50 m), the nationwide file keeps
  the neighbouring province's land: each city ward is cut by the simplified wards of the other
  provinces. So outside the cities the lookup is exactly the nationwide file, and inside them it
  is the full-precision file except in those slivers (0.01 % of where people live, measured by
  ``tests/routers/boundaries/test_reference.py``).

Trusted data: the features are read with ``shapely.from_geojson`` (no per-coordinate Python
checks); geometries are still made valid if they are not.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from routers.boundaries.importer import polygonal
from routers.boundaries.model import Ward, WardSet
from routers.progress import Progress

DATA_DIR = Path(__file__).resolve().parent / "reference_data"
NATIONWIDE_FILE = "vn2025-all-simplified.geojson.gz"
CITY_FILES = {
    "79": "vn2025-79-hcmc.geojson.gz",
    "01": "vn2025-01-hanoi.geojson.gz",
    "48": "vn2025-48-danang.geojson.gz",
}
NAME = "vn2025-reference"
# What the registry records as the generation's origin: the upstream snapshot, so a generation
# says which data it was compiled from; a new snapshot (or a new way of combining the files) gets a
# new origin and ensure_default replaces the old default.
UPSTREAM = "thanglequoc/vietnamese-provinces-database"
SNAPSHOT = "cd58063"
ORIGIN = f"{UPSTREAM}@{SNAPSHOT} json/geojson (MIT); nationwide simplified + full-precision 79, 01, 48; v1"
ATTRIBUTION = {
    "upstream": f"https://github.com/{UPSTREAM}",
    "snapshot": SNAPSHOT,
    "snapshot_date": "2026-07",
    "licence": "MIT, Copyright (c) 2021 Thang Le Quoc",
    "derived_from": "the state mapping publisher's post-merger reference map; not official survey boundaries",
    "files": [NATIONWIDE_FILE, *CITY_FILES.values()],
}


def _features(name: str) -> list[dict[str, Any]]:
    raw = orjson.loads(gzip.decompress((DATA_DIR / name).read_bytes()))
    features: list[dict[str, Any]] = raw["features"]
    return features


def _geometries(features: list[dict[str, Any]]) -> np.ndarray:
    geoms = shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    return np.asarray(geoms)


def _ward(props: dict[str, Any], geom: shapely.Geometry) -> Ward:
    inside = geom.representative_point()
    population = props.get("population")
    return Ward(
        code=str(props["code"]),
        name=str(props["name"]),
        province_code=str(props["province_code"]),
        province=str(props["province"]),
        area_km2=float(props["area_km2"]),
        population=None if population is None else int(population),
        centroid=(inside.y, inside.x),
        predecessors=props.get("predecessors") or None,
    )


def build_reference(progress: Progress | None = None) -> WardSet:
    """The 3,321 wards, full precision in the three cities (see the module docstring)."""
    step = progress or (lambda _label, _n: None)
    step("reading the built-in reference polygons", 0)
    nation = _features(NATIONWIDE_FILE)
    nation_geoms = _geometries(nation)
    provinces = np.array([str(f["properties"]["province_code"]) for f in nation])
    others = nation_geoms[~np.isin(provinces, list(CITY_FILES))]
    others_tree = shapely.STRtree(others)
    by_code: dict[str, tuple[dict[str, Any], shapely.Geometry]] = {
        str(f["properties"]["code"]): (f["properties"], g)
        for f, g in zip(nation, nation_geoms, strict=True)
        if str(f["properties"]["province_code"]) not in CITY_FILES
    }
    for province, name in CITY_FILES.items():
        step(f"reading full-precision {name}", 0)
        features = _features(name)
        geoms = _geometries(features)
        # The neighbouring provinces keep what the nationwide file gives them.
        left, right = others_tree.query(geoms, predicate="intersects")
        for i in np.unique(left):
            geom = shapely.difference(geoms[i], shapely.union_all(others[right[left == i]]))
            geom = shapely.make_valid(geom) if not shapely.is_valid(geom) else geom
            geoms[i] = polygonal(geom)
        for feature, geom in zip(features, geoms, strict=True):
            props = feature["properties"]
            if str(props["province_code"]) != province:
                raise ValueError(f"{name}: ward {props['code']} is in province {props['province_code']}")
            by_code[str(props["code"])] = (props, geom)
    order = sorted(by_code)
    wards = [_ward(*by_code[code]) for code in order]
    return WardSet(wards=wards, geoms=np.array([by_code[c][1] for c in order], dtype=object))
