"""Coordinates: NaN, infinities, out-of-range and swapped pairs never crash."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routers.exceptions import Rejected
from routers.locate.coords import check_accuracy, check_coordinates


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (math.nan, 106.7, "latitude is nan"),
        (10.7, math.inf, "longitude is inf"),
        (-math.inf, 106.7, "latitude is -inf"),
        (91.0, 106.7, "latitude 91.0 is outside -90..90"),
        (10.7, 181.0, "longitude 181.0 is outside -180..180"),
        ("10.7", 106.7, "latitude must be a number, got '10.7'"),
        (True, 106.7, "latitude must be a number, got True"),
        (None, 106.7, "latitude must be a number, got None"),
    ],
)
def test_invalid_coordinates(lat: object, lon: object, message: str) -> None:
    with pytest.raises(Rejected) as info:
        check_coordinates(lat, lon)
    assert info.value.reason == "invalid_coordinates"
    assert info.value.detail == message


def test_swapped_vietnam_coordinates_are_corrected() -> None:
    assert check_coordinates(106.7009, 10.7769) == (10.7769, 106.7009, ("swapped_lat_lon",))
    assert check_coordinates(10.7769, 106.7009) == (10.7769, 106.7009, ())


def test_valid_points_outside_vietnam_pass_unchanged() -> None:
    assert check_coordinates(48.85, 2.35) == (48.85, 2.35, ())


@pytest.mark.parametrize("value", [-1.0, math.nan, 1e9, "5", True])
def test_invalid_accuracy(value: object) -> None:
    with pytest.raises(Rejected, match="invalid_coordinates: accuracy"):
        check_accuracy(value)


def test_valid_accuracy() -> None:
    assert check_accuracy(None) is None
    assert check_accuracy(25) == 25.0


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_pair_is_checked_or_rejected(lat: float, lon: float) -> None:
    try:
        y, x, corrections = check_coordinates(lat, lon)
    except Rejected as exc:
        assert exc.reason == "invalid_coordinates"
        return
    assert -90 <= y <= 90 and -180 <= x <= 180
    assert corrections in ((), ("swapped_lat_lon",))
