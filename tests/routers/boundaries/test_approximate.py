"""The approximate nationwide default: complete, valid, and close to the real polygons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from routers.boundaries import approximate
from routers.boundaries.approximate import ORIGIN
from routers.boundaries.diff import agreement, urban_points
from routers.boundaries.generation import Generation
from routers.boundaries.legacy_geocodes import district_fallback_keys
from routers.boundaries.lineage import admin_data
from routers.boundaries.model import Ward, WardSet
from routers.boundaries.registry import DEFAULT_NAME, BoundaryRegistry

CITIES = {"79": "vn2025-79-hcmc", "01": "vn2025-01-hanoi", "48": "vn2025-48-danang"}


@pytest.fixture(scope="module")
def approx(approx_data_dir: Path) -> Generation:
    return BoundaryRegistry(approx_data_dir).load_active()


def test_every_ward_of_every_province(approx: Generation) -> None:
    assert approx.source == "approximate"
    assert len(approx.wards) == 3321
    assert len({w.province_code for w in approx.wards}) == 34
    assert len(approx.wards_in_province("79")) == 168
    assert len(approx.wards_in_province("01")) == 126
    assert len(approx.wards_in_province("48")) == 94
    assert shapely.is_valid(approx.geoms).all()
    assert set(shapely.get_type_id(approx.geoms).tolist()) <= {3, 6}


def test_package_centroids_fall_in_their_own_ward(approx: Generation) -> None:
    units = admin_data().new_units
    hits = sum(approx.index.ward_at(u.lon, u.lat) == approx.ward_index(u.code) for u in units)
    assert hits / len(units) > 0.98


def test_open_sea_and_neighbours_are_outside(approx: Generation) -> None:
    assert approx.ward_of(12.0, 111.0) is None  # South China Sea, far from any island ward
    assert approx.ward_of(13.75, 100.5) is None  # Bangkok
    assert approx.ward_of(10.7769, 106.7009).code == "26740"  # Phường Sài Gòn


def test_district_fallback_geocodes_are_recognised() -> None:
    keys = district_fallback_keys()
    assert "tinhquangnam_huyenqueson_xaqueloc" in keys  # carries Quế Sơn district's centroid
    assert "thanhphodanang_quanhaichau_phuongbinhthuan" in keys
    assert "tinhbariavungtau_thanhphophumy_phuongphumy" not in keys  # namesake of its district
    assert "thanhphohanoi_quanbadinh_phuongphucxa" not in keys  # a real ward geocode
    assert 150 < len(keys) < 250


def _one_ward_set(origin_code: str) -> WardSet:
    ward = Ward(origin_code, "Phường Sài Gòn", "79", "Thành phố Hồ Chí Minh", 1.0, None, (10.7769, 106.7009))
    return WardSet([ward], np.array([shapely.Point(106.7009, 10.7769).buffer(0.01)], dtype=object))


def test_a_default_from_an_older_builder_is_rebuilt(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    stale = registry.add(
        _one_ward_set("26740"), name=DEFAULT_NAME, source="approximate", origin="vietnamadminunits"
    )
    registry.activate(stale.id)
    current = registry.ensure_default(progress=lambda _label, _n: None)
    assert current.id != stale.id
    assert current.origin == ORIGIN
    assert current.ward_count == 3321
    assert registry.load_active().id == current.id
    assert registry.ensure_default().id == current.id  # built once, then kept


def test_a_users_own_approximate_generation_is_kept(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    mine = registry.add(
        _one_ward_set("26740"), name="my-sketch", source="approximate", origin="sketch.geojson"
    )
    registry.activate(mine.id)
    assert registry.ensure_default().id == mine.id


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("province", "uniform_min", "urban_min"), [("79", 0.83, 0.96), ("01", 0.845, 0.95), ("48", 0.78, 0.96)]
)
def test_agreement_with_official_polygons(
    approx: Generation, official_data_dir: Path, province: str, uniform_min: float, urban_min: float
) -> None:
    """Floors just under the measured values (see docs/boundaries.md), so a regression fails."""
    official = BoundaryRegistry(official_data_dir).load(CITIES[province])
    rng = np.random.default_rng(7)
    xmin, ymin, xmax, ymax = shapely.total_bounds(official.geoms)
    uniform = agreement(approx, official, rng.uniform(xmin, xmax, 300_000), rng.uniform(ymin, ymax, 300_000))
    urban = agreement(approx, official, *urban_points((xmin, ymin, xmax, ymax), rng))
    assert uniform >= uniform_min
    assert urban >= urban_min


def test_boxed_cells_give_each_point_to_the_nearest_site_whose_box_holds_it() -> None:
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(0, 1, 12), rng.uniform(0, 1, 12)
    half = rng.uniform(0.05, 0.4, (12, 2))
    boxes = np.c_[xs - half[:, 0], ys - half[:, 1], xs + half[:, 0], ys + half[:, 1]]
    boxes[[2, 7]] = np.nan  # sites without a box
    cells = approximate._voronoi(xs, ys, (-2.0, -2.0, 3.0, 3.0))
    shapes = approximate._boxed_cells(xs, ys, boxes, cells)
    assert shapely.is_valid(shapes).all()
    px, py = rng.uniform(-0.3, 1.3, 3000), rng.uniform(-0.3, 1.3, 3000)
    scale = approximate._SCALE_X
    for x, y in zip(px, py, strict=True):
        d2 = ((xs - x) * scale) ** 2 + (ys - y) ** 2
        holding = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
        expected = int(np.argmin(np.where(holding, d2, np.inf))) if holding.any() else int(np.argmin(d2))
        point = shapely.Point(x, y)
        if shapely.distance(point, shapes[expected].boundary) < 1e-9:
            continue  # on an edge: either side is right
        assert shapes[expected].contains(point), (x, y, expected)
    assert abs(shapely.union_all(shapes).area - shapely.union_all(cells).area) < 1e-9  # a partition still
    assert sum(shapely.area(shapes)) == pytest.approx(shapely.union_all(shapes).area)
