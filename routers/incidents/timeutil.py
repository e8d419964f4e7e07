"""Timestamps on the wire: ISO 8601 with a zone, always compared in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from routers.envelope import iso


def parse_time(raw: str) -> datetime:
    """ISO 8601 with ``Z`` or an offset -> aware UTC datetime; naive times are refused."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {raw!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {raw!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before datetime.min in UTC
        raise ValueError(f"timestamp out of range: {raw!r}") from None


def fmt(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
