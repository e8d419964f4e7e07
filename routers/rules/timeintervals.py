"""Named time intervals, as Alertmanager's ``time_intervals`` (``timeinterval/timeinterval.go``).

A named interval is a list of :class:`TimeInterval`; it contains a moment when any of them does.
One :class:`TimeInterval` contains a moment when every part it sets holds (an unset part always
holds), read in its ``location``:

- ``times``: ``{start_time: "HH:MM", end_time: "HH:MM"}``, half-open, start before end (00:00-24:00);
- ``weekdays``: ``monday:friday``, ``sunday`` (inclusive ranges, Sunday first as in Go; a range
  must not wrap the week: write two);
- ``days_of_month``: ``1:5``, ``-3:-1`` (negative counts from the month's end, -1 the last day),
  clamped to the month;
- ``months``: ``january:march`` or ``1:3``; ``years``: ``2026:2027``;
- ``location``: an IANA zone name. Unset: Asia/Ho_Chi_Minh (Alertmanager: UTC) - see docs/rules.md.

Parsers raise ``ValueError`` with Alertmanager's own message; the rules loader adds line:column.

    >>> interval = parse_time_interval({"weekdays": ["monday:friday"], "times": [
    ...     {"start_time": "09:00", "end_time": "17:00"}], "location": "UTC"})
    >>> interval.contains(1_780_000_000.0)   # 2026-05-28 20:26 UTC, a Thursday evening
    False
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routers.rules.clock import LOCAL_TZ

INTERVAL_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")
WEEKDAY_NUMBERS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
                   "saturday": 6}
MONTH_NUMBERS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTH_NAMES = {number: name for name, number in MONTH_NUMBERS.items()}
_CLOCK = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")

Range = tuple[int, int]


def _atoi(text: str) -> int:
    if re.fullmatch(r"[+-]?\d+", text) is None:
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _range(raw: Any, member: Any) -> Range:
    """``"a:b"`` or ``"a"`` -> (begin, end) through ``member`` (Alertmanager's stringableRangeFromString)."""
    text = str(raw).lower()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"couldn't parse range {text}, invalid format")
        return member(parts[0]), member(parts[1])
    value = member(text)
    return value, value


def _weekday(text: str) -> int:
    if text not in WEEKDAY_NUMBERS:
        raise ValueError(f"{text} is not a valid weekday")
    return WEEKDAY_NUMBERS[text]


def _month(text: str) -> int:
    if text in MONTH_NUMBERS:
        return MONTH_NUMBERS[text]
    try:
        number = _atoi(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid month") from None
    if not 1 <= number <= 12:  # Alertmanager accepts 13 and never matches it; refused here
        raise ValueError(f"{text} is not a valid month")
    return number


def parse_weekday_range(raw: Any) -> Range:
    begin, end = _range(raw, _weekday)
    if begin > end:
        raise ValueError("start day cannot be before end day")  # Alertmanager's wording
    return begin, end


def parse_day_of_month_range(raw: Any) -> Range:
    begin, end = _range(raw, _atoi)
    for value in (begin, end):
        if value == 0 or value < -31 or value > 31:
            raise ValueError(f"{value} is not a valid day of the month: out of range")
    if begin < 0 < end:
        raise ValueError("end day must be negative if start day is negative")
    check_begin = 28 + begin if begin < 0 else begin
    check_end = 28 + end if end < 0 else end
    if check_begin > check_end:
        raise ValueError(f"end day {end} is always before start day {begin}")
    return begin, end


def parse_month_range(raw: Any) -> Range:
    begin, end = _range(raw, _month)
    if begin > end:
        raise ValueError(f"end month {MONTH_NAMES[end]} is before start month {MONTH_NAMES[begin]}")
    return begin, end


def parse_year_range(raw: Any) -> Range:
    begin, end = _range(raw, _atoi)
    if begin > end:
        raise ValueError(f"end year {end} is before start year {begin}")
    return begin, end


def _minutes(text: str) -> int:
    if _CLOCK.search(text) is None:
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_time_range(raw: Any) -> Range:
    if not isinstance(raw, Mapping):
        raise ValueError("a time range is a mapping with start_time and end_time")
    start_text, end_text = raw.get("start_time"), raw.get("end_time")
    if not start_text or not end_text:
        raise ValueError("both start and end times must be provided")
    start, end = _minutes(str(start_text)), _minutes(str(end_text))
    if start >= end:
        raise ValueError("start time cannot be equal or greater than end time")
    return start, end


def parse_location(raw: Any) -> ZoneInfo:
    name = str(raw)
    if name == "Local":  # the worker's own zone would make a ruleset mean different things per host
        raise ValueError("location 'Local' is refused: name the zone, e.g. Asia/Ho_Chi_Minh")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


def _inside(value: int, ranges: Sequence[Range]) -> bool:
    return any(begin <= value <= end for begin, end in ranges)


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One entry of a named interval; ``None`` parts always hold. Weekdays count Sunday as 0."""

    times: tuple[Range, ...] | None = None
    weekdays: tuple[Range, ...] | None = None
    days_of_month: tuple[Range, ...] | None = None
    months: tuple[Range, ...] | None = None
    years: tuple[Range, ...] | None = None
    location: ZoneInfo = LOCAL_TZ

    def contains(self, epoch: float) -> bool:
        """Alertmanager's ``ContainsTime`` for a POSIX time."""
        moment = datetime.fromtimestamp(epoch, self.location)
        if self.times is not None:
            minute = moment.hour * 60 + moment.minute
            if not any(start <= minute < end for start, end in self.times):
                return False
        if self.days_of_month is not None and not self._day_of_month_holds(moment):
            return False
        if self.months is not None and not _inside(moment.month, self.months):
            return False
        if self.weekdays is not None and not _inside((moment.weekday() + 1) % 7, self.weekdays):
            return False
        return self.years is None or _inside(moment.year, self.years)

    def _day_of_month_holds(self, moment: datetime) -> bool:
        assert self.days_of_month is not None
        days = calendar.monthrange(moment.year, moment.month)[1]
        for first, last in self.days_of_month:
            begin = days + first + 1 if first < 0 else first
            end = days + last + 1 if last < 0 else last
            if begin > days:  # starts after this month's end: not this month
                continue
            begin, end = max(min(begin, days), -days), max(min(end, days), -days)
            if begin <= moment.day <= end:
                return True
        return False


@dataclass(frozen=True, slots=True)
class NamedInterval:
    name: str
    intervals: tuple[TimeInterval, ...]

    def contains(self, epoch: float) -> bool:
        return any(interval.contains(epoch) for interval in self.intervals)


def parse_time_interval(raw: Mapping[str, Any]) -> TimeInterval:
    """One entry (a mapping) -> :class:`TimeInterval`; the first problem raises ``ValueError``."""
    problems = list(time_interval_problems(raw))
    if problems:
        raise ValueError(problems[0][1])
    return build_time_interval(raw)


PARTS = {
    "weekdays": parse_weekday_range,
    "days_of_month": parse_day_of_month_range,
    "months": parse_month_range,
    "years": parse_year_range,
}


def time_interval_problems(raw: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem of one entry as (path inside the entry, message), for the loader's line:column."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, item in enumerate(raw.get("times") or ()):
        try:
            parse_time_range(item)
        except ValueError as exc:
            problems.append((("times", index), str(exc)))
    for key, parse in PARTS.items():
        for index, item in enumerate(raw.get(key) or ()):
            try:
                parse(item)
            except ValueError as exc:
                problems.append(((key, index), str(exc)))
    if raw.get("location") is not None:
        try:
            parse_location(raw["location"])
        except ValueError as exc:
            problems.append((("location",), str(exc)))
    return problems


def build_time_interval(raw: Mapping[str, Any]) -> TimeInterval:
    """A checked entry (no :func:`time_interval_problems`) -> :class:`TimeInterval`."""
    def ranges(key: str) -> tuple[Range, ...] | None:
        items = raw.get(key)
        return None if not items else tuple(PARTS[key](item) for item in items)

    times = raw.get("times")
    return TimeInterval(
        times=None if not times else tuple(parse_time_range(item) for item in times),
        weekdays=ranges("weekdays"),
        days_of_month=ranges("days_of_month"),
        months=ranges("months"),
        years=ranges("years"),
        location=parse_location(raw["location"]) if raw.get("location") is not None else LOCAL_TZ,
    )
