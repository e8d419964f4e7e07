"""Timestamps on the wire: ISO 8601 with a zone, always compared in UTC."""

from __future__ import annotations

from collections import OrderedDict
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


# Each entry keeps its datetime and string alive (~230 B with the cache's own link). The hits come
# from an incident's times written again with its next versions, seconds apart: the times of the
# ~500 incidents touched last. 65,536 entries hold ~15 MB, and in the 1,000 events/s soak the
# cache was still filling after 27 minutes (traced: 11 MB), a steady climb of the worker's RSS;
# 4,096 hold ~1 MB and fill in minutes.
# On 20,000 routed reports (benchmarks.lifecycle_cpu's input) 81 % of calls hit against 87 %: ~9,000
# more formattings, ~0.2 us per input.
FORMATTED_MAX = 1 << 12
_formatted: OrderedDict[datetime, str] = OrderedDict()  # oldest first; a hit does not move (FIFO)


def fmt(moment: datetime | None) -> str | None:
    """:func:`routers.envelope.iso`, remembered: an incident's times (created, due, seen) are written
    again with every version of it, and formatting is the costly part of writing them."""
    if moment is None:
        return None
    text = _formatted.get(moment)
    if text is None:
        text = iso(moment)
        _remember(moment, text)
    return text


def _remember(moment: datetime, text: str) -> None:
    _formatted[moment] = text
    if len(_formatted) > FORMATTED_MAX:
        _formatted.popitem(last=False)


def parse_wire_time(raw: str) -> datetime:
    """:func:`parse_time` of a time as this project writes it (``2025-07-01T01:00:00.000Z``, what
    :func:`fmt` makes), remembering ``raw`` as its formatting: the time a routed event occurred is
    written into its evidence item, and formatting it anew cost ~1.2 us per event."""
    moment = parse_time(raw)
    if len(raw) == 24 and raw[23] == "Z" and raw[19] == "." and raw[10] == "T" and raw[4] == raw[7] == "-" \
            and raw[13] == raw[16] == ":":  # iso()'s own shape (not a week date, which parses too)
        _remember(moment, raw)
    return moment


def forget_formatted() -> None:
    """Empty the formatting cache (a memory measurement's baseline)."""
    _formatted.clear()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
