"""Pure incident transitions: open, add evidence, apply a ward's update, hand over, reopen.

Every function takes the time ``now`` from its caller (the worker's clock), returns a new
:class:`Incident` and never mutates; an update that must not apply raises
:class:`~routers.exceptions.Rejected` and leaves the incident as it was.

SLA clocks: ``ack_due``/``resolve_due`` start when the incident is routed. Entering
``waiting_citizen`` pauses them; leaving it moves both deadlines later by the paused time.
Reopening restarts both; a hand-over to another ward restarts the acknowledge clock only
(the citizen has been waiting all along, so the resolve deadline stays).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from sys import intern

from routers.exceptions import Rejected
from routers.incidents.correlation import incident_id
from routers.incidents.model import Evidence, HistoryEntry, Incident, evolve, new_incident
from routers.incidents.report_ids import NO_REPORTS
from routers.incidents.routed import RoutedEvent
from routers.incidents.status import Status, check_transition
from routers.incidents.tracked import fold_tracked
from routers.incidents.updates import StatusUpdate

SYSTEM_ACTOR = "ioc-router"
_PRIORITY_ORDER = ("P1", "P2", "P3", "P4")
_PRIORITIES = frozenset(_PRIORITY_ORDER)
# The evidence an incident keeps in the worker's table: its first item and the latest
# EVIDENCE_WINDOW. Every item is written once to the serving index's evidence list (Redis) and
# published once in the ward notice that adds it; the table, ioc.incidents and the notices carry
# the window, so an incident's JSON - rewritten on every change - stays the same size however much
# evidence it gathers. Citizen report ids are kept whole apart (``report_ids``: each gets a result).
EVIDENCE_WINDOW = 4
# Devices remembered per incident for correlation by device (the latest ones).
MAX_DEVICES = 32


def _evidence(event: RoutedEvent) -> Evidence:
    return Evidence(
        event_id=event.event_id, source=event.source, kind=event.kind, occurred_at=event.occurred_at,
        lat=event.lat, lon=event.lon, device_id=event.device_id, value=event.value, suppressed=event.suppressed,
        track=event.track, details=event.details,
        media=event.media,
    )


def _entry(incident: Incident, status: Status, now: datetime, actor: str = SYSTEM_ACTOR,
           note: str | None = None, update_id: str | None = None, ward: str | None = None) -> HistoryEntry:
    previous = incident.history[-1].status if incident.history else None
    return HistoryEntry(len(incident.history) + 1, now, status, previous, ward or incident.ward, actor, note, update_id)


def open_incident(event: RoutedEvent, now: datetime) -> Incident:
    """A new incident for an event that matched none; routed to its ward at ``now``: its history
    holds the two transitions, ``new`` and ``routed``, made at once."""
    if event.suppressed:
        raise Rejected("suppressed", f"a suppressed event ({event.suppressed}) does not open an incident")
    ward = event.ward
    history = (HistoryEntry(1, now, Status.NEW, None, ward, SYSTEM_ACTOR, f"opened by event {event.event_id}"),
               HistoryEntry(2, now, Status.ROUTED, Status.NEW, ward, SYSTEM_ACTOR, _routed_note(ward)))
    return new_incident(
        id=incident_id(event.event_id), ward=ward, ward_name=event.ward_name,
        province_code=event.province_code, family=event.family, kind=event.kind, priority=event.priority,
        status=Status.ROUTED, targets=event.targets, sla=event.sla, created_at=now,
        first_seen=event.occurred_at, last_seen=event.occurred_at, lat=event.lat, lon=event.lon,
        group_key=event.group_key, evidence=(_evidence(event),), history=history,
        ack_due=now + timedelta(seconds=event.sla.ack_s), resolve_due=now + timedelta(seconds=event.sla.resolve_s),
        version=1, updated_at=now,
        report_ids=NO_REPORTS.append(event.event_id) if event.source == "report" else NO_REPORTS,
        device_ids=(event.device_id,) if event.device_id is not None else (),
    )


def _routed_note(ward: str) -> str:
    # one copy per ward, shared by its open incidents' histories (~70 bytes each otherwise)
    return intern(f"routed to ward {ward}")


def window(evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """The first item and the latest ``EVIDENCE_WINDOW`` (see the constant)."""
    if len(evidence) <= EVIDENCE_WINDOW + 1:
        return evidence
    return (evidence[0], *evidence[-EVIDENCE_WINDOW:])


def _devices(devices: tuple[str, ...], device_id: str | None) -> tuple[str, ...]:
    if device_id is None or (devices and devices[-1] == device_id):
        return devices
    return (*(d for d in devices if d != device_id), device_id)[-MAX_DEVICES:]


def add_evidence(incident: Incident, event: RoutedEvent, now: datetime, marked: bool = False) -> Incident:
    """Fold ``event`` in. A higher priority raises the incident's and tightens unmet deadlines.

    The incident keeps the window of its evidence (:func:`window`); the items that leave it are
    counted in ``evidence_dropped`` (they are in the serving index's evidence list).
    """
    # ``marked``: the event passed its ward's redelivery mark (routers.incidents.marks), so only
    # one without a mark needs the search through every report id.
    if incident.has_event(event.event_id, reports=not marked):
        return incident
    item = _evidence(event)
    folded = fold_tracked(incident.evidence, item)
    if folded is not None:  # a later message of a tracked object updates its item
        if folded == incident.evidence:
            return incident
        return evolve(incident, evidence=folded, last_seen=max(incident.last_seen, event.occurred_at),
                       version=incident.version + 1, updated_at=now)
    priority = incident.priority
    if event.priority != priority and not event.suppressed and {priority, event.priority} <= _PRIORITIES:
        priority = min(priority, event.priority, key=_PRIORITY_ORDER.index)
    ack_due, resolve_due = incident.ack_due, incident.resolve_due
    if priority != incident.priority:
        routed_at = max((h.at for h in incident.history if h.status == Status.ROUTED), default=incident.created_at)
        if incident.acknowledged_at is None and ack_due is not None:
            ack_due = min(ack_due, routed_at + timedelta(seconds=event.sla.ack_s))
        if incident.resolved_at is None and resolve_due is not None:
            resolve_due = min(resolve_due, incident.created_at + timedelta(seconds=event.sla.resolve_s))
    targets = incident.targets
    if event.targets != targets and not event.suppressed:  # most events of an incident name its targets
        targets += tuple(t for t in event.targets if t not in incident.targets)
    evidence = window((*incident.evidence, item))
    return evolve(
        incident,
        evidence=evidence,
        evidence_dropped=incident.evidence_count + 1 - len(evidence),
        report_ids=incident.report_ids.append(event.event_id) if event.source == "report" else incident.report_ids,
        device_ids=_devices(incident.device_ids, event.device_id),
        first_seen=min(incident.first_seen, event.occurred_at),
        last_seen=max(incident.last_seen, event.occurred_at),
        priority=priority,
        targets=targets,
        ack_due=ack_due,
        resolve_due=resolve_due,
        version=incident.version + 1,
        updated_at=now,
    )


def _resume(incident: Incident, now: datetime) -> Incident:
    if incident.paused_since is None:
        return incident
    shift = max(now - incident.paused_since, timedelta(0))
    return evolve(
        incident,
        paused_since=None,
        ack_due=None if incident.ack_due is None else incident.ack_due + shift,
        resolve_due=None if incident.resolve_due is None else incident.resolve_due + shift,
    )


def apply_update(incident: Incident, update: StatusUpdate, now: datetime) -> Incident:
    """Apply a ward's update at worker time ``now``; reject with a reason instead of corrupting."""
    if update.incident_id != incident.id:
        raise Rejected("unknown_incident", f"update names {update.incident_id}, not {incident.id}")
    if incident.moved_to is not None:
        raise Rejected("wrong_ward", f"incident {incident.id} was reassigned to ward {incident.moved_to}")
    if update.ward != incident.ward:
        raise Rejected("wrong_ward", f"incident {incident.id} belongs to ward {incident.ward}, not {update.ward}")
    if update.status == Status.REASSIGNED and update.to_ward == incident.ward:
        return hand_back(incident, update, now)
    check_transition(incident.status, update.status, by_ward=True)
    note = update.note
    if update.status == Status.REASSIGNED:
        note = f"not ours: to ward {update.to_ward}" + (f" ({update.note})" if update.note else "")
    entry = _entry(incident, update.status, now, actor=update.actor, note=note, update_id=update.update_id)
    current = incident
    if incident.status == Status.WAITING_CITIZEN:
        current = _resume(current, now)
    changes: dict[str, object] = {}
    if update.status == Status.ACKNOWLEDGED and current.acknowledged_at is None:
        changes["acknowledged_at"] = now
    elif update.status == Status.WAITING_CITIZEN:
        changes["paused_since"] = now
    elif update.status == Status.RESOLVED:
        changes.update(
            resolved_at=now,
            resolutions=current.resolutions + 1,
            result={"outcome": update.outcome or "fixed", "summary": update.summary, "actor": update.actor},
        )
        if current.acknowledged_at is None:
            changes["acknowledged_at"] = now
    elif update.status == Status.REOPENED:
        changes.update(
            acknowledged_at=None, resolved_at=None, breaches=(), escalation_level=0, result=None,
            ack_due=now + timedelta(seconds=current.sla.ack_s),
            resolve_due=now + timedelta(seconds=current.sla.resolve_s),
        )
    elif update.status == Status.REASSIGNED:
        changes["moved_to"] = update.to_ward
    return evolve(
        current, status=update.status, history=(*current.history, entry), version=current.version + 1,
        updated_at=now, **changes,  # type: ignore[arg-type]
    )


def receive_handoff(moved: Incident, now: datetime) -> Incident:
    """The copy the new ward owns: routed there, acknowledge clock restarted, ladder reset."""
    if moved.status != Status.REASSIGNED or moved.moved_to is None:
        raise Rejected("bad_handoff", f"incident {moved.id} is {moved.status.value}, not reassigned")
    new_ward = moved.moved_to
    owned = evolve(moved, ward=new_ward, ward_name="", moved_to=None)
    entry = _entry(owned, Status.ROUTED, now, note=f"re-routed from ward {moved.ward}", ward=new_ward)
    targets = tuple(t for t in moved.targets if t != f"ward:{moved.ward}")
    return evolve(
        owned,
        status=Status.ROUTED,
        targets=(f"ward:{new_ward}", *(t for t in targets if t != f"ward:{new_ward}")),
        history=(*owned.history, entry),
        acknowledged_at=None,
        ack_due=now + timedelta(seconds=moved.sla.ack_s),
        breaches=tuple(b for b in moved.breaches if b == "resolve"),
        escalation_level=0,
        version=moved.version + 1,
        updated_at=now,
    )


HAND_BACK_FROM = frozenset({Status.ROUTED, Status.ACKNOWLEDGED, Status.DISPATCHED, Status.WAITING_CITIZEN,
                            Status.REOPENED})


def hand_back(incident: Incident, update: StatusUpdate, now: datetime) -> Incident:
    """An agency or the city IOC gives the incident back to its ward (``reassigned`` with
    ``to_ward`` = the owning ward; who may send it is :mod:`routers.incidents.permissions`' call).

    The incident becomes ``routed`` again in the same ward, for the ward to act on; the SLA is the
    same (deadlines, breaches and escalation rungs already climbed stay), and a paused clock resumes.
    """
    if incident.status not in HAND_BACK_FROM:
        raise Rejected("illegal_transition", f"{incident.status.value} -> handed back is not allowed "
                       f"(allowed from: {', '.join(sorted(s.value for s in HAND_BACK_FROM))})")
    current = _resume(incident, now) if incident.status == Status.WAITING_CITIZEN else incident
    note = f"handed back to ward {incident.ward}" + (f" ({update.note})" if update.note else "")
    entry = _entry(current, Status.ROUTED, now, actor=update.actor, note=note, update_id=update.update_id)
    return evolve(current, status=Status.ROUTED, history=(*current.history, entry), version=current.version + 1,
                   updated_at=now)
