"""The built-in reference boundaries, checked against the real files in ../shared/boundaries.

* where people live in HCMC, Hanoi and Da Nang (wards drawn by population, points uniform inside
  the real full-precision ward), the built-in lookup gives the real ward at least 99.9 % of the time;
* everywhere else it is exactly direct containment in the nationwide file, except within 1e-7
  degrees of an edge.

The truth is read from ../shared/boundaries with shapely directly (not through the importer or the
index), and the points are drawn with seeds of their own.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest
import shapely

from routers.boundaries.diff import population_points
from routers.boundaries.layers import Layers
from routers.boundaries.reference import ATTRIBUTION, CITY_FILES, NATIONWIDE_FILE, ORIGIN, SNAPSHOT
from routers.boundaries.registry import BoundaryRegistry
from routers.locate.locator import Locator

pytestmark = pytest.mark.realdata

CITY_POINTS = 20_000
EDGE_DEG = 1e-7


def _truth(path: Path) -> tuple[list[dict[str, object]], np.ndarray]:
    features = orjson.loads(gzip.decompress(path.read_bytes()))["features"]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object)
    return [f["properties"] for f in features], geoms


@pytest.fixture(scope="module")
def builtin(data_dir: Path) -> Layers:
    return BoundaryRegistry(data_dir).load_active()


def test_the_default_is_the_reference_snapshot(builtin: Layers, data_dir: Path) -> None:
    [meta] = [m for m in BoundaryRegistry(data_dir).list() if m.active]
    assert meta.source == "reference" and meta.origin == ORIGIN and SNAPSHOT in meta.origin
    assert meta.report["attribution"] == ATTRIBUTION and meta.ward_count == 3321
    assert builtin.source == "reference" and len(builtin.wards) == 3321
    assert {p: len(builtin.wards_in_province(p)) for p in CITY_FILES} == {"79": 168, "01": 126, "48": 94}


@pytest.mark.parametrize("province", sorted(CITY_FILES))
def test_cities_agree_with_full_precision_where_people_live(
    province: str, builtin: Layers, shared_boundaries: Path
) -> None:
    props, geoms = _truth(shared_boundaries / CITY_FILES[province])
    xs, ys, drawn = population_points(
        geoms, [float(p["population"] or 0) for p in props], CITY_POINTS, np.random.default_rng(1000 + int(province))
    )
    locator = Locator(builtin.layers)
    got = [locator.locate_point(y, x) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    right = sum(loc.ward is not None and loc.ward.code == props[i]["code"] for loc, i in zip(got, drawn, strict=True))
    share = right / CITY_POINTS
    print(f"province {province}: {share:.4%} of {CITY_POINTS} population-weighted points in the right ward")
    assert share >= 0.999
    assert all(loc.source == "reference" for loc in got)


def test_elsewhere_the_lookup_is_the_nationwide_file(builtin: Layers, shared_boundaries: Path) -> None:
    props, geoms = _truth(shared_boundaries / NATIONWIDE_FILE)
    provinces = np.array([str(p["province_code"]) for p in props])
    codes = np.array([str(p["code"]) for p in props])
    rng = np.random.default_rng(77)
    # Where people live in the 31 other provinces, plus uniform over the whole bounding box (land,
    # sea, borders, the cities' edges).
    others = np.nonzero(~np.isin(provinces, list(CITY_FILES)))[0]
    px, py, _ = population_points(geoms[others], [float(props[i]["population"] or 0) for i in others], 30_000, rng)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    ux, uy = rng.uniform(xmin, xmax, 200_000), rng.uniform(ymin, ymax, 200_000)
    xs, ys = np.concatenate([px, ux]), np.concatenate([py, uy])

    points = shapely.points(xs, ys)
    tree = shapely.STRtree(geoms)
    point_i, ward_i = tree.query(points, predicate="intersects")
    truth = np.full(len(xs), "", dtype=object)
    order = np.lexsort((codes[ward_i], point_i))  # a point on a shared edge: the lower code
    for p, w in zip(point_i[order][::-1], ward_i[order][::-1], strict=True):
        truth[p] = codes[w]
    near_edge = np.zeros(len(xs), dtype=bool)
    near_i, near_w = tree.query(points, predicate="dwithin", distance=EDGE_DEG)
    np.logical_or.at(near_edge, near_i, shapely.dwithin(shapely.boundary(geoms[near_w]), points[near_i], EDGE_DEG))

    [gen] = builtin.layers
    found = gen.index.wards_at(xs, ys)
    got = np.array([gen.wards[i].code if i >= 0 else "" for i in found], dtype=object)
    got_province = np.array([gen.wards[i].province_code if i >= 0 else "" for i in found], dtype=object)
    province_of = {str(p["code"]): str(p["province_code"]) for p in props}
    truth_province = np.array([province_of.get(c, "") for c in truth], dtype=object)
    city = np.isin(truth_province.astype(str), list(CITY_FILES)) | (
        (truth == "") & np.isin(got_province.astype(str), list(CITY_FILES))
    )
    checked = ~city & ~near_edge
    wrong = np.nonzero(checked & (got != truth))[0]
    print(f"checked {checked.sum()} points outside the three cities ({(truth[checked] != '').sum()} in a ward), "
          f"{near_edge.sum()} within {EDGE_DEG} deg of an edge left out, {len(wrong)} differ")
    assert checked.sum() > 100_000
    assert not len(wrong), [(xs[i], ys[i], truth[i], got[i]) for i in wrong[:10]]
