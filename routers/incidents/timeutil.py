"""Timestamps on the wire: ISO 8601 with a zone, always compared in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

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


# Each entry keeps its datetime and string alive (~230 B with the cache's own link). The hits come
# from an incident's times written again with its next versions, seconds apart: the times of the
# ~500 incidents touched last. 65,536 entries hold ~15 MB, and in the 1,000 events/s soak the
# cache was still filling after 27 minutes (traced: 11 MB), a steady climb of the worker's RSS;
# 4,096 hold ~1 MB and fill in minutes.
# On 20,000 routed reports (benchmarks.lifecycle_cpu's input) 81 % of calls hit against 87 %: ~9,000
# more formattings, ~0.2 us per input.
@lru_cache(maxsize=1 << 12)
def _formatted(moment: datetime) -> str:
    return iso(moment)


def fmt(moment: datetime | None) -> str | None:
    """:func:`routers.envelope.iso`, remembered: an incident's times (created, due, seen) are written
    again with every version of it, and formatting is the costly part of writing them."""
    return None if moment is None else _formatted(moment)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
