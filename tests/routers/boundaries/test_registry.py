"""Generations: compiled once, loaded fast, activated explicitly, chosen by event time."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely

from routers.boundaries import compiled
from routers.boundaries.index import EMPTY, INDEX_VERSION, IndexArrays, PointIndex, build_index
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
    assert gen.id == meta.id and gen.source == "official" and gen.layers[0].checksum == meta.checksum
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


def test_default_is_built_once_labelled_reference(default_data_dir: Path) -> None:
    registry = BoundaryRegistry(default_data_dir)
    before = registry.list()
    assert len(before) == 1 and before[0].source == "reference" and before[0].active
    assert registry.ensure_default().id == before[0].id  # idempotent: nothing rebuilt
    assert registry.list() == before


def test_nationwide_generation_loads_fast(default_data_dir: Path) -> None:
    started = time.perf_counter()
    gen = BoundaryRegistry(default_data_dir).load_active()
    elapsed = time.perf_counter() - started
    assert len(gen.wards) == 3321
    assert elapsed < 5.0, f"loading took {elapsed:.2f}s"  # ~0.6 s for 1.1 M vertices on an idle machine


def _sliver_over_a_ward() -> tuple[WardSet, float, float]:
    """A big ward and a thin one laid over it: the leaves beside the sliver are marked only by its
    boundary, while they lie wholly inside the big ward. Returns the wards and such a point."""
    leaf = 1.0 / 64.0 / 16.0
    x0, y0 = 106.5 + 40 * leaf, 10.5 + 40 * leaf
    big = shapely.box(106.5, 10.5, 106.5 + 100 * leaf, 10.5 + 100 * leaf)
    sliver = shapely.box(x0 + 0.1 * leaf, y0 - 3 * leaf, x0 + 0.4 * leaf, y0 + 3 * leaf)
    wards = [
        Ward(code, code, "79", "Thành phố Hồ Chí Minh", 1.0, None, (g.centroid.y, g.centroid.x))
        for code, g in (("26734", big), ("26737", sliver))
    ]
    return WardSet(wards, np.array([big, sliver], dtype=object)), x0 + 0.55 * leaf, y0 + 0.5 * leaf


def _write_as_builder_1(path: Path) -> None:
    """Rewrite a compiled file as the first index builder left it: no ``index_version``, and the
    big ward missing from the leaves the sliver's boundary marked (the big ward's own boundary is
    far from them), so they list only the sliver."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "index_version"}
    off, cand = arrays["cand_off"], arrays["cand"]
    lists = [cand[a:b].tolist() for a, b in zip(off[:-1], off[1:], strict=True)]
    assert sum(ws == [0, 1] for ws in lists) >= 6 and all(ws in ([0], [0, 1]) for ws in lists)
    lists = [[1] if ws == [0, 1] else ws for ws in lists]
    arrays["cand"] = np.array([w for ws in lists for w in ws], dtype=np.int32)
    arrays["cand_off"] = np.concatenate([[0], np.cumsum([len(ws) for ws in lists])]).astype(np.int32)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def test_an_index_from_the_first_builder_is_rebuilt_at_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wards, lon, lat = _sliver_over_a_ward()
    registry = BoundaryRegistry(tmp_path)
    meta = registry.activate(registry.add(wards, name="sliver").id)
    path = registry.path_of(meta)
    assert registry.load(meta.id).index.ward_at(lon, lat) == 0
    _write_as_builder_1(path)
    with np.load(path) as data:
        old = PointIndex(
            IndexArrays(data["params"], data["slots"], data["cand_off"], data["cand"], version=INDEX_VERSION),
            wards.geoms,
        )
    assert old.ward_at(lon, lat) == EMPTY  # what builder 1's lists answered

    with caplog.at_level("WARNING", logger="routers.boundaries.compiled"):
        gen = BoundaryRegistry(tmp_path).load_active().layers[0]
    assert gen.index.ward_at(lon, lat) == 0
    assert f"generation {meta.id} has a point index from builder 1" in caplog.text
    assert "file rewritten" in caplog.text
    with np.load(path) as data:
        assert int(data["index_version"][0]) == INDEX_VERSION
    caplog.clear()
    with caplog.at_level("WARNING", logger="routers.boundaries.compiled"):
        assert BoundaryRegistry(tmp_path).load_active().layers[0].index.ward_at(lon, lat) == 0
    assert caplog.text == ""  # rebuilt once: the rewritten file is current
    assert sorted(p.name for p in path.parent.iterdir()) == ["registry.json", "registry.lock", path.name]


def test_an_old_index_is_rebuilt_even_where_the_file_cannot_be_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    wards, lon, lat = _sliver_over_a_ward()
    registry = BoundaryRegistry(tmp_path)
    meta = registry.activate(registry.add(wards, name="sliver").id)
    _write_as_builder_1(registry.path_of(meta))

    def read_only(*_args: object) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(compiled, "write_compiled", read_only)
    for _ in range(2):
        caplog.clear()
        with caplog.at_level("WARNING", logger="routers.boundaries.compiled"):
            assert BoundaryRegistry(tmp_path).load_active().layers[0].index.ward_at(lon, lat) == 0
        assert "file not rewritten" in caplog.text and "Read-only file system" in caplog.text


def test_the_point_index_refuses_arrays_of_another_builder() -> None:
    wards, _, _ = _sliver_over_a_ward()
    arrays = build_index(wards.geoms, shapely.STRtree(wards.geoms))
    with pytest.raises(ValueError, match="builder 1"):
        PointIndex(dataclasses.replace(arrays, version=1), wards.geoms)


def _ward_in(code: str, province: str, box: tuple[float, float, float, float]) -> WardSet:
    geom = shapely.box(*box)
    point = geom.representative_point()
    ward = Ward(code, f"Ward {code}", province, f"Province {province}", 1.0, None, (point.y, point.x))
    return WardSet([ward], np.array([geom], dtype=object))


def test_a_city_layer_leaves_the_other_provinces_to_the_layer_below(tmp_path: Path) -> None:
    """Activating one city's file must not switch the rest of the country off."""
    from routers.locate.locator import Locator

    registry = BoundaryRegistry(tmp_path)
    both = WardSet(
        [*_ward_in("00004", "01", (105.80, 21.00, 105.82, 21.02)).wards,
         *_ward_in("26740", "79", (106.69, 10.77, 106.71, 10.79)).wards],
        np.array([shapely.box(105.80, 21.00, 105.82, 21.02), shapely.box(106.69, 10.77, 106.71, 10.79)], dtype=object),
    )
    nation = registry.add(both, name="nation", source="reference")
    registry.activate(nation.id)
    # The city's official file: a bigger Sài Gòn, no Hanoi.
    city = registry.activate(registry.add(_ward_in("26740", "79", (106.68, 10.76, 106.72, 10.80)), name="hcmc").id)
    assert {m.id: m.active for m in registry.list()} == {nation.id: True, city.id: True}
    assert [(m.id, sorted(p)) for m, p in registry.describe_layers()] == [(city.id, ["79"]), (nation.id, ["01"])]

    layers = registry.load_active()
    assert layers.id == f"{city.id}+{nation.id}" and layers.source == "official+reference"
    assert [w.code for w in layers.wards] == ["00004", "26740"]
    assert layers.wards_in_province("01")[0].code == "00004"

    locator = Locator(registry.load_for_serving())
    hanoi = locator.locate_point(21.01, 105.81)
    assert (hanoi.status, hanoi.generation, hanoi.source) == ("resolved", nation.id, "reference")
    saigon = locator.locate_point(10.765, 106.685)  # only the city's own (bigger) polygon has it
    assert (saigon.status, saigon.ward and saigon.ward.code, saigon.generation) == ("resolved", "26740", city.id)
    # Outside the official polygon: the nearest official ward (the reference has no say in 79).
    gap = locator.locate_point(10.80 + 0.0015, 106.70)
    assert gap.generation == city.id and gap.status == "resolved" and gap.method == "nearest"

    # A new nationwide official file hides both; the reference is deactivated, the city file stays
    # (it is newer, above).
    later = registry.add(both, name="nation-official", source="official")
    registry.activate(later.id)
    active = {m.id for m in registry.list() if m.active}
    assert active == {later.id}  # 'hcmc' is hidden completely by the newer layer with 79 and 01


def test_the_reference_never_hides_an_imported_layer(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    city = registry.activate(registry.add(_ward_in("26740", "79", (106.68, 10.76, 106.72, 10.80)), name="hcmc").id)
    ref = registry.activate(registry.add(_ward_in("26740", "79", (106.69, 10.77, 106.71, 10.79)), name="ref",
                                         source="reference").id)
    assert [m.id for m, _ in registry.describe_layers()] == [city.id, ref.id]
    assert {m.id for m in registry.list() if m.active} == {city.id, ref.id}


def test_diff_ignores_tone_mark_placement(tmp_path: Path) -> None:
    from routers.boundaries.diff import diff_generations

    registry = BoundaryRegistry(tmp_path)
    old = registry.load(registry.add(_ward_in("27139", "79", (106.68, 10.77, 106.69, 10.78)), name="a").id)
    renamed = _ward_in("27139", "79", (106.68, 10.77, 106.69, 10.78))
    renamed.wards[0] = dataclasses.replace(renamed.wards[0], name="Phường Xuân Hoà")
    first = dataclasses.replace(old.wards[0], name="Phường Xuân Hòa")
    same = _ward_in("27139", "79", (106.68, 10.77, 106.69, 10.78))
    same.wards[0] = first
    a = registry.load(registry.add(same, name="hoa").id)
    b = registry.load(registry.add(renamed, name="hoa-old-style").id)
    assert diff_generations(a, b).renamed == []
    other = _ward_in("27139", "79", (106.68, 10.77, 106.69, 10.78))
    other.wards[0] = dataclasses.replace(first, name="Phường Xuân Hoá")  # another tone: a real rename
    assert len(diff_generations(a, registry.load(registry.add(other, name="hoa-acute").id)).renamed) == 1


def test_an_old_approximate_default_gives_way_to_the_reference(tmp_path: Path) -> None:
    registry = BoundaryRegistry(tmp_path)
    old = registry.activate(
        registry.add(_ward_in("26740", "79", (106.69, 10.77, 106.71, 10.79)), name="vn2025-approx", source="approximate").id
    )
    city = registry.activate(registry.add(_ward_in("00004", "01", (105.80, 21.00, 105.82, 21.02)), name="hanoi").id)
    meta = registry.ensure_default(progress=lambda _label, _n: None)
    assert meta.source == "reference" and meta.active
    assert {m.id: m.active for m in registry.list()} == {old.id: False, city.id: True, meta.id: True}
    assert [m.id for m, _ in registry.describe_layers()] == [city.id, meta.id]
    assert registry.ensure_default().id == meta.id  # idempotent
