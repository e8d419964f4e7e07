"""The grid-tree index agrees with direct shapely containment, point by point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from routers.boundaries.index import EMPTY, PointIndex, build_index
from routers.boundaries.registry import BoundaryRegistry

CITIES = {"79": "vn2025-79-hcmc", "01": "vn2025-01-hanoi", "48": "vn2025-48-danang"}


def _index(polygons: list[shapely.Geometry]) -> PointIndex:
    geoms = np.array(polygons, dtype=object)
    return PointIndex(build_index(geoms, shapely.STRtree(geoms)), geoms)


def _truth(geoms: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    points = shapely.points(xs, ys)
    pi, gi = shapely.STRtree(geoms).query(points, predicate="intersects")
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]]
    truth = np.full(len(xs), EMPTY)
    truth[pi[first]] = gi[first]
    return truth


@pytest.mark.realdata
@pytest.mark.parametrize("province", sorted(CITIES))
def test_random_points_agree_with_shapely(official_data_dir: Path, province: str) -> None:
    gen = BoundaryRegistry(official_data_dir).load(CITIES[province])
    rng = np.random.default_rng(int(province))
    # Uniform over the city's land: sample the bounding box of the wards' union, keep points
    # near some ward (the bbox includes islands and a lot of sea).
    xmin, ymin, xmax, ymax = shapely.total_bounds(gen.geoms)
    xs = rng.uniform(xmin, xmax, 200_000)
    ys = rng.uniform(ymin, ymax, 200_000)
    truth = _truth(gen.geoms, xs, ys)
    single = np.array([gen.index.ward_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])
    batch = gen.index.wards_at(xs, ys)
    assert (single == batch).all()
    differ = np.nonzero(single != truth)[0]
    if len(differ):
        # Only allowed within 1e-7 degrees of a ward edge.
        edges = shapely.boundary(gen.geoms)
        near = [min(shapely.distance(shapely.Point(xs[i], ys[i]), edges)) < 1e-7 for i in differ.tolist()]
        assert all(near), f"{len(differ)} points disagree away from edges"
    assert (truth != EMPTY).sum() > 10_000  # the sample really tested land


def test_shared_edge_goes_to_lower_index() -> None:
    left = shapely.box(106.0, 10.0, 106.01, 10.01)
    right = shapely.box(106.01, 10.0, 106.02, 10.01)
    index = _index([left, right])
    assert index.ward_at(106.01, 10.005) == 0
    assert index.ward_at(106.0099, 10.005) == 0
    assert index.ward_at(106.0101, 10.005) == 1
    assert list(index.wards_at(np.array([106.01]), np.array([10.005]))) == [0]


def test_hole_and_enclave() -> None:
    outer = shapely.box(106.0, 10.0, 106.1, 10.1).difference(shapely.box(106.04, 10.04, 106.06, 10.06))
    enclave = shapely.box(106.045, 10.045, 106.055, 10.055)  # leaves a ring of no-ward inside the hole
    index = _index([outer, enclave])
    assert index.ward_at(106.01, 10.01) == 0
    assert index.ward_at(106.05, 10.05) == 1
    assert index.ward_at(106.042, 10.05) == EMPTY
    assert index.ward_at(107.0, 10.05) == EMPTY
    assert index.ward_at(-170.0, -80.0) == EMPTY


def test_batch_matches_single_on_synthetic_grid() -> None:
    cells = [
        shapely.box(106 + i * 0.013, 10 + j * 0.017, 106 + (i + 1) * 0.013, 10 + (j + 1) * 0.017)
        for i in range(5)
        for j in range(4)
    ]
    index = _index(cells)
    rng = np.random.default_rng(3)
    xs = rng.uniform(105.99, 106.08, 20_000)
    ys = rng.uniform(9.99, 10.08, 20_000)
    single = [index.ward_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    assert list(index.wards_at(xs, ys)) == single
    assert (np.array(single) == _truth(np.array(cells, dtype=object), xs, ys)).all()


def test_wards_within_fast_path_gives_the_full_answer(approx_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Points whose accuracy square lies in one boundary-free cell skip the geometry; the answer must
    be what the full geometric search gives, for every point and radius (also near boundaries)."""
    generation = BoundaryRegistry(approx_data_dir).load_active()
    rng = np.random.default_rng(3)
    xmin, ymin, xmax, ymax = shapely.total_bounds(generation.geoms[[w.code.startswith("26") for w in generation.wards]])
    cases = [(float(rng.uniform(ymin, ymax)), float(rng.uniform(xmin, xmax)), float(r))
             for r in rng.choice([5.0, 30.0, 100.0, 400.0], 600)]
    fast = [generation.wards_within(lat, lon, r) for lat, lon, r in cases]
    monkeypatch.setattr(PointIndex, "pure_ward_around", lambda self, lon, lat, pad: None)
    full = [generation.wards_within(lat, lon, r) for lat, lon, r in cases]
    assert fast == full
    monkeypatch.undo()
    skipped = sum(generation.index.pure_ward_around(lon, lat, 30.0 / 100_000) is not None for lat, lon, _ in cases)
    assert skipped > len(cases) // 2  # the fast path is taken for most points at a 30 m accuracy
