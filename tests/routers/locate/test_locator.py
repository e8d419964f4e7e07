"""Locator on real polygons: point, nearest, outside, accuracy candidates, addresses, event time."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from routers.boundaries.model import Ward, WardSet
from routers.boundaries.registry import MERGER_DATE, VIETNAM_TZ, BoundaryRegistry
from routers.events import GeoPoint
from routers.exceptions import Rejected
from routers.locate.locator import Locator

SAI_GON_POINT = (10.7769, 106.7009)  # Nhà hát Thành phố, Phường Sài Gòn


@pytest.fixture(scope="module")
def hcmc(official_data_dir: Path) -> Locator:
    return Locator([BoundaryRegistry(official_data_dir).load("vn2025-79-hcmc")])


@pytest.fixture(scope="module")
def builtin(default_data_dir: Path) -> Locator:
    return Locator(BoundaryRegistry(default_data_dir).load_for_serving())


@pytest.mark.realdata
def test_point_in_ward(hcmc: Locator) -> None:
    location = hcmc.locate_point(*SAI_GON_POINT)
    assert location.status == "resolved" and location.method == "point"
    assert location.ward is not None and (location.ward.code, location.ward.name) == (
        "26740",
        "Phường Sài Gòn",
    )
    assert location.source == "official" and location.generation.startswith("vn2025-79-hcmc-")
    assert location.to_json()["candidates"] == []


@pytest.mark.realdata
def test_swapped_point_is_corrected(hcmc: Locator) -> None:
    location = hcmc.locate_point(SAI_GON_POINT[1], SAI_GON_POINT[0])
    assert location.ward is not None and location.ward.code == "26740"
    assert location.corrections == ("swapped_lat_lon",)


@pytest.mark.realdata
def test_accuracy_radius_lists_other_wards(hcmc: Locator) -> None:
    location = hcmc.locate_point(*SAI_GON_POINT, accuracy_m=400)
    assert location.status == "resolved" and location.ward is not None and location.ward.code == "26740"
    assert [c.code for c in location.candidates] == ["26743"]  # Phường Bến Thành
    assert 150 < (location.candidates[0].distance_m or 0) < 400
    assert hcmc.locate_point(*SAI_GON_POINT, accuracy_m=5).candidates == ()


@pytest.mark.realdata
def test_point_just_off_a_ward_goes_to_nearest(hcmc: Locator) -> None:
    gen = hcmc.generations[0]
    coast = gen.geometry("26506")  # Phường Vũng Tàu, on the sea
    # Walk seawards from the ward until the point is in no ward, then a bit further.
    lat, lon = 10.3300, 107.0750
    assert gen.ward_of(lat, lon) is None
    distance = gen.wards_within(lat, lon, 5000)[0][1]
    within = Locator([gen], nearest_max_m=distance + 50).locate_point(lat, lon)
    assert within.status == "resolved" and within.method == "nearest"
    assert within.ward is not None and within.candidates[0].code == within.ward.code
    assert within.candidates[0].distance_m == pytest.approx(distance)
    outside = Locator([gen], nearest_max_m=max(distance - 50, 0)).locate_point(lat, lon)
    assert (outside.status, outside.reason, outside.ward) == ("unresolved", "outside_boundaries", None)
    assert coast.is_valid


@pytest.mark.realdata
def test_far_sea_and_abroad_are_outside(hcmc: Locator) -> None:
    for lat, lon in [(9.5, 108.5), (48.85, 2.35)]:
        location = hcmc.locate_point(lat, lon)
        assert (location.status, location.reason) == ("unresolved", "outside_boundaries")


@pytest.mark.parametrize(("lat", "lon"), [(math.nan, 106.7), (10.7, math.inf), (95.0, 106.7), (10.0, 200.0)])
def test_invalid_coordinates_raise_rejected(builtin: Locator, lat: float, lon: float) -> None:
    with pytest.raises(Rejected) as info:
        builtin.locate_point(lat, lon)
    assert info.value.reason == "invalid_coordinates"


def test_addresses_resolve_ambiguous_or_unresolved(builtin: Locator) -> None:
    resolved = builtin.locate_address("P.7, Q.3, TP.HCM")
    assert (resolved.status, resolved.method, resolved.source) == (
        "resolved",
        "legacy_address",
        "reference",
    )
    assert resolved.ward is not None and resolved.ward.code == "27139"
    new = builtin.locate_address("Phường Bàn Cờ, TP.HCM")
    assert (new.status, new.method) == ("resolved", "address") and new.ward is not None
    split = builtin.locate_address("Phường Đa Kao, Quận 1, TP.HCM")
    assert (split.status, split.reason, split.ward) == ("ambiguous", "ambiguous_address", None)
    assert [c.code for c in split.candidates] == ["26737", "26740"]
    nothing = builtin.locate_address("số 5 đường không tên")
    assert (nothing.status, nothing.reason) == ("unresolved", "address_unresolved")
    empty = builtin.locate_address("   ")
    assert (empty.status, empty.reason) == ("unresolved", "no_location")
    with pytest.raises(Rejected, match="invalid_address"):
        builtin.locate_address("Phường " * 200)


def test_locate_prefers_the_point(builtin: Locator) -> None:
    both = builtin.locate(GeoPoint(*SAI_GON_POINT), "Phường Bàn Cờ, TP.HCM")
    assert both.method == "point" and both.ward is not None and both.ward.code == "26740"
    fallback = builtin.locate(None, "Phường Bàn Cờ, TP.HCM")
    assert fallback.method == "address" and fallback.ward is not None and fallback.ward.code == "27154"
    none = builtin.locate(None, None)
    assert (none.status, none.reason) == ("unresolved", "no_location")


def test_event_time_picks_the_generation(tmp_path: Path) -> None:
    box = shapely.box(106.68, 10.78, 106.70, 10.80)

    def one(code: str, name: str) -> WardSet:
        return WardSet(
            [Ward(code, name, "79", "HCMC", 1.0, None, (10.79, 106.69))], np.array([box], dtype=object)
        )

    registry = BoundaryRegistry(tmp_path)
    pre = registry.add(
        one("26734", "Phường Tân Định (Quận 1)"),
        name="pre",
        valid_from=datetime(2020, 1, 1, tzinfo=VIETNAM_TZ),
        valid_to=MERGER_DATE,
        source="reference",
    )
    post = registry.add(one("26737", "Phường Tân Định"), name="post", valid_from=MERGER_DATE)
    registry.activate(pre.id)
    registry.activate(post.id)
    locator = Locator(registry.load_for_serving())
    june = locator.locate_point(10.79, 106.69, at=datetime(2025, 6, 15, 8, tzinfo=VIETNAM_TZ))
    july = locator.locate_point(10.79, 106.69, at=datetime(2025, 7, 2, 8, tzinfo=VIETNAM_TZ))
    now = locator.locate_point(10.79, 106.69)
    assert (june.generation, june.ward and june.ward.code) == (pre.id, "26734")
    assert (july.generation, july.ward and july.ward.code) == (post.id, "26737")
    assert now.generation == post.id
    old = locator.locate_point(10.79, 106.69, at=datetime(2010, 1, 1, tzinfo=VIETNAM_TZ))
    assert old.generation == pre.id and old.corrections == ("no_generation_for_time",)
    with pytest.raises(Rejected, match="invalid_time"):
        locator.locate_point(10.79, 106.69, at=datetime(2025, 6, 15))


@settings(max_examples=300, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_any_input_is_located_or_rejected(
    default_data_dir: Path, lat: float, lon: float, accuracy: float | None
) -> None:
    locator = _cached_locator(default_data_dir)
    try:
        location = locator.locate_point(lat, lon, accuracy)
    except Rejected as exc:
        assert exc.reason == "invalid_coordinates"
        return
    assert location.status in ("resolved", "unresolved")


_LOCATORS: dict[Path, Locator] = {}


def _cached_locator(data_dir: Path) -> Locator:
    if data_dir not in _LOCATORS:
        _LOCATORS[data_dir] = Locator(BoundaryRegistry(data_dir).load_for_serving())
    return _LOCATORS[data_dir]


@given(st.text(max_size=600))
@settings(max_examples=200, deadline=None)
def test_any_text_is_located_or_rejected(default_data_dir: Path, text: str) -> None:
    locator = _cached_locator(default_data_dir)
    try:
        location = locator.locate_address(text)
    except Rejected as exc:
        assert exc.reason == "invalid_address" and len(text) > 500
        return
    assert location.status in ("resolved", "ambiguous", "unresolved")


def test_only_future_generations_say_so(tmp_path: Path) -> None:
    box = shapely.box(106.68, 10.78, 106.70, 10.80)
    wards = WardSet(
        [Ward("26737", "Phường Tân Định", "79", "HCMC", 1.0, None, (10.79, 106.69))],
        np.array([box], dtype=object),
    )
    registry = BoundaryRegistry(tmp_path)
    future = registry.add(wards, name="future", valid_from=datetime(2099, 1, 1, tzinfo=VIETNAM_TZ))
    registry.activate(future.id)
    location = Locator(registry.load_for_serving()).locate_point(10.79, 106.69)
    assert location.generation == future.id and location.corrections == ("no_generation_for_time",)
