"""Compiled matchers and the per-event facts they read.

A route's ``match`` block is compiled at load into a tuple of small matcher objects; at
evaluation each reads one precomputed attribute of :class:`Facts` and compares numbers or
strings. No regex compilation, YAML or time-zone work happens per event.

Semantics (all matchers of a block must hold; an empty block matches everything):

- ``<field>: [a, b]``        the field's value is one of the list (``ward`` matches when any of the
  event's wards is listed: the located ward, or every candidate of an ambiguous location);
- ``<field>_not: [a, b]``    the value is none of the list;
- ``<field>_regex: RE``      the whole value matches RE (anchored, as Alertmanager ``=~``); RE is
  RE2's linear-time dialect (:mod:`routers.rules.regex`);
- ``<field>_not_regex: RE``  the negation of ``_regex``;

An absent field reads as the empty string, as a missing label does in Alertmanager: ``x_regex:
".*"`` and ``x_not: [a]`` match an event without ``x``, ``x: [a]`` does not (``x: [""]`` does);
- ``confidence_gte/value_gte: x`` value >= x; ``confidence_lt/value_lt: x`` value < x; an absent
  value never matches either;
- ``threshold: [id]``        the sensor's hysteresis threshold ``id`` is open after this reading;
- ``time: ["22:00-06:00"]``  local time of day (Asia/Ho_Chi_Minh) is in one of the windows
  (half-open; wraps past midnight);
- ``weekdays: [mon-fri]``    local weekday is listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any

from routers.rules.clock import in_window, local_minute_and_weekday_at
from routers.rules.regex import RuleRegex


@dataclass(slots=True)
class Facts:
    """What the matchers read, computed once per event."""

    source: str
    kind: str
    category: str | None
    label: str | None
    sensor_kind: str | None
    family: str
    ward: str | None  # the located ward (None for ambiguous without a best guess)
    wards: tuple[str, ...]  # the ward, or all candidates of an ambiguous location
    province: str | None
    device: str | None
    channel: str | None
    description: str | None
    address: str | None
    confidence: float | None
    value: float | None
    threshold: frozenset[str]  # open hysteresis thresholds after this reading
    epoch: float
    # local (minute of day, weekday), worked out on first read: most events meet no clock matcher
    clock: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def minute(self) -> int:
        """Local minute of day (Asia/Ho_Chi_Minh)."""
        return self.local_clock()[0]

    @property
    def weekday(self) -> int:
        """Local weekday, Monday 0."""
        return self.local_clock()[1]

    def local_clock(self) -> tuple[int, int]:
        clock = self.clock
        if clock is None:
            clock = self.clock = local_minute_and_weekday_at(self.epoch)
        return clock


ABSENT = ("",)  # how a multi-valued fact without values reads: one empty label value


class Matcher:
    """One compiled condition; ``text`` is how the explain trace shows it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def test(self, facts: Facts) -> bool:  # pragma: no cover - every subclass overrides
        raise TypeError("abstract matcher")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.text}>"


def _show(values: Sequence[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


class InSet(Matcher):
    __slots__ = ("field", "get", "values", "negate")

    def __init__(self, field: str, values: Sequence[str], negate: bool) -> None:
        super().__init__(f"{field} {'not in' if negate else 'in'} {_show(values)}")
        self.field = field
        self.get = attrgetter(field)
        self.values = frozenset(values)
        self.negate = negate

    def test(self, facts: Facts) -> bool:
        value = self.get(facts)
        return ((value if value is not None else "") in self.values) is not self.negate


class AnyInSet(Matcher):
    """For multi-valued facts (``wards``): true when any value is listed."""

    __slots__ = ("get", "values", "negate")

    def __init__(self, field: str, values: Sequence[str], negate: bool) -> None:
        super().__init__(f"ward {'not in' if negate else 'in'} {_show(values)}")
        self.get = attrgetter(field)
        self.values = frozenset(values)
        self.negate = negate

    def test(self, facts: Facts) -> bool:
        hit = not self.values.isdisjoint(self.get(facts) or ABSENT)
        return hit is not self.negate


class Regex(Matcher):
    __slots__ = ("field", "get", "pattern", "negate", "multi", "on_absent")

    def __init__(self, field: str, pattern: RuleRegex, negate: bool, multi: bool = False) -> None:
        shown = "ward" if multi else field
        super().__init__(f"{shown} {'!~' if negate else '=~'} /{pattern.source}/")
        self.field = field
        self.get = attrgetter(field)
        self.pattern = pattern
        self.negate = negate
        self.multi = multi
        # the answer for an absent value (""), worked out once: most reports have no description
        self.on_absent = pattern.fullmatch("") is not negate

    def test(self, facts: Facts) -> bool:
        value = self.get(facts)
        if self.multi:
            if not value:
                return self.on_absent
            hit = any(self.pattern.fullmatch(v) for v in value)
        elif value is None:
            return self.on_absent
        else:
            hit = self.pattern.fullmatch(value)
        return hit is not self.negate


class AtLeast(Matcher):
    __slots__ = ("get", "bound")

    def __init__(self, field: str, bound: float) -> None:
        super().__init__(f"{field} >= {bound:g}")
        self.get = attrgetter(field)
        self.bound = bound

    def test(self, facts: Facts) -> bool:
        value = self.get(facts)
        return value is not None and value >= self.bound


class Below(Matcher):
    __slots__ = ("get", "bound")

    def __init__(self, field: str, bound: float) -> None:
        super().__init__(f"{field} < {bound:g}")
        self.get = attrgetter(field)
        self.bound = bound

    def test(self, facts: Facts) -> bool:
        value = self.get(facts)
        return value is not None and value < self.bound


class ThresholdOpen(Matcher):
    __slots__ = ("ids",)

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(f"threshold open {_show(ids)}")
        self.ids = frozenset(ids)

    def test(self, facts: Facts) -> bool:
        return not self.ids.isdisjoint(facts.threshold)


class TimeOfDay(Matcher):
    __slots__ = ("windows",)

    def __init__(self, windows: Sequence[tuple[int, int]], shown: Sequence[str]) -> None:
        super().__init__(f"local time in {_show(shown)}")
        self.windows = tuple(windows)

    def test(self, facts: Facts) -> bool:
        minute = facts.minute
        # a plain loop, not any(<generator>): one generator per call is the larger cost here
        for window in self.windows:  # noqa: SIM110
            if in_window(minute, window):
                return True
        return False


class Weekday(Matcher):
    __slots__ = ("days",)

    def __init__(self, days: frozenset[int], shown: Sequence[str]) -> None:
        super().__init__(f"local weekday in {_show(shown)}")
        self.days = days

    def test(self, facts: Facts) -> bool:
        return facts.weekday in self.days


def all_match(matchers: tuple[Matcher, ...], facts: Facts) -> bool:
    # a plain loop: measurably faster than all(<generator>) on the per-event hot path
    for matcher in matchers:  # noqa: SIM110
        if not matcher.test(facts):
            return False
    return True


def compile_test(matchers: tuple[Matcher, ...]) -> Callable[[Facts], bool] | None:
    """``all_match(matchers, facts)`` as one callable (None: an empty block, which always holds).

    One or two matchers, the usual block, skip the loop: their bound ``test`` methods are called
    directly."""
    if not matchers:
        return None
    if len(matchers) == 1:
        return matchers[0].test
    if len(matchers) == 2:
        first, second = matchers[0].test, matchers[1].test
        return lambda facts: first(facts) and second(facts)
    return partial(all_match, matchers)


def first_failure(matchers: tuple[Matcher, ...], facts: Facts) -> Matcher | None:
    """The matcher that decided a non-match (for ``ioc rules test``'s walk)."""
    for matcher in matchers:
        if not matcher.test(facts):
            return matcher
    return None


def uses_clock(matchers: tuple[Matcher, ...]) -> bool:
    return any(isinstance(m, TimeOfDay | Weekday) for m in matchers)
