"""Boundary generations built once per test session, for the routing-core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from routers.boundaries.importer import import_wards
from routers.boundaries.registry import BoundaryRegistry
from routers.boundaries.sources import read_features

CITIES = {"79": "vn2025-79-hcmc", "01": "vn2025-01-hanoi", "48": "vn2025-48-danang"}


@pytest.fixture(scope="session")
def default_data_dir(data_dir: Path) -> Path:
    """A data dir holding the activated built-in reference default (the session's ``data_dir``)."""
    return data_dir


@pytest.fixture(scope="session")
def official_data_dir(shared_boundaries: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the official HCMC, Hanoi and Da Nang generations (inactive)."""
    root = tmp_path_factory.getbasetemp() / "ioc-official"
    registry = BoundaryRegistry(root)
    known = {m.name for m in registry.list()}
    for name in CITIES.values():
        if name not in known:
            wards, _ = import_wards(read_features(str(shared_boundaries / f"{name}.geojson.gz")))
            registry.add(wards, name=name, source="official", origin=name)
    return root
