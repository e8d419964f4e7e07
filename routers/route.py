"""One intake message through the pure core: ingest -> locate -> rules -> an :class:`Outcome`.

Every message ends in exactly one outcome: :class:`Routed` (to ward/agency targets),
:class:`Unroutable` (valid but not placeable, with the reason and candidates) or
:class:`DeadLetter` (invalid, with the reason). The streams layer only translates outcomes
into topics and metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from routers.decision import Decision
from routers.events import Event, GeoPoint, Source
from routers.exceptions import Rejected
from routers.ingest import decode
from routers.locate.result import Location


class LocatorLike(Protocol):
    def locate(self, point: GeoPoint | None, address: str | None, at: Any = None) -> Location: ...


Evaluate = Callable[[Event, Location], Decision]
DeviceLookup = Callable[[str], GeoPoint | None]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class Unroutable:
    event: Event
    location: Location


@dataclass(frozen=True, slots=True)
class Placed:
    """Decoded and located; routing rules come next."""

    event: Event
    location: Location


@dataclass(frozen=True, slots=True)
class Routed:
    """``telemetry``: a sensor reading the rules held back (suppressed) that opened and closed no
    threshold: it can open no incident and change none, so the lifecycle need not look at it."""

    event: Event
    location: Location
    decision: Decision
    telemetry: bool = False


Outcome = DeadLetter | Unroutable | Routed


def locate_event(event: Event, locator: LocatorLike, device_point: DeviceLookup) -> Location:
    """Coordinates first, then the device registry (cameras, sensors), then the address text."""
    if event.point is None and event.device_id is not None:
        point = device_point(event.device_id)
        if point is None:
            nowhere = locator.locate(None, None, at=event.occurred_at)
            return dataclasses.replace(nowhere, method="device", reason="unknown_device")
        return dataclasses.replace(locator.locate(point, None, at=event.occurred_at), method="device")
    location = locator.locate(event.point, event.address, at=event.occurred_at)
    if event.corrections:
        location = dataclasses.replace(location, corrections=tuple(dict.fromkeys(event.corrections + location.corrections)))
    return location


def place(
    topic: str, raw: bytes | None, locator: LocatorLike, device_point: DeviceLookup, max_bytes: int
) -> DeadLetter | Unroutable | Placed:
    """Ingest and locate: the first half of routing, with no rule state involved."""
    try:
        event = decode(topic, raw, max_bytes)
        location = locate_event(event, locator, device_point)
    except Rejected as rejection:
        return DeadLetter(rejection.reason, rejection.detail)
    if location.status == "unresolved":
        return Unroutable(event, location)
    return Placed(event, location)


def route_message(
    topic: str,
    raw: bytes | None,
    locator: LocatorLike,
    device_point: DeviceLookup,
    evaluate: Evaluate,
    max_bytes: int,
) -> Outcome:
    """:func:`place`, then the rules for what could be placed."""
    placed = place(topic, raw, locator, device_point, max_bytes)
    if isinstance(placed, Placed):
        return Routed(placed.event, placed.location, evaluate(placed.event, placed.location))
    return placed


def telemetry_flags(located: Sequence[tuple[Event, Location]], evaluations: Sequence[Any],
                    sensors: Mapping[str, Any]) -> list[bool]:
    """For each routed event, whether it is routine telemetry (:attr:`Routed.telemetry`): a sensor
    reading held back by the rules (suppressed) that changed no threshold while none was open.
    ``evaluations`` are the rules' answers in order (``decision``, ``changes.sensor``); ``sensors``
    the stored sensor states before the batch."""
    current = dict(sensors)
    flags = []
    for (event, _location), evaluation in zip(located, evaluations, strict=True):
        device = event.device_id if event.source is Source.SENSOR else None
        before = current.get(device) if device else None
        changed = evaluation.changes.sensor
        if device and changed is not None:
            current[device] = changed
        flags.append(device is not None and evaluation.decision.suppressed is not None and changed is None
                     and not (before is not None and before.open))
    return flags
