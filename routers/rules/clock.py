"""Time in rules: durations, daily windows and weekdays in Asia/Ho_Chi_Minh, local timestamps.

Everything is parsed once at load into integers (seconds, minute-of-day, weekday numbers, epoch
seconds) so evaluation only compares numbers. Each parser raises ``ValueError`` with a message
meant for the person who wrote the rules file; the loader adds the line and column.

    >>> parse_duration("1h30m"), parse_window("22:00-06:00"), parse_weekdays(["mon-fri"])
    (5400, (1320, 360), frozenset({0, 1, 2, 3, 4}))
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(text: str | int) -> int:
    """``"90s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` or a number of seconds -> seconds (> 0)."""
    if isinstance(text, bool):
        raise ValueError(f"bad duration {text!r}: write e.g. 90s, 10m, 2h, 1d or 1h30m")
    if isinstance(text, int):
        seconds = text
    else:
        match = _DURATION.fullmatch(text.strip())
        if not text.strip() or match is None:
            raise ValueError(f"bad duration {text!r}: write e.g. 90s, 10m, 2h, 1d or 1h30m")
        days, hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be longer than zero")
    return seconds


def _minute_of_day(text: str, whole: str) -> int:
    if _CLOCK.fullmatch(text) is None:
        raise ValueError(f"bad time window {whole!r}: {text!r} is not a time of day HH:MM (00:00-24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_window(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` local time -> (start, end) minutes of day; end < start wraps past midnight."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"bad time window {text!r}: write HH:MM-HH:MM, e.g. 22:00-06:00")
    start_text, end_text = (part.strip() for part in text.split("-"))
    start, end = _minute_of_day(start_text, text), _minute_of_day(end_text, text)
    if start == 1440:
        raise ValueError(f"bad time window {text!r}: a window cannot start at 24:00")
    if start == end:
        raise ValueError(f"bad time window {text!r}: start and end are equal (empty window)")
    return start, end


def in_window(minute: int, window: tuple[int, int]) -> bool:
    """Half-open [start, end) in minutes of day; a window with end < start wraps past midnight."""
    start, end = window
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def parse_weekdays(items: list[str]) -> frozenset[int]:
    """``["mon-fri", "sun"]`` -> {0, 1, 2, 3, 4, 6} (Monday is 0, as ``datetime.weekday()``)."""
    days: set[int] = set()
    for item in items:
        first, _, last = str(item).lower().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"bad weekday {item!r}: use {', '.join(WEEKDAYS)} or a range like mon-fri")
        a = WEEKDAYS.index(first)
        b = WEEKDAYS.index(last) if last else a
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        days.update(span)
    return frozenset(days)


def parse_local_time(text: str) -> datetime:
    """ISO date-time; without an offset it is read in Asia/Ho_Chi_Minh. Returns an aware datetime."""
    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"bad date-time {text!r}: write e.g. 2026-11-22T08:00 (Asia/Ho_Chi_Minh)") from None
    return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value


def as_aware(moment: datetime) -> datetime:
    """A naive datetime is local (Asia/Ho_Chi_Minh) time, as ops people write it."""
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


_OFFSET_BY_HOUR: dict[int, int] = {}  # UTC hour -> Asia/Ho_Chi_Minh offset (s), filled from zoneinfo


def local_minute_and_weekday_at(epoch: float) -> tuple[int, int]:
    """Minute of day and weekday (Monday 0) in Asia/Ho_Chi_Minh of a POSIX time.

    The offset comes from zoneinfo, cached per UTC hour, so the hot path is integer arithmetic
    instead of a datetime conversion per event.
    """
    hour = int(epoch // 3600)
    offset = _OFFSET_BY_HOUR.get(hour)
    if offset is None:
        if len(_OFFSET_BY_HOUR) > 100_000:
            _OFFSET_BY_HOUR.clear()
        utcoffset = datetime.fromtimestamp(hour * 3600, LOCAL_TZ).utcoffset()
        offset = int(utcoffset.total_seconds()) if utcoffset is not None else 0
        _OFFSET_BY_HOUR[hour] = offset
    local = int(epoch // 1) + offset
    return (local // 60) % 1440, (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday (3)


def local_minute_and_weekday(moment: datetime) -> tuple[int, int]:
    """Minute of day and weekday of ``moment`` in Asia/Ho_Chi_Minh (naive = already local)."""
    return local_minute_and_weekday_at(as_aware(moment).timestamp())
