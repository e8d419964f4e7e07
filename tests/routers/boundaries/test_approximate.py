"""The approximate nationwide default: complete, valid, and close to the real polygons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from routers.boundaries.diff import agreement
from routers.boundaries.generation import Generation
from routers.boundaries.lineage import admin_data
from routers.boundaries.registry import BoundaryRegistry

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




@pytest.mark.realdata
@pytest.mark.parametrize(
    ("province", "uniform_min", "urban_min"), [("79", 0.78, 0.95), ("01", 0.78, 0.92), ("48", 0.70, 0.93)]
)
def test_agreement_with_official_polygons(
    approx: Generation, official_data_dir: Path, province: str, uniform_min: float, urban_min: float
) -> None:
    """Floors just under the measured values (see docs/boundaries.md), so a regression fails."""
    official = BoundaryRegistry(official_data_dir).load(CITIES[province])
    rng = np.random.default_rng(7)
    xmin, ymin, xmax, ymax = shapely.total_bounds(official.geoms)
    uniform = agreement(approx, official, rng.uniform(xmin, xmax, 300_000), rng.uniform(ymin, ymax, 300_000))
    olds = [u for u in admin_data().old_units if xmin < u.lon < xmax and ymin < u.lat < ymax]
    cx = np.repeat([u.lon for u in olds], 20)
    cy = np.repeat([u.lat for u in olds], 20)
    r = 150.0 * np.sqrt(rng.uniform(0, 1, len(cx)))
    theta = rng.uniform(0, 2 * np.pi, len(cx))
    urban = agreement(approx, official, cx + r * np.cos(theta) / 107_000, cy + r * np.sin(theta) / 110_600)
    assert uniform >= uniform_min
    assert urban >= urban_min
