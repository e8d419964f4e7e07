"""One intake message through the pure core: ingest -> locate -> rules -> an :class:`Outcome`.

Every message ends in exactly one outcome: :class:`Routed` (to ward/agency targets),
:class:`Unroutable` (valid but not placeable, with the reason and candidates),
:class:`Filtered` (a valid camera message the Frigate mapping maps to no IOC label) or
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
from routers.exceptions import FilteredOut, Rejected
from routers.ingest import decode
from routers.ingest.frigate import with_snapshot_url
from routers.ingest.frigate_mapping import FrigateMapping
from routers.locate.result import Location


class LocatorLike(Protocol):
    def locate(self, point: GeoPoint | None, address: str | None, at: Any = None) -> Location: ...


Evaluate = Callable[[Event, Location], Decision]
DeviceLookup = Callable[[str], GeoPoint | None]
DeviceUrl = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class Filtered:
    """Valid, but means no incident (``reason``: unmapped, false_positive, below_threshold)."""

    reason: str
    event_id: str
    summary: dict[str, Any]


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


Outcome = DeadLetter | Filtered | Unroutable | Routed
Placement = DeadLetter | Filtered | Unroutable | Placed


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
    topic: str, raw: bytes | None, locator: LocatorLike, device_point: DeviceLookup, max_bytes: int,
    frigate: FrigateMapping | None = None, device_url: DeviceUrl | None = None,
) -> Placement:
    """Ingest and locate: the first half of routing, with no rule state involved. ``frigate`` maps
    Frigate payloads (default: the built-in mapping); ``device_url`` gives a camera's Frigate base
    URL for snapshot links."""
    try:
        event = decode(topic, raw, max_bytes, frigate)
        location = locate_event(event, locator, device_point)
    except Rejected as rejection:
        return DeadLetter(rejection.reason, rejection.detail)
    except FilteredOut as filtered:
        return Filtered(filtered.reason, filtered.event_id, filtered.summary)
    if device_url is not None:
        event = with_snapshot_url(event, device_url)
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
    frigate: FrigateMapping | None = None,
) -> Outcome:
    """:func:`place`, then the rules for what could be placed."""
    placed = place(topic, raw, locator, device_point, max_bytes, frigate)
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
