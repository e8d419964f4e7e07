"""Generations: compiled once, loaded fast, activated explicitly, chosen by event time."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely

from routers.boundaries.model import Ward, WardSet
from routers.boundaries.registry import MERGER_DATE, VIETNAM_TZ, BoundaryRegistry
from routers.exceptions import BoundaryError


def ward_set(code: str, name: str, box: tuple[float, float, float, float]) -> WardSet:
    geom = shapely.box(*box)
    point = geom.representative_point()
    ward = Ward(code, name, "79", "Thành phố Hồ Chí Minh", 1.0, None, (point.y, point.x))
    return WardSet([ward], np.array([geom], dtype=object))


OLD = ward_set("26734", "Phường Tân Định (old)", (106.68, 10.78, 106.70, 10.80))
NEW = ward_set("26737", "Phường Tân Định", (106.68, 10.78, 106.70, 10.80))


def test_no_generation_is_an_error(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    with pytest.raises(BoundaryError, match="no active boundary generation"):
        registry.load_active()
    with pytest.raises(BoundaryError, match="no active boundary generation"):
        registry.load_for_serving()
    with pytest.raises(BoundaryError, match="no boundary generation 'x' \\(known: none\\)"):
        registry.get("x")


def test_added_generations_start_inactive_and_activate(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    meta = registry.add(NEW, name="hcmc 2025", source="official")
    assert meta.id.startswith("hcmc-2025-") and not meta.active
    with pytest.raises(BoundaryError):
        registry.load_active()
    assert registry.activate("hcmc-2025").active
    gen = registry.load_active()
    assert gen.id == meta.id and gen.source == "official" and gen.checksum == meta.checksum
    assert registry.add(NEW, name="hcmc 2025", source="official").id == meta.id  # idempotent


def test_activation_replaces_overlapping_generation(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    first = registry.add(NEW, name="a")
    second = registry.add(ward_set("26740", "Phường Sài Gòn", (106.69, 10.77, 106.71, 10.79)), name="b")
    registry.activate(first.id)
    registry.activate(second.id)
    assert {m.id: m.active for m in registry.list()} == {first.id: False, second.id: True}


def test_event_time_picks_pre_or_post_merger_generation(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    pre = registry.add(
        OLD, name="pre", valid_from=datetime(2020, 1, 1, tzinfo=VIETNAM_TZ), valid_to=MERGER_DATE
    )
    post = registry.add(NEW, name="post", valid_from=MERGER_DATE)
    registry.activate(pre.id)
    registry.activate(post.id)
    assert all(m.active for m in registry.list())  # validity does not overlap: both stay active
    assert registry.load_active(datetime(2025, 6, 15, tzinfo=VIETNAM_TZ)).id == pre.id
    assert registry.load_active(datetime(2025, 7, 1, tzinfo=VIETNAM_TZ)).id == post.id
    assert registry.load_active().id == post.id
    assert [g.id for g in registry.load_for_serving()] == [pre.id, post.id]
    with pytest.raises(BoundaryError, match="no active boundary generation is valid at 2019"):
        registry.load_active(datetime(2019, 1, 1, tzinfo=UTC))


def test_bad_validity_is_refused(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    with pytest.raises(BoundaryError, match="is not after valid_from"):
        registry.add(NEW, name="x", valid_to=MERGER_DATE)
    with pytest.raises(BoundaryError, match="time zone"):
        registry.add(NEW, name="x", valid_from=datetime(2025, 7, 1))


def test_missing_or_damaged_files_are_clear_errors(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    meta = registry.add(NEW, name="gone")
    registry.path_of(meta).unlink()
    with pytest.raises(BoundaryError, match="compiled file of gone-.* is missing"):
        BoundaryRegistry(tmp_path).load(meta.id)
    (tmp_path / "boundaries" / "registry.json").write_text("{broken")
    with pytest.raises(BoundaryError, match="registry.json is damaged"):
        registry.list()


def test_default_is_built_once_labelled_approximate(approx_data_dir: Path) -> None:
    registry = BoundaryRegistry(approx_data_dir)
    before = registry.list()
    assert len(before) == 1 and before[0].source == "approximate" and before[0].active
    assert registry.ensure_default().id == before[0].id  # idempotent: nothing rebuilt
    assert registry.list() == before


def test_nationwide_generation_loads_fast(approx_data_dir: Path) -> None:
    started = time.perf_counter()
    gen = BoundaryRegistry(approx_data_dir).load_active()
    elapsed = time.perf_counter() - started
    assert len(gen.wards) == 3321
    assert elapsed < 2.0, f"loading took {elapsed:.2f}s"
