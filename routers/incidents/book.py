"""The incident book of the wards one worker owns: state kept in two mappings, no I/O.

The streams side passes its Faust tables (changelog-backed) as the mappings and publishes the
returned :class:`Outbound` messages; tests pass plain dicts. Keys:

* ``incidents["<ward>/<incident id>"]`` -> incident JSON. Keyed by owner ward because a ward's
  incidents live in that ward's partition: after a reassignment the old ward keeps a ``moved_to``
  stub and the new ward's partition holds the live copy, so a changelog replay can never let one
  overwrite the other.
* ``wards["<ward>"]`` -> ``{"open": [incident ids], "closed": [[incident id, epoch s], ...],
  "pruned": epoch s}``: the open list makes correlation and SLA checks local; written when an
  incident opens or closes and when housekeeping ran;
* ``seen["<event id>"]`` -> a :mod:`~routers.incidents.marks` mark (incident id, ward, time): a
  redelivered event is a no-op (small writes, one per event); the marks of camera/sensor evidence
  trimmed by :func:`~routers.incidents.lifecycle.bound_evidence` go with it.

Retention (:meth:`IncidentBook.on_housekeeping`, per ward, on the ward's partition), so the state
of a worker is bounded by its event rate, not by its uptime:

* incidents closed (resolved, closed or moved away) more than ``retention_s`` (1 h) ago are
  forgotten with their marks; their latest state stays on the compacted ``ioc.incidents`` topic and
  for 7 days in the serving index. A late update for one is dead-lettered ``unknown_incident``;
* marks older than ``seen_window_s`` (1 h) are dropped (every ``prune_every_s``): redeliveries
  come within minutes (a rebalance, a restart). While an incident is in memory its evidence ids
  and its deterministic id still catch a later redelivery;
* open incidents stay, however old: they escalate until someone acts. Their size is bounded by
  their reports and status history (camera/sensor evidence is capped).

Example::

    book = IncidentBook({}, {})
    effects = book.on_routed(routed_from_envelope(envelope), now)
    for message in effects.outbound: ...
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from routers.exceptions import Rejected
from routers.incidents import messages
from routers.incidents.correlation import CorrelationPolicy, find_incident, incident_id
from routers.incidents.escalation import escalate_due, next_due
from routers.incidents.lifecycle import add_evidence, apply_update, open_incident, receive_handoff
from routers.incidents.marks import mark, read_mark
from routers.incidents.model import Incident, incident_from_json
from routers.incidents.routed import RoutedEvent
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate

# Closed incidents stay this long after closing: a reopen or a late update within the hour still
# finds them; after that the serving index (7 days) and ioc.incidents hold their history.
RETENTION_S = 3600
# Redelivery marks older than this are dropped: Kafka redelivers after a rebalance or a restart,
# minutes after the first delivery, not hours.
SEEN_WINDOW_S = 3600
# How often a ward's marks are checked for age: a mark lives at most SEEN_WINDOW_S plus this
# (plus the housekeeping timer's interval). Each check walks the ward's in-memory incidents.
PRUNE_EVERY_S = 600
# A rung fires this long after its deadline, not at it: an acknowledgement a ward sent just before
# the deadline is still on its way through the status path (its p99 target is 2 s), and must win.
ESCALATION_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class Outbound:
    """``channel``: ``ward`` (key = ward code), ``incidents``, ``escalations``, ``results`` or
    ``handoff`` (to the new owner ward's partition, key = ward code)."""

    channel: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Signal:
    """A metric observation: ``opened``, ``status``, ``acknowledged``, ``resolved``, ``breach``, ``escalation``."""

    name: str
    labels: tuple[str, ...] = ()
    value: float = 1.0


@dataclass(slots=True)
class Housekeeping:
    """What one ward's housekeeping did: incidents forgotten, marks dropped, whether marks were aged."""

    incidents: int = 0
    marks: int = 0
    pruned: bool = False


@dataclass(slots=True)
class Effects:
    outbound: list[Outbound] = field(default_factory=list)
    changed: list[Incident] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    duplicate: bool = False

    def extend(self, other: Effects) -> None:
        self.outbound.extend(other.outbound)
        self.changed.extend(other.changed)
        self.signals.extend(other.signals)


def table_key(ward: str, incident: str) -> str:
    return f"{ward}/{incident}"


class IncidentBook:
    def __init__(
        self,
        incidents: MutableMapping[str, Any],
        wards: MutableMapping[str, Any],
        seen: MutableMapping[str, Any],
        policy: CorrelationPolicy | None = None,
        retention_s: float = RETENTION_S,
        seen_window_s: float = SEEN_WINDOW_S,
        prune_every_s: float = PRUNE_EVERY_S,
        grace_s: float = 0.0,
    ) -> None:
        self.incidents = incidents
        self.wards = wards
        self.seen = seen
        self.policy = policy or CorrelationPolicy()
        self.retention_s = retention_s
        self.seen_window_s = seen_window_s
        self.prune_every_s = prune_every_s
        self.grace_s = grace_s  # the worker uses ESCALATION_GRACE_S; 0 climbs a rung at its deadline
        # Decoded incidents by table key and version: a stored version never changes, so the
        # cache cannot go stale, and reads for correlation and SLA scans skip JSON decoding.
        self._decoded: dict[str, tuple[int, Incident]] = {}
        # ward -> the earliest SLA moment of its open incidents (None: none pending), or a moment
        # earlier than that: saves only ever pull it earlier, a tick recomputes it exactly. So the
        # 1 s timer reads one entry per ward instead of every open incident.
        self._due: dict[str, datetime | None] = {}
        # ward -> (its book as read, its open incidents decoded, the stored bodies they came from):
        # correlation reads them for every event of the ward. Valid while the ward's book and each
        # body are the very objects read (any write, also a changelog restored after a rebalance,
        # stores new ones); kept current by :meth:`_save`.
        self._open: dict[str, tuple[Any, list[Incident], list[tuple[str, Any]]]] = {}

    # -- reading -----------------------------------------------------------------------------------
    def get(self, ward: str, incident: str) -> Incident | None:
        key = table_key(ward, incident)
        body = self.incidents.get(key)
        if body is None:
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == body["version"]:
            return cached[1]
        decoded = incident_from_json(body)
        if len(self._decoded) > 50_000:
            self._decoded.clear()
        self._decoded[key] = (decoded.version, decoded)
        return decoded

    def _ward(self, ward: str) -> dict[str, Any]:
        book = self.wards.get(ward)
        if not book:
            return {"open": [], "closed": [], "pruned": 0.0}
        return {"open": list(book["open"]), "closed": list(book["closed"]), "pruned": book.get("pruned", 0.0)}

    def open_in(self, ward: str) -> list[Incident]:
        """The ward's open incidents (a list shared with the cache: do not edit it)."""
        book = self.wards.get(ward)
        if not book:
            return []
        cached = self._open.get(ward)
        if cached is not None and cached[0] is book and all(
                self.incidents.get(key) is body for key, body in cached[2]):
            return cached[1]
        keys = [table_key(ward, i) for i in book["open"]]
        bodies = [(key, self.incidents.get(key)) for key in keys]
        found = (self.get(ward, i) for i in book["open"])
        open_now = [i for i in found if i is not None and i.is_open]
        self._open[ward] = (book, open_now, bodies)
        return open_now

    def forget_derived(self) -> None:
        """Drop what is derived from the tables (open lists, SLA due times): call when the tables
        changed other than through this book, e.g. after a rebalance restored partitions."""
        self._open.clear()
        self._due.clear()

    def open_counts(self, ward: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for incident in self.open_in(ward):
            counts[incident.priority] = counts.get(incident.priority, 0) + 1
        return counts

    def due_wards(self, now: datetime) -> list[str]:
        """Wards with an SLA rung due at ``now`` (the timer ticks only those)."""
        due: list[str] = []
        grace = timedelta(seconds=self.grace_s)
        for ward in list(self.wards.keys()):
            moment = self._due[ward] if ward in self._due else self._ward_due(ward)
            if moment is not None and moment + grace <= now:
                due.append(ward)
        return due

    def _ward_due(self, ward: str) -> datetime | None:
        moments = [m for m in (next_due(i) for i in self.open_in(ward)) if m is not None]
        self._due[ward] = min(moments) if moments else None
        return self._due[ward]

    # -- writing -----------------------------------------------------------------------------------
    def _save(self, incident: Incident, effects: Effects, change: str | None, now: datetime) -> None:
        key = table_key(incident.ward, incident.id)
        body = incident.to_json()
        self.incidents[key] = body
        self._decoded[key] = (incident.version, incident)
        cached = self._open.get(incident.ward)
        if cached is not None:
            kept = [incident if i.id == incident.id else i for i in cached[1] if i.id != incident.id or incident.is_open]
            bodies = [(k, body if k == key else b) for k, b in cached[2]]
            self._open[incident.ward] = (cached[0], kept, bodies)
        if incident.ward in self._due:
            moment, known = next_due(incident), self._due[incident.ward]
            if moment is not None and (known is None or moment < known):
                self._due[incident.ward] = moment
        effects.changed.append(incident)
        effects.outbound.append(Outbound("incidents", incident.id, messages.state(incident, now, body)))
        if change is not None:
            notice = messages.notice(incident, change, now, body=body)
            effects.outbound.append(Outbound("ward", incident.ward, notice))

    def _set_open(self, incident: Incident, now: datetime) -> None:
        """Keep the ward's open/closed lists in step with ``incident`` (written only on a change)."""
        book = self._ward(incident.ward)
        listed = incident.id in book["open"]
        if incident.is_open and not listed:
            book["open"].append(incident.id)
            book["closed"] = [c for c in book["closed"] if c[0] != incident.id]
        elif not incident.is_open and listed:
            book["open"].remove(incident.id)
            book["closed"].append([incident.id, now.timestamp()])
        else:
            return
        self.wards[incident.ward] = book

    def on_routed(self, event: RoutedEvent, now: datetime) -> Effects:
        """Fold a routed event into an open incident or open one; a redelivery changes nothing."""
        effects = Effects()
        if event.event_id in self.seen:
            effects.duplicate = True
            return effects
        match = find_incident(event, self.open_in(event.ward), self.policy)
        if match is not None and match.has_event(event.event_id):
            # its mark was lost or pruned: restore it, change nothing
            self.seen[event.event_id] = mark(match.id, event.ward, now)
            effects.duplicate = True
            return effects
        if match is not None:
            updated = add_evidence(match, event, now)
            if updated is match:  # a tracked object's message that changes nothing (a redelivery)
                effects.duplicate = True
                return effects
            self._save(updated, effects, "updated", now)
            if updated.has_event(event.event_id):  # housekeeping finds marks through the evidence
                self.seen[event.event_id] = mark(updated.id, event.ward, now)
            if updated.evidence_dropped != match.evidence_dropped:
                self._forget_trimmed(match, updated)
        elif event.suppressed:
            return effects  # held back by the rules and nothing open to attach it to
        else:
            if table_key(event.ward, incident_id(event.event_id)) in self.incidents:
                effects.duplicate = True  # its "seen" mark was lost; the deterministic id still tells
                return effects
            incident = open_incident(event, now)
            self._save(incident, effects, "opened", now)
            effects.signals.append(Signal("opened", (incident.ward, incident.priority)))
            self._set_open(incident, now)
            self.seen[event.event_id] = mark(incident.id, event.ward, now)
        return effects

    def _forget_trimmed(self, before: Incident, after: Incident) -> None:
        """Drop the "seen" marks of evidence ``add_evidence`` trimmed: housekeeping finds marks
        through the evidence, so a mark left behind would never go. A trimmed event is older than
        ``MAX_MACHINE_EVIDENCE`` later ones of the same incident, far beyond a redelivery."""
        kept = {item.event_id for item in after.evidence}
        trimmed = (item.event_id for item in before.evidence if item.event_id not in kept)
        self._drop_marks(trimmed, after.id, after.ward)

    def _drop_marks(self, event_ids: Iterable[str], incident: str, ward: str, before: float | None = None) -> int:
        """Delete the marks ``ward`` wrote for ``incident``'s events (only those set before
        ``before``, epoch s, when given); returns how many went."""
        dropped = 0
        for event_id in event_ids:
            found = read_mark(self.seen.get(event_id))
            if found is not None and found.belongs_to(incident, ward) and (before is None or found.at < before):
                del self.seen[event_id]
                dropped += 1
        return dropped

    def on_update(self, update: StatusUpdate, now: datetime) -> Effects:
        """Apply a ward's update; :class:`Rejected` (state untouched) when it must not apply."""
        incident = self.get(update.ward, update.incident_id)
        if incident is None:
            raise Rejected("unknown_incident", f"no incident {update.incident_id} in ward {update.ward}")
        effects = Effects()
        if incident.has_update(update.update_id):
            effects.duplicate = True
            return effects
        updated = apply_update(incident, update, now)
        effects.signals.append(Signal("status", (update.status.value,)))
        seconds = (now - incident.created_at).total_seconds()
        if incident.acknowledged_at is None and updated.acknowledged_at is not None:
            effects.signals.append(Signal("acknowledged", (updated.priority,), seconds))
        change = "updated"
        if update.status == Status.RESOLVED:
            change = "resolved"
            effects.signals.append(Signal("resolved", (updated.priority,), seconds))
        elif update.status == Status.REASSIGNED and updated.moved_to is not None:
            change = "reassigned"  # (a hand-back to the same ward is an update)
        self._save(updated, effects, change, now)
        if update.status == Status.RESOLVED:
            for report_id in updated.report_ids:
                effects.outbound.append(Outbound("results", report_id, messages.result(updated, report_id, now)))
        if update.status == Status.REASSIGNED and updated.moved_to is not None:
            effects.outbound.append(Outbound("handoff", updated.moved_to, updated.to_json()))
        self._set_open(updated, now)
        return effects

    def on_handoff(self, moved_json: dict[str, Any], now: datetime) -> Effects:
        """Take over a reassigned incident in its new ward (idempotent on redelivery)."""
        moved = incident_from_json(moved_json)
        owned = receive_handoff(moved, now)
        effects = Effects()
        existing = self.get(owned.ward, owned.id)
        if existing is not None and existing.version >= owned.version:
            effects.duplicate = True
            return effects
        self._save(owned, effects, "opened", now)
        effects.signals.append(Signal("opened", (owned.ward, owned.priority)))
        self._set_open(owned, now)
        return effects

    def on_tick(self, ward: str, now: datetime) -> Effects:
        """Climb every SLA rung due in ``ward`` at ``now``; each rung fires once (marked in state)."""
        effects = Effects()
        for incident in self.open_in(ward):
            updated, steps, breaches = escalate_due(incident, now, self.grace_s)
            if not steps:
                continue
            self._save(updated, effects, "escalated", now)
            first_index = len(updated.escalations) - len(steps)
            for offset, step in enumerate(steps):
                envelope = messages.escalation(updated, step, first_index + offset, now)
                effects.outbound.append(Outbound("escalations", updated.id, envelope))
                effects.signals.append(Signal("escalation", (messages.LEVEL_NAMES[step.level],)))
            for kind in breaches:
                effects.signals.append(Signal("breach", (kind, updated.priority)))
        self._ward_due(ward)
        return effects

    def trim_cache(self) -> int:
        """Drop decoded copies of incidents no longer in the table; returns how many went. The
        owner drops its own on forgetting, but a worker holding a standby copy of the table sees
        forgotten incidents vanish through the changelog only, and would keep their decoded copies
        (up to the cache's 50,000 cap)."""
        stale = [key for key in list(self._decoded) if key not in self.incidents]
        for key in stale:
            self._decoded.pop(key, None)
        return len(stale)

    def wards_to_housekeep(self, now: datetime) -> list[str]:
        """Wards with a closed incident past retention, or with incidents whose marks are due an age check."""
        now_s = now.timestamp()
        horizon = now_s - self.retention_s
        due: list[str] = []
        for ward, book in list(self.wards.items()):
            if not book:
                continue
            expired = any(c[1] < horizon for c in book["closed"])
            marks_due = bool(book["open"] or book["closed"]) and now_s - book.get("pruned", 0.0) >= self.prune_every_s
            if expired or marks_due:
                due.append(ward)
        return due

    def on_housekeeping(self, ward: str, now: datetime) -> Housekeeping:
        """Forget ``ward``'s incidents closed more than ``retention_s`` ago (with their marks), and,
        every ``prune_every_s``, the marks older than ``seen_window_s`` of the incidents it keeps."""
        book = self._ward(ward)
        now_s = now.timestamp()
        horizon = now_s - self.retention_s
        done = Housekeeping()
        for incident_id_, closed_at in book["closed"]:
            if closed_at >= horizon:
                continue
            key = table_key(ward, incident_id_)
            incident = self.get(ward, incident_id_)
            if incident is not None and not incident.is_open:
                done.marks += self._drop_marks((e.event_id for e in incident.evidence), incident.id, ward)
                del self.incidents[key]
                self._decoded.pop(key, None)
                done.incidents += 1
        kept = [c for c in book["closed"] if c[1] >= horizon]
        changed = len(kept) != len(book["closed"])
        book["closed"] = kept
        if now_s - book["pruned"] >= self.prune_every_s:
            oldest = now_s - self.seen_window_s
            for incident_id_ in [*book["open"], *(c[0] for c in book["closed"])]:
                incident = self.get(ward, incident_id_)
                if incident is not None:
                    done.marks += self._drop_marks((e.event_id for e in incident.evidence), incident.id, ward, oldest)
            book["pruned"] = now_s
            done.pruned = True
        if changed or done.pruned:
            self.wards[ward] = book
        return done
