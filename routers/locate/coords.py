"""Checking a reported coordinate before it is located.

Vietnam spans latitude ~6-24 N and longitude ~102-118 E (islands included); the two ranges do
not overlap, so a (lon, lat) pair given as (lat, lon) is recognised and swapped back, with
``"swapped_lat_lon"`` recorded so the repair stays visible.
"""

from __future__ import annotations

import math

from routers.exceptions import Rejected

VIETNAM_LAT = (6.0, 24.0)
VIETNAM_LON = (101.5, 118.0)
SWAPPED = "swapped_lat_lon"


def _in_vietnam(lat: float, lon: float) -> bool:
    return VIETNAM_LAT[0] <= lat <= VIETNAM_LAT[1] and VIETNAM_LON[0] <= lon <= VIETNAM_LON[1]


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected("invalid_coordinates", f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise Rejected("invalid_coordinates", f"{what} is {number}")
    return number


def check_coordinates(lat: object, lon: object) -> tuple[float, float, tuple[str, ...]]:
    """(lat, lon, corrections); Rejected("invalid_coordinates") for NaN, inf or out of range."""
    y = _number(lat, "latitude")
    x = _number(lon, "longitude")
    if not _in_vietnam(y, x) and _in_vietnam(x, y):
        return x, y, (SWAPPED,)
    if not (-90.0 <= y <= 90.0):
        raise Rejected("invalid_coordinates", f"latitude {y} is outside -90..90")
    if not (-180.0 <= x <= 180.0):
        raise Rejected("invalid_coordinates", f"longitude {x} is outside -180..180")
    return y, x, ()


MAX_ACCURACY_M = 100_000  # a radius beyond this says nothing about where the event is


def check_accuracy(accuracy_m: object) -> float | None:
    """The accuracy radius in metres, or None; negative, NaN or absurd values are rejected."""
    if accuracy_m is None:
        return None
    value = _number(accuracy_m, "accuracy") if not isinstance(accuracy_m, bool) else None
    if value is None or value < 0 or value > MAX_ACCURACY_M:
        raise Rejected("invalid_coordinates", f"accuracy {accuracy_m!r} m is not within 0..{MAX_ACCURACY_M}")
    return value
