"""A batch of lifecycle inputs -> the decisions, state changes and messages, with no I/O.

The lifecycle agents read a batch from Kafka, decode each message once into an input below
(:func:`command_input` for the internal commands topic; routed events and ward updates are decoded
by their own parsers), look up what the decision needs from outside (device positions), and call
:func:`decide_batch` with the :class:`~routers.incidents.book.IncidentBook` over their tables.
What comes back is plain data: the book's :class:`~routers.incidents.book.Effects` (messages,
changed incidents, evidence items for the serving index, metric signals), inputs to forward to
their owner ward's partition, and rejections to dead-letter. The agent writes nothing itself but what it is told to send.

Order: inputs are applied in the order given. The agent groups a batch by partition (a ward's
routed events, commands and keyed status updates share the partition number of its ward code), so
the order within a ward is the order of its partition, as it was one message at a time.

Coalescing (:func:`coalesce`): the audit state of an incident is published once per batch (the
latest version; ``ioc.incidents`` is compacted by incident id, so an older version would be
overwritten anyway) and an ``updated`` notice is dropped when a later notice of the same incident
to the same ward follows in the batch (its ``new_evidence`` goes with that later notice, so each
evidence item is still published once). Opened, escalated, resolved and reassigned notices, results,
escalations and hand-overs are never dropped. Every message keeps the stable id of the state it
carries (incident, version), so a redelivered batch repeats ids and consumers dedupe as before.

Example::

    book = IncidentBook({}, {}, {})
    result = decide_batch(book, [RoutedInput(event, raw, keyed_by_owner=True)], now)
    result.effects.outbound   # Outbound messages, already coalesced
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from routers.exceptions import Rejected
from routers.incidents import permissions
from routers.incidents.book import Effects, Housekeeping, IncidentBook, Outbound
from routers.incidents.messages import TYPE_PREFIX
from routers.incidents.routed import RoutedEvent, routed_from_envelope
from routers.incidents.updates import StatusUpdate, update_from_json


class Origin(NamedTuple):
    """Where a message was read: dead letters name it, so it can be found and replayed."""

    topic: str
    partition: int
    offset: int

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


# Received and RoutedInput: one of each per routed event, not frozen (a frozen __init__ sets each
# field through object.__setattr__, ~1 us each); nothing changes them after they are made
@dataclass(slots=True)
class Received:
    """A message as it arrived (bytes, key, origin): what a dead letter carries."""

    value: bytes
    key: bytes | None
    origin: Origin


@dataclass(slots=True)
class RoutedInput:
    """A routed event. ``envelope`` is its JSON, forwarded as is when not keyed by its owner ward (an
    ambiguous location is keyed ``city`` by the pipeline): the decoded dict, or the bytes read as an
    ``orjson.Fragment`` (what the agent keeps: a batch of 4,000 decoded envelopes held ~30 MB only
    for the few that are forwarded)."""

    event: RoutedEvent
    envelope: dict[str, Any] | orjson.Fragment
    received: Received
    keyed_by_owner: bool
    forwarded: bool = False  # read from the commands topic (forwarded to its ward's partition)


@dataclass(frozen=True, slots=True)
class UpdateInput:
    """A ward's status update, checked against the contract. ``in_place``: it was read from the
    partition of its ward (keyed by the ward, as the contract asks), so it applies here; otherwise it
    is forwarded to the ward's partition first. ``received.origin.topic`` is the topic it was
    published on (``ioc.status``, or the commands topic when forwarded: then ``source`` names the
    original) - what a per-topic permission check keys on."""

    update: StatusUpdate
    body: dict[str, Any]
    received: Received
    in_place: bool
    source: Origin
    actor: str | None = None  # who sent it, from its topic (``ward:27139``, ``agency:fire``, ``city-ioc``);
    #                           None: the deprecated shared topic, which trusts the ``ward`` field


@dataclass(frozen=True, slots=True)
class TickInput:
    ward: str


@dataclass(frozen=True, slots=True)
class HousekeepInput:
    ward: str


@dataclass(frozen=True, slots=True)
class HandoffInput:
    incident: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MalformedInput:
    """A message that could not be decoded: dead-lettered with its reason, nothing else."""

    received: Received
    rejected: Rejected


@dataclass(frozen=True, slots=True)
class SkippedInput:
    """A message the lifecycle has nothing to do with (routine telemetry, an unknown command)."""

    reason: str


LifecycleInput = RoutedInput | UpdateInput | TickInput | HousekeepInput | HandoffInput | MalformedInput | SkippedInput


@dataclass(frozen=True, slots=True)
class Forward:
    """A command for ``ward``'s partition (the commands topic, key = ward code)."""

    ward: str
    command: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Dead-letter ``received`` with ``rejected``; ``ward``/``incident`` are set for status updates."""

    received: Received
    rejected: Rejected
    ward: str | None = None
    incident: str | None = None
    update_id: str | None = None


@dataclass(slots=True)
class BatchResult:
    effects: Effects = field(default_factory=Effects)
    forwards: list[Forward] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    ticked: list[str] = field(default_factory=list)  # wards whose tick was taken (the timer may tick them again)
    housekept: list[Housekeeping] = field(default_factory=list)
    applied: list[UpdateInput] = field(default_factory=list)  # updates that changed their incident
    counts: dict[str, int] = field(default_factory=dict)  # input kind -> how many (metrics)
    errors: list[tuple[LifecycleInput, str]] = field(default_factory=list)  # inputs that raised (a bug): logged


def command_input(body: Any, received: Received) -> LifecycleInput:
    """One message of the internal commands topic (already JSON-decoded) -> its input."""
    if not isinstance(body, dict):
        return MalformedInput(received, Rejected("bad_command", "a lifecycle command is a JSON object"))
    kind = body.get("kind")
    try:
        if kind == "tick":
            return TickInput(str(body["ward"]))
        if kind == "housekeep":
            return HousekeepInput(str(body["ward"]))
        if kind == "handoff":
            return HandoffInput(body["incident"])
        if kind == "routed":
            envelope = body["envelope"]
            topic, partition, offset = body.get("origin") or received.origin
            forwarded = Received(received.value, received.key, Origin(str(topic), int(partition), int(offset)))
            return RoutedInput(routed_from_envelope(envelope), envelope, forwarded, keyed_by_owner=True,
                               forwarded=True)
        if kind == "update":
            origin = body["origin"]
            source = Origin(str(origin["topic"]), int(origin["partition"]), int(origin["offset"]))
            raw = body["raw"].encode() if isinstance(body.get("raw"), str) else received.value
            return UpdateInput(update_from_json(body["update"]), body["update"], Received(raw, received.key, source),
                               in_place=True, source=source, actor=body.get("actor"))
    except Rejected as rejected:
        return MalformedInput(received, rejected)
    except (KeyError, TypeError, ValueError) as exc:
        return MalformedInput(received, Rejected("bad_command", f"{kind} command: {type(exc).__name__}: {exc}"))
    return SkippedInput(f"unknown command {kind!r}")


def routed_command(item: RoutedInput) -> Forward:
    origin = item.received.origin
    return Forward(item.event.ward, {"kind": "routed", "envelope": item.envelope, "origin": list(origin)})


def update_command(item: UpdateInput) -> Forward:
    return Forward(item.update.ward, {"kind": "update", "update": item.body,
                                      "raw": item.received.value.decode("utf-8", "replace"),
                                      "origin": item.source.to_json(), "actor": item.actor})


def tick_command(ward: str) -> Forward:
    return Forward(ward, {"kind": "tick", "ward": ward})


def housekeep_command(ward: str) -> Forward:
    return Forward(ward, {"kind": "housekeep", "ward": ward})


def handoff_command(out: Outbound) -> Forward:
    return Forward(out.key, {"kind": "handoff", "incident": out.value})


def _kind(item: LifecycleInput) -> str:
    return type(item).__name__.removesuffix("Input").lower()


def recall_wanted(book: IncidentBook, inputs: Iterable[LifecycleInput]) -> list[str]:
    """Ids of the closed incidents the updates among ``inputs`` need whole from the serving index
    (their table entry is a stub): the agent reads them in one round trip and passes ``recalled``."""
    return list(dict.fromkeys(
        item.update.incident_id for item in inputs
        if isinstance(item, UpdateInput) and item.in_place
        and book.needs_recall(item.update.ward, item.update.incident_id)))


def decide_batch(book: IncidentBook, inputs: Iterable[LifecycleInput], now: datetime,
                 recalled: Mapping[str, Any] | None = None) -> BatchResult:
    """Apply ``inputs`` in order to ``book`` at ``now``; see the module docstring. ``recalled``:
    incident id -> the serving index's JSON of the closed incidents :func:`recall_wanted` named."""
    result = BatchResult()
    effects = result.effects
    book.begin_batch()
    try:
        for item in inputs:
            kind = _kind(item)
            result.counts[kind] = result.counts.get(kind, 0) + 1
            try:
                _apply(book, item, now, result, recalled)
            except Exception as exc:  # a bug must not stop every ward's lifecycle: park the input, go on
                error = f"{type(exc).__name__}: {exc}"
                result.errors.append((item, error))
                received = getattr(item, "received", None)
                if isinstance(received, Received):
                    result.rejections.append(Rejection(received, Rejected("lifecycle_error", error)))
    finally:
        book.end_batch()
    handoffs = [o for o in effects.outbound if o.channel == "handoff"]
    result.forwards.extend(handoff_command(o) for o in handoffs)
    effects.outbound = coalesce([o for o in effects.outbound if o.channel != "handoff"])
    effects.changed = latest_versions(effects.changed)
    return result


def _apply(book: IncidentBook, item: LifecycleInput, now: datetime, result: BatchResult,
           recalled: Mapping[str, Any] | None) -> None:
    effects = result.effects
    if isinstance(item, RoutedInput):
        if not item.keyed_by_owner:
            result.forwards.append(routed_command(item))
            result.counts["forwarded"] = result.counts.get("forwarded", 0) + 1
        else:
            effects.extend(book.on_routed(item.event, now, "forwarded" if item.forwarded else "routed"))
    elif isinstance(item, UpdateInput):
        actor = item.actor or permissions.legacy_actor(item.update)
        try:
            permissions.check_claim(actor, item.update)
            if not item.in_place:
                result.forwards.append(update_command(item))
                result.counts["forwarded"] = result.counts.get("forwarded", 0) + 1
                return
            incident = book.for_update(item.update.ward, item.update.incident_id, recalled)
            if incident is not None:
                permissions.check_permitted(actor, incident)
            applied = book.on_update(permissions.as_actor(actor, item.update), now, recalled)
        except Rejected as rejected:
            result.rejections.append(Rejection(item.received, rejected, item.update.ward, item.update.incident_id,
                                               item.update.update_id))
            return
        effects.extend(applied)
        if not applied.duplicate:
            result.applied.append(item)
    elif isinstance(item, TickInput):
        effects.extend(book.on_tick(item.ward, now))
        result.ticked.append(item.ward)
    elif isinstance(item, HousekeepInput):
        result.housekept.append(book.on_housekeeping(item.ward, now))
    elif isinstance(item, HandoffInput):
        effects.extend(book.on_handoff(item.incident, now))
    elif isinstance(item, MalformedInput):
        result.rejections.append(Rejection(item.received, item.rejected))


_UPDATED = TYPE_PREFIX + "updated"


def coalesce(outbound: Sequence[Outbound]) -> list[Outbound]:
    """Drop what a later message of the same batch supersedes: an incident's earlier audit states and
    its ``updated`` notices followed by another notice to the same ward. Order is kept. Reads no
    message's value: what is dropped is never built (see :class:`~routers.incidents.book.SavedVersion`)."""
    last_state: dict[str, int] = {}
    last_notice: dict[tuple[str, str], int] = {}
    for index, out in enumerate(outbound):
        if out.channel == "incidents":
            last_state[out.key] = index
        elif out.channel == "ward":
            last_notice[out.key, out.incident] = index
    kept: list[Outbound] = []
    # the evidence a dropped notice published goes with the next notice of its incident and ward
    carried: dict[tuple[str, str], list[Any]] = {}
    # the reports a dropped audit state named go with the incident's kept state (None: all of them)
    reports: dict[str, tuple[str, ...] | None] = {}
    for index, out in enumerate(outbound):
        if out.channel == "incidents":
            if last_state[out.key] != index:
                named, added = reports.get(out.key, ()), out.reports_added
                reports[out.key] = None if named is None or added is None else (*named, *added)
                continue
            if out.key in reports:
                out = out.naming_earlier_reports(reports.pop(out.key))
        if out.channel == "ward":
            notice_key = (out.key, out.incident)
            if out.kind == _UPDATED and last_notice[notice_key] != index:
                carried.setdefault(notice_key, []).extend(out.new_evidence)
                continue
            earlier = carried.pop(notice_key, None)
            if earlier:
                out = _with_evidence(out, earlier)
        kept.append(out)
    return kept


def _with_evidence(out: Outbound, earlier: list[Any]) -> Outbound:
    """``out`` (a notice) also carrying ``earlier`` items; an item updated again (a tracked object)
    is published once, as it is now."""
    items: dict[Any, Any] = {}
    for item in [*earlier, *out.new_evidence]:
        items[item.get("event_id")] = item
    return out.with_new_evidence(list(items.values()))


def latest_versions(changed: Sequence[Any]) -> list[Any]:
    """The last version of each (ward, incident) copy, in order of their last change."""
    last: dict[tuple[str, str], Any] = {}
    for incident in changed:
        key = (incident.ward, incident.id)
        last.pop(key, None)
        last[key] = incident
    return list(last.values())


def refine_unknown(rejection: Rejection, owner: str | None) -> Rejection:
    """An update for an incident not in its sender's book: ``wrong_ward`` when the serving index (the
    global view) says another ward owns it, else unchanged (``unknown_incident``)."""
    if rejection.rejected.reason != "unknown_incident" or owner is None or owner == rejection.ward:
        return rejection
    detail = f"incident {rejection.incident} belongs to ward {owner}, not {rejection.ward}"
    return dataclasses.replace(rejection, rejected=Rejected("wrong_ward", detail))
