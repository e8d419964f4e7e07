"""Intake messages through the pure core: ingest -> locate (:func:`place`) -> rules -> an
:class:`Outcome` and the messages to publish (:func:`route_batch`).

Every message ends in exactly one outcome: :class:`Routed` (to ward/agency targets),
:class:`Unroutable` (valid but not placeable, with the reason and candidates),
:class:`Filtered` (a valid camera message the Frigate mapping maps to no IOC label) or
:class:`DeadLetter` (invalid, with the reason). :func:`route_batch` decides a whole batch with the
rule state it is given (sensor hysteresis, inhibitors, silences) and returns what to store and what
to publish as plain data (:class:`Routing`); the intake agent reads the state, calls it, writes the
state and sends. One message is the batch of one::

    placement = place(topic, raw, locator, devices.get, max_bytes)
    routing = route_batch([Intake(Origin(topic, 0, 7), raw, placement)], ruleset, {}, (), None, now)
    routing.outcomes[0], routing.messages  # the outcome; its envelopes, topic by topic
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from routers import envelope, json_bytes, topics
from routers.binding import CLOUDEVENTS_HEADERS
from routers.decision import Decision
from routers.events import Event, GeoPoint, Source
from routers.exceptions import FilteredOut, Rejected
from routers.ingest import decode
from routers.ingest.frigate import with_snapshot_url
from routers.ingest.frigate_mapping import FrigateMapping
from routers.locate.result import Location
from routers.outgoing import Outgoing
from routers.rules.batch import evaluate_batch
from routers.rules.model import Ruleset
from routers.rules.silences import SilenceIndex
from routers.rules.state import Inhibitor, SensorState


class LocatorLike(Protocol):
    def locate(self, point: GeoPoint | None, address: str | None, at: Any = None) -> Location: ...


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


class Origin(NamedTuple):
    """Where an intake message was read."""

    topic: str
    partition: int
    offset: int

    def text(self) -> str:
        """``ioc.in.reports/2/41``: the ``iocorigin`` of every envelope the message turns into."""
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class Intake:
    """One intake message, placed: where it was read, its bytes (a dead letter keeps them) and
    :func:`place`'s answer."""

    origin: Origin
    raw: bytes | None
    placement: Placement


@dataclass
class Routing:
    """What a batch decided, as plain data: one outcome per message in order, the state to store
    (sensor states that changed, inhibitors raised) and the messages to publish."""

    outcomes: list[Outcome] = field(default_factory=list)
    sensors: dict[str, SensorState] = field(default_factory=dict)
    raised: list[Inhibitor] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)


def route_batch(batch: Sequence[Intake], ruleset: Ruleset, sensors: Mapping[str, SensorState],
                inhibitors: Sequence[Inhibitor], silences: SilenceIndex | None, now: datetime) -> Routing:
    """The rules over a placed batch (:func:`routers.rules.batch.evaluate_batch`: sensor state
    threaded in batch order, an inhibitor raised anywhere in the batch holds back the rest of it,
    silences checked at ``now``), then each outcome's envelopes. ``sensors``: the stored states of
    the batch's sensors; ``inhibitors``: the stored active ones. Nothing is read or written here."""
    located = [(item.placement.event, item.placement.location) for item in batch if isinstance(item.placement, Placed)]
    result = evaluate_batch(ruleset, located, sensors, inhibitors, silences, now.timestamp())
    answers = iter(zip(result.evaluations, telemetry_flags(located, result.evaluations, sensors), strict=True))
    routing = Routing(sensors=result.sensors, raised=result.raised)
    for item in batch:
        placement = item.placement
        if isinstance(placement, Placed):
            evaluation, telemetry = next(answers)
            outcome: Outcome = Routed(placement.event, placement.location, evaluation.decision, telemetry)
        else:
            outcome = placement
        routing.outcomes.append(outcome)
        routing.messages.extend(messages_of(outcome, item.origin, item.raw, now))
    return routing


_target_topic = functools.lru_cache(maxsize=4096)(topics.target_topic)  # a few hundred targets, each seen often
# Routed copies of routine telemetry carry the lifecycle's skip header (see routers.topics.LIFECYCLE_HEADER)
_ROUTED_TELEMETRY = (*CLOUDEVENTS_HEADERS, topics.LIFECYCLE_SKIP_HEADER)


def messages_of(outcome: Outcome, origin: Origin, raw: bytes | None, now: datetime) -> list[Outgoing]:
    """The messages one intake message turns into: a dead letter, a filtered or unroutable record,
    or one envelope per target plus the lifecycle's copy on ``ioc.routed`` (keyed by ward)."""
    origin_text = origin.text()
    if isinstance(outcome, DeadLetter):
        body = envelope.deadletter(raw or b"", outcome.reason, outcome.error, origin.topic, origin.partition,
                                   origin.offset, now, origin=origin_text)
        return [Outgoing(topics.DEADLETTER, None, json_bytes.dumps(body), CLOUDEVENTS_HEADERS)]
    if isinstance(outcome, Filtered):
        body = envelope.filtered(outcome.event_id, outcome.reason, outcome.summary, now, origin_text)
        return [Outgoing(topics.FILTERED, outcome.event_id.encode(), json_bytes.dumps(body), CLOUDEVENTS_HEADERS)]
    if isinstance(outcome, Unroutable):
        body = envelope.unroutable(outcome.event, outcome.location, now, origin_text)
        return [Outgoing(topics.UNROUTABLE, outcome.event.id.encode(), json_bytes.dumps(body), CLOUDEVENTS_HEADERS)]
    ward_key = outcome.location.ward.code.encode() if outcome.location.ward else b"city"
    event_key = outcome.event.id.encode()
    targets = (*outcome.decision.targets, "lifecycle")
    bodies = envelope.routed_all(outcome.event, outcome.location, outcome.decision, targets, now, origin_text)
    out = []
    for target, body in zip(targets, bodies, strict=True):
        if target == "lifecycle":
            out.append(Outgoing(topics.ROUTED, ward_key, json_bytes.dumps(body),
                                _ROUTED_TELEMETRY if outcome.telemetry else CLOUDEVENTS_HEADERS))
        else:
            out.append(Outgoing(_target_topic(target), event_key, json_bytes.dumps(body), CLOUDEVENTS_HEADERS))
    return out
