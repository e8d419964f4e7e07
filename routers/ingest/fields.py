"""Field readers shared by the intake decoders: each returns a clean value or raises Rejected."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from routers.events import GeoPoint
from routers.exceptions import Rejected

MAX_ID = 128
MAX_TEXT = 5000
MAX_ADDRESS = 500
MAX_NAME = 200
_EPOCH_MS_THRESHOLD = 1e11  # above this an epoch number is in milliseconds

# Vietnam's extent, with a margin; the two ranges do not overlap, so swapped pairs are detectable.
VN_LAT = (8.0, 24.0)
VN_LON = (102.0, 110.0)


def require(obj: dict[str, Any], name: str) -> Any:
    if name not in obj or obj[name] is None:
        raise Rejected("missing_field", f"field '{name}' is required")
    return obj[name]


def text(obj: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = require(obj, name) if required else obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"field '{name}' must be a string, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise Rejected("missing_field", f"field '{name}' is empty")
    if len(value) > limit:
        raise Rejected("field_too_long", f"field '{name}' has {len(value)} characters (limit {limit})")
    return value or None


def number(obj: dict[str, Any], name: str, required: bool = False) -> float | None:
    value = require(obj, name) if required else obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected("wrong_type", f"field '{name}' must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise Rejected("not_finite", f"field '{name}' must be finite")
    return float(value)


def timestamp(obj: dict[str, Any], name: str) -> datetime:
    """ISO 8601 with an offset, or epoch seconds/milliseconds; naive times are read as Vietnam time."""
    value = require(obj, name)
    if isinstance(value, bool):
        raise Rejected("wrong_type", f"field '{name}' must be a time")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise Rejected("bad_time", f"field '{name}' is not a valid epoch time")
        seconds = value / 1000 if value > _EPOCH_MS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise Rejected("bad_time", f"field '{name}' is out of range") from None
    if not isinstance(value, str) or len(value) > 40:
        raise Rejected("wrong_type", f"field '{name}' must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise Rejected("bad_time", f"field '{name}' is not ISO 8601: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return parsed.astimezone(UTC)


def point(obj: dict[str, Any], corrections: list[str]) -> GeoPoint | None:
    """``lat``/``lon`` (and optional ``accuracy_m``) from ``obj``; None when both are absent.

    A pair that only makes sense swapped (lat in Vietnam's longitude range and vice versa) is
    swapped back and ``swapped_lat_lon`` is recorded, not rejected.
    """
    if obj.get("lat") is None and obj.get("lon") is None:
        return None
    lat = number(obj, "lat", required=True)
    lon = number(obj, "lon", required=True)
    assert lat is not None and lon is not None
    if VN_LON[0] <= lat <= VN_LON[1] and VN_LAT[0] <= lon <= VN_LAT[1]:
        lat, lon = lon, lat
        corrections.append("swapped_lat_lon")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise Rejected("invalid_coordinates", f"lat={lat} lon={lon} is not a place on Earth")
    accuracy = number(obj, "accuracy_m")
    if accuracy is not None and accuracy < 0:
        raise Rejected("invalid_coordinates", "accuracy_m must not be negative")
    return GeoPoint(lat, lon, accuracy)
