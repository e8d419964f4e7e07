"""The state rules read and change, as plain data: evaluation stays a pure function.

The streams side owns storage; the rules core only says what the next state is.

- :class:`SensorState` - which hysteresis thresholds are open for one sensor. Stored in a Faust
  table keyed by sensor id (intake sensor messages are keyed by sensor id, so one worker owns a
  sensor). ``to_json``/``from_json`` give a table-friendly value.
- :class:`Inhibitor` - an active inhibition (e.g. a city-wide flood alert) covering wards or a
  province until a time. Raised by events matching an inhibit rule's ``source``; every worker
  must see them, so the pipeline shares them (e.g. Redis hash or a compacted topic keyed by
  :attr:`Inhibitor.key`) and passes the active ones in.
- :class:`RuleContext` - what the caller passes in: the event's sensor state and the active
  inhibitors.
- :class:`StateChange` - what evaluation asks the caller to store: the sensor's new state
  (``None`` = unchanged) and the inhibitors raised or refreshed by this event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SensorState:
    """Open hysteresis thresholds of one sensor (ids from the ruleset's ``thresholds``)."""

    open: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {"open": sorted(self.open)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SensorState:
        return cls(frozenset((data or {}).get("open", ())))


@dataclass(frozen=True, slots=True)
class Inhibitor:
    """Inhibit rule ``rule`` is active over ``wards`` (scope ward) or ``province`` until ``until_epoch``."""

    rule: str
    until_epoch: float
    wards: frozenset[str] = frozenset()
    province: str | None = None
    raised_by: str = ""  # the event id that raised (or last refreshed) it
    # the raising event's values of the rule's ``equal`` fields ("" when absent, as in Alertmanager)
    equal: tuple[tuple[str, str], ...] = ()
    # the raising event matched the rule's target too: it then holds back no event that is itself
    # a source (Alertmanager's excludeTwoSidedMatch)
    two_sided: bool = False

    @property
    def key(self) -> str:
        """Storage key: one inhibitor per rule, area, equal values and sidedness; a later raise refreshes it."""
        area = f"province:{self.province}" if self.province else "wards:" + ",".join(sorted(self.wards))
        key = f"{self.rule}|{area}"
        if self.equal:
            key += "|" + ",".join(f"{name}={value}" for name, value in self.equal)
        return key + "|both" if self.two_sided else key

    def covers(self, wards: tuple[str, ...], province: str | None) -> bool:
        if self.province is not None:
            return province == self.province
        return not self.wards.isdisjoint(wards)

    def active(self, epoch: float) -> bool:
        return epoch < self.until_epoch

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule, "until_epoch": self.until_epoch, "wards": sorted(self.wards),
            "province": self.province, "raised_by": self.raised_by,
        }
        if self.equal:
            data["equal"] = dict(self.equal)
        if self.two_sided:
            data["two_sided"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inhibitor:
        return cls(
            rule=str(data["rule"]), until_epoch=float(data["until_epoch"]),
            wards=frozenset(data.get("wards") or ()), province=data.get("province"),
            raised_by=str(data.get("raised_by", "")),
            equal=tuple(sorted((str(k), str(v)) for k, v in (data.get("equal") or {}).items())),
            two_sided=bool(data.get("two_sided", False)),
        )


@dataclass(frozen=True, slots=True)
class RuleContext:
    """State passed into evaluation: ``sensor`` is the state of ``event.device_id`` (None: no
    stored state, all thresholds closed); ``inhibitors`` the active ones (expired ones are ignored)."""

    sensor: SensorState | None = None
    inhibitors: tuple[Inhibitor, ...] = ()


EMPTY_CONTEXT = RuleContext()


@dataclass(frozen=True, slots=True)
class StateChange:
    """What to store after this event. ``sensor`` is None when the sensor's state did not change."""

    sensor: SensorState | None = None
    opened: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()
    raised: tuple[Inhibitor, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.sensor is None and not self.raised


NO_CHANGE = StateChange()


class InhibitorBoard:
    """A small in-memory store of inhibitors keyed by :attr:`Inhibitor.key` (used by replay and
    usable by a single worker): ``apply`` the raised ones, ``active(epoch)`` the live ones."""

    def __init__(self) -> None:
        self._by_key: dict[str, Inhibitor] = {}

    def apply(self, raised: tuple[Inhibitor, ...]) -> None:
        """Keep, per key, the inhibitor lasting longest (ties: the greater raising id), so the
        board's contents do not depend on the order the raises arrive in."""
        for inhibitor in raised:
            current = self._by_key.get(inhibitor.key)
            if current is None or (inhibitor.until_epoch, inhibitor.raised_by) > (current.until_epoch,
                                                                                   current.raised_by):
                self._by_key[inhibitor.key] = inhibitor

    def all(self) -> tuple[Inhibitor, ...]:
        """Every inhibitor held, in key order (expired ones too: evaluation checks each against its event's time)."""
        return tuple(self._by_key[key] for key in sorted(self._by_key))

    def active(self, epoch: float) -> tuple[Inhibitor, ...]:
        expired = [key for key, inh in self._by_key.items() if not inh.active(epoch)]
        for key in expired:
            del self._by_key[key]
        return tuple(self._by_key.values())
