"""`ioc up --city C` works whatever is active: one city's official file does not hide the others."""

from __future__ import annotations

import dataclasses
import random
import shutil
from pathlib import Path

import pytest

from routers.boundaries.importer import import_wards
from routers.boundaries.registry import BoundaryRegistry
from routers.boundaries.sources import read_features
from routers.locate.locator import Locator
from streams.settings import load_settings
from streams.simulator.run import build_scenario

pytestmark = pytest.mark.realdata


def test_danang_runs_with_hcmc_official_active(data_dir: Path, shared_boundaries: Path, tmp_path: Path) -> None:
    shutil.copytree(data_dir / "boundaries", tmp_path / "boundaries")
    registry = BoundaryRegistry(tmp_path)
    wards, _ = import_wards(read_features(str(shared_boundaries / "vn2025-79-hcmc.geojson.gz")))
    official = registry.activate(registry.add(wards, name="hcmc", source="official").id)

    settings = dataclasses.replace(load_settings(), data_dir=tmp_path)
    scenario = build_scenario(settings, "danang", "normal", seed=3)
    assert scenario.province_code == "48" and len(scenario.wards) == 94
    locator = Locator(registry.load_for_serving())
    rng = random.Random(3)
    for spot in scenario.wards[:20]:
        lat, lon = scenario.sample_point(spot.code, rng)
        located = locator.locate_point(lat, lon)
        assert located.ward is not None and located.ward.code == spot.code and located.source == "reference"
    saigon = locator.locate_point(10.7769, 106.7009)
    assert saigon.generation == official.id and saigon.source == "official"
