"""The incident book of the wards one worker owns: state kept in two mappings, no I/O.

The streams side passes its Faust tables (changelog-backed) as the mappings and publishes the
returned :class:`Outbound` messages; tests pass plain dicts. Keys:

* ``incidents["<ward>/<incident id>"]`` -> incident JSON. Keyed by owner ward because a ward's
  incidents live in that ward's partition: after a reassignment the old ward keeps a ``moved_to``
  stub and the new ward's partition holds the live copy, so a changelog replay can never let one
  overwrite the other.
* ``wards["<ward>"]`` -> ``{"open": [incident ids], "seen": {event id: [incident id, epoch s]}}``:
  the open list makes correlation and SLA checks local; ``seen`` makes redeliveries no-ops.

Example::

    book = IncidentBook({}, {})
    effects = book.on_routed(routed_from_envelope(envelope), now)
    for message in effects.outbound: ...
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from routers.exceptions import Rejected
from routers.incidents import messages
from routers.incidents.correlation import CorrelationPolicy, find_incident, incident_id
from routers.incidents.escalation import escalate_due, next_due
from routers.incidents.lifecycle import add_evidence, apply_update, open_incident, receive_handoff
from routers.incidents.model import Incident, incident_from_json
from routers.incidents.routed import RoutedEvent
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate

SEEN_RETENTION_S = 2 * 24 * 3600


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
        policy: CorrelationPolicy | None = None,
        seen_retention_s: int = SEEN_RETENTION_S,
    ) -> None:
        self.incidents = incidents
        self.wards = wards
        self.policy = policy or CorrelationPolicy()
        self.seen_retention_s = seen_retention_s

    # -- reading -----------------------------------------------------------------------------------
    def get(self, ward: str, incident: str) -> Incident | None:
        body = self.incidents.get(table_key(ward, incident))
        return None if body is None else incident_from_json(body)

    def _ward(self, ward: str) -> dict[str, Any]:
        book = self.wards.get(ward)
        return {"open": list(book["open"]), "seen": dict(book["seen"])} if book else {"open": [], "seen": {}}

    def open_in(self, ward: str) -> list[Incident]:
        found = (self.get(ward, i) for i in self._ward(ward)["open"])
        return [i for i in found if i is not None and i.is_open]

    def open_counts(self, ward: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for incident in self.open_in(ward):
            counts[incident.priority] = counts.get(incident.priority, 0) + 1
        return counts

    def due_wards(self, now: datetime) -> list[str]:
        """Wards with an SLA rung due at ``now`` (the timer ticks only those)."""
        due: list[str] = []
        for ward in list(self.wards.keys()):
            for incident in self.open_in(ward):
                moment = next_due(incident)
                if moment is not None and moment <= now:
                    due.append(ward)
                    break
        return due

    # -- writing -----------------------------------------------------------------------------------
    def _save(self, incident: Incident, effects: Effects, change: str | None, now: datetime) -> None:
        self.incidents[table_key(incident.ward, incident.id)] = incident.to_json()
        effects.changed.append(incident)
        effects.outbound.append(Outbound("incidents", incident.id, messages.state(incident, now)))
        if change is not None:
            effects.outbound.append(Outbound("ward", incident.ward, messages.notice(incident, change, now)))

    def _write_ward(self, ward: str, book: dict[str, Any], now: datetime) -> None:
        horizon = now.timestamp() - self.seen_retention_s
        book["seen"] = {k: v for k, v in book["seen"].items() if v[1] >= horizon}
        self.wards[ward] = book

    def on_routed(self, event: RoutedEvent, now: datetime) -> Effects:
        """Fold a routed event into an open incident or open one; a redelivery changes nothing."""
        effects = Effects()
        book = self._ward(event.ward)
        if event.event_id in book["seen"]:
            effects.duplicate = True
            return effects
        match = find_incident(event, self.open_in(event.ward), self.policy)
        if match is not None:
            updated = add_evidence(match, event, now)
            self._save(updated, effects, "updated", now)
            book["seen"][event.event_id] = [updated.id, now.timestamp()]
        elif event.suppressed:
            return effects  # held back by the rules and nothing open to attach it to
        else:
            new_id = incident_id(event.event_id)
            if table_key(event.ward, new_id) in self.incidents:
                effects.duplicate = True  # first event replayed after its "seen" mark was pruned
                return effects
            incident = open_incident(event, now)
            self._save(incident, effects, "opened", now)
            effects.signals.append(Signal("opened", (incident.ward, incident.priority)))
            book["open"].append(incident.id)
            book["seen"][event.event_id] = [incident.id, now.timestamp()]
        self._write_ward(event.ward, book, now)
        return effects

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
        elif update.status == Status.REASSIGNED:
            change = "reassigned"
        self._save(updated, effects, change, now)
        if update.status == Status.RESOLVED:
            for report_id in updated.report_ids:
                effects.outbound.append(Outbound("results", report_id, messages.result(updated, report_id, now)))
        if update.status == Status.REASSIGNED and updated.moved_to is not None:
            effects.outbound.append(Outbound("handoff", updated.moved_to, updated.to_json()))
        book = self._ward(updated.ward)
        if not updated.is_open and updated.id in book["open"]:
            book["open"].remove(updated.id)
            self._write_ward(updated.ward, book, now)
        elif updated.is_open and updated.id not in book["open"]:
            book["open"].append(updated.id)  # reopened
            self._write_ward(updated.ward, book, now)
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
        book = self._ward(owned.ward)
        if owned.id not in book["open"]:
            book["open"].append(owned.id)
        self._write_ward(owned.ward, book, now)
        return effects

    def on_tick(self, ward: str, now: datetime) -> Effects:
        """Climb every SLA rung due in ``ward`` at ``now``; each rung fires once (marked in state)."""
        effects = Effects()
        for incident in self.open_in(ward):
            updated, steps, breaches = escalate_due(incident, now)
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
        return effects
