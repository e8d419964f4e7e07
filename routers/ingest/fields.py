"""Field readers shared by the intake decoders: each returns a clean value or raises Rejected."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from routers.events import GeoPoint
from routers.exceptions import Rejected
from routers.locate.coords import check_accuracy, check_coordinates

MAX_ID = 128
MAX_TEXT = 5000
MAX_ADDRESS = 500
MAX_NAME = 200
_EPOCH_MS_THRESHOLD = 1e11  # above this an epoch number is in milliseconds

def require(obj: dict[str, Any], name: str) -> Any:
    if name not in obj or obj[name] is None:
        raise Rejected("missing_field", f"field '{name}' is required")
    return obj[name]


def optional_object(obj: dict[str, Any], name: str, shown: str | None = None) -> dict[str, Any]:
    """``obj[name]`` as an object; absent or null reads as ``{}`` (``shown``: the field's name in errors)."""
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected("wrong_type", f"field '{shown or name}' must be an object")
    return value


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


def required_text(obj: dict[str, Any], name: str, limit: int) -> str:
    value = text(obj, name, limit, required=True)
    assert value is not None  # text(required=True) raises instead of returning None
    return value


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

    Swapped pairs are repaired (and recorded in ``corrections``) by the locator's coordinate check,
    so ingest and ``ioc locate`` agree on what a usable coordinate is."""
    if obj.get("lat") is None and obj.get("lon") is None:
        return None
    lat, lon, repaired = check_coordinates(number(obj, "lat", required=True), number(obj, "lon", required=True))
    corrections.extend(repaired)
    return GeoPoint(lat, lon, check_accuracy(obj.get("accuracy_m")))
