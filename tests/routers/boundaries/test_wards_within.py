"""Wards within an accuracy radius: the index-cell search against a plain shapely + geopy reference.

``Generation.wards_within`` takes its candidates from the index cells the accuracy square reaches
(and a tree query for wide radii); the reference below asks shapely for every ward within the
planar prefilter distance and measures each one, so a ward the cell search misses shows up here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from geopy.distance import geodesic

from routers.boundaries import reference as builtin_reference
from routers.boundaries.generation import Generation, degrees_for
from routers.boundaries.index import EMPTY, PointIndex, build_index
from routers.boundaries.model import GenerationMeta, Ward
from routers.boundaries.registry import MERGER_DATE, BoundaryRegistry
from routers.exceptions import Rejected
from routers.locate.locator import Locator


def _reference(gen: Generation, lat: float, lon: float, radius_m: float) -> list[tuple[int, float]]:
    """What the docstring promises, ward by ward: in the ward -> 0, else geodesic to the nearest point
    found in lon/lat; wards further than radius / 100 km in degrees are left out unmeasured."""
    point = shapely.Point(lon, lat)
    found = []
    for i in gen.tree.query(point, predicate="dwithin", distance=radius_m / 100_000).tolist():
        geom = gen.geoms[i]
        if shapely.intersects(geom, point):
            found.append((i, 0.0))
            continue
        (_, _), (x, y) = shapely.get_coordinates(shapely.shortest_line(point, geom)).tolist()
        metres = geodesic((lat, lon), (y, x)).meters
        if metres <= radius_m:
            found.append((i, round(metres, 1)))
    return sorted(found, key=lambda item: (item[1], gen.wards[item[0]].code))


def _cases(gen: Generation, wards: list[int], n: int, seed: int) -> list[tuple[float, float, float]]:
    """(lat, lon, radius) near the boundaries of ``wards``: a random boundary point moved up to
    ~300 m; radii 0-120 m (the cell search) and 0-500 m (mostly the tree query), some exactly 0."""
    rng = np.random.default_rng(seed)
    rings = shapely.boundary(gen.geoms[rng.choice(wards, n)])
    on_edge = shapely.line_interpolate_point(rings, rng.uniform(0, 1, n), normalized=True)
    xs = shapely.get_x(on_edge) + rng.uniform(-0.003, 0.003, n)
    ys = shapely.get_y(on_edge) + rng.uniform(-0.003, 0.003, n)
    radii = np.where(rng.uniform(0, 1, n) < 0.7, rng.uniform(0, 120, n), rng.uniform(0, 500, n))
    radii[rng.uniform(0, 1, n) < 0.03] = 0.0
    return list(zip(ys.tolist(), xs.tolist(), radii.tolist(), strict=True))


def _check_against_reference(gen: Generation, cases: list[tuple[float, float, float]]) -> None:
    cell_search = 0
    for lat, lon, radius in cases:
        expected = _reference(gen, lat, lon, radius)
        assert gen.wards_within(lat, lon, radius) == expected, (lat, lon, radius)
        pad = degrees_for(radius, lat)
        if gen.index.pure_ward_around(lon, lat, pad) is None and gen.index.wards_near(lon, lat, pad) is not None:
            cell_search += 1
            inside = gen.index.ward_at(lon, lat)
            if inside != EMPTY:
                assert gen.wards_within_square(lat, lon, radius, pad, exclude=inside) == [
                    (w, d) for w, d in expected if w != inside
                ]
    assert cell_search > len(cases) // 3  # the cell search itself was exercised, not only the shortcuts
    assert sum(len(_reference(gen, lat, lon, r)) > 1 for lat, lon, r in cases) > len(cases) // 5


def test_matches_reference_on_the_built_in_generation(default_data_dir: Path) -> None:
    gen = BoundaryRegistry(default_data_dir).load(builtin_reference.NAME)
    hcmc = [i for i, w in enumerate(gen.wards) if w.province_code == "79"]
    _check_against_reference(gen, _cases(gen, hcmc, 3000, seed=7))


@pytest.mark.realdata
def test_matches_reference_on_the_real_hcmc_polygons(official_data_dir: Path) -> None:
    gen = BoundaryRegistry(official_data_dir).load("vn2025-79-hcmc")
    _check_against_reference(gen, _cases(gen, list(range(len(gen.wards))), 2000, seed=79))


def _generation(polygons: list[shapely.Geometry]) -> Generation:
    geoms = np.array(polygons, dtype=object)
    wards = [
        Ward(f"{i:05d}", f"Ward {i}", "79", "Hồ Chí Minh", 1.0, None, (g.centroid.y, g.centroid.x))
        for i, g in enumerate(polygons)
    ]
    meta = GenerationMeta("synthetic", "synthetic", MERGER_DATE, None, "official", "0" * 64, len(wards),
                          datetime(2025, 7, 1, tzinfo=UTC))
    return Generation(meta, wards, geoms, build_index(geoms, shapely.STRtree(geoms)))


def test_a_leaf_inside_a_ward_marked_by_another_boundary() -> None:
    """A leaf is marked mixed by a boundary passing near it; a ward covering the whole leaf, whose
    own boundary stays away, must still be among its candidates (here a sliver laid over the big
    ward; the approximate generation had 1,486 such leaves without overlaps before the index
    listed the ward around each leaf's centre). Both the point and the cell search see it."""
    leaf = 1.0 / 64.0 / 16.0
    x0, y0 = 106.5 + 40 * leaf, 10.5 + 40 * leaf  # a leaf's corner, far inside the big ward
    big = shapely.box(106.5, 10.5, 106.5 + 100 * leaf, 10.5 + 100 * leaf)
    sliver = shapely.box(x0 + 0.1 * leaf, y0 - 3 * leaf, x0 + 0.4 * leaf, y0 + 3 * leaf)
    gen = _generation([big, sliver])
    lon, lat = x0 + 0.55 * leaf, y0 + 0.5 * leaf  # 16 m east of the sliver
    pad = degrees_for(20.0, lat)
    assert x0 < lon - pad and lon + pad < x0 + leaf  # the square stays in the point's leaf, ...
    assert gen.index._descend(lon, lat)[0] < EMPTY  # ... which is mixed ...
    assert gen.index.ward_at(lon, lat) == 0  # ... and lists the big ward around it
    expected = _reference(gen, lat, lon, 20.0)
    assert [w for w, _ in expected] == [0, 1]
    assert gen.wards_within(lat, lon, 20.0) == expected
    assert gen.index.wards_near(lon, lat, pad) == {0, 1}
    assert gen.index.ward_around(lon, lat, pad) == (0, False)


def test_cells_outside_the_grid_or_too_many_fall_back_to_the_tree() -> None:
    gen = _generation([shapely.box(106.5, 10.5, 106.6, 10.6), shapely.box(106.6, 10.5, 106.7, 10.6)])
    index: PointIndex = gen.index
    assert index.wards_near(106.6, 10.55, degrees_for(50.0, 10.55)) == {0, 1}
    assert index.wards_near(106.6, 10.55, degrees_for(400.0, 10.55)) is None  # > 3 leaves a side
    assert index.wards_near(120.0, 10.55, 0.0001) is None
    for radius in (0.0, 50.0, 400.0, 5000.0):
        assert gen.wards_within(10.55, 106.6004, radius) == _reference(gen, 10.55, 106.6004, radius)
        assert gen.wards_within(10.55, 106.4995, radius) == _reference(gen, 10.55, 106.4995, radius)


def test_locator_fast_path_answers_like_the_checked_path(default_data_dir: Path) -> None:
    """Plain floats take the fast path; numpy floats (a float subclass) go through the coordinate
    and accuracy checks. Both must give the same Location, including the errors."""
    locator = Locator(BoundaryRegistry(default_data_dir).load_for_serving())
    gen = locator.generations[-1]
    hcmc = [i for i, w in enumerate(gen.wards) if w.province_code == "79"]
    rng = np.random.default_rng(11)
    accuracies: list[object] = [None, 0, 0.0, 5, 25.0, 50, 80.0, 120, 300.0, 1000.0, 100_000.5, -1.0,
                                float("nan"), True]
    times = [None, datetime(2025, 8, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC), datetime(2025, 8, 1)]
    compared = 0
    for lat, lon, _ in _cases(gen, hcmc, 1500, seed=3):
        accuracy = accuracies[int(rng.integers(len(accuracies)))]
        at = times[int(rng.integers(len(times)))]
        plain = isinstance(accuracy, int | float) and not isinstance(accuracy, bool)
        checked_accuracy = np.float64(accuracy) if plain else accuracy  # type: ignore[arg-type]
        try:
            fast = locator.locate_point(lat, lon, accuracy, at)  # type: ignore[arg-type]
        except Rejected as rejected:
            with pytest.raises(Rejected) as again:
                locator.locate_point(np.float64(lat), np.float64(lon), checked_accuracy, at)  # type: ignore[arg-type]
            assert again.value.reason == rejected.reason
            continue
        checked = locator.locate_point(np.float64(lat), np.float64(lon), checked_accuracy, at)  # type: ignore[arg-type]
        assert fast == checked, (lat, lon, accuracy, at)
        compared += bool(fast.candidates)
    assert compared > 50
    for widest in (100_000, 100_000.0):  # the largest accepted accuracy, once (hundreds of wards)
        assert locator.locate_point(10.7769, 106.7009, widest) == locator.locate_point(
            np.float64(10.7769), np.float64(106.7009), np.float64(widest)  # type: ignore[arg-type]
        )
