"""SLA deadlines and the escalation ladder, as pure functions of an incident and a time.

Ladder (each rung is published once, on ``ioc.escalations``)::

    level 0  the owning ward                      (from routing)
    level 1  the agency targets of the decision,  when the acknowledge deadline is missed
             else the city department of the family
    level 2  the city IOC duty officer            when still unacknowledged one more ack period later

A missed resolve deadline is a breach too and climbs one rung (at most to level 2).
While the incident waits on the citizen, no deadline runs (see :mod:`routers.incidents.lifecycle`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

from routers.incidents.model import Escalation, Incident
from routers.incidents.status import Status

AGENCY_LEVEL = 1
CITY_IOC_LEVEL = 2
LEVEL_NAMES = MappingProxyType({0: "ward", AGENCY_LEVEL: "agency", CITY_IOC_LEVEL: "city_ioc"})
CITY_IOC_TARGET = "city-ioc"

# Post-2025 city departments (sở) that own a family when the rules named no agency.
DEPARTMENTS = MappingProxyType({
    "flood": "department:construction",
    "infrastructure": "department:construction",
    "traffic": "department:construction",
    "order": "department:construction",
    "fire": "agency:fire",
    "security": "agency:police",
    "utilities": "department:industry-trade",
    "air": "department:agriculture-environment",
    "environment": "department:agriculture-environment",
    "health": "department:health",
})
DEFAULT_DEPARTMENT = "department:people-committee"


def level_one_targets(incident: Incident) -> tuple[str, ...]:
    agencies = tuple(t for t in incident.targets if t.startswith("agency:"))
    return agencies or (DEPARTMENTS.get(incident.family, DEFAULT_DEPARTMENT),)


def targets_for(incident: Incident, level: int) -> tuple[str, ...]:
    return level_one_targets(incident) if level == AGENCY_LEVEL else (CITY_IOC_TARGET,)


def _pending(incident: Incident) -> list[tuple[datetime, str, int]]:
    """(due, breach mark, level to reach) for every rung not yet climbed."""
    if not incident.is_open or incident.paused_since is not None or incident.status == Status.WAITING_CITIZEN:
        return []
    steps: list[tuple[datetime, str, int]] = []
    if incident.acknowledged_at is None and incident.ack_due is not None:
        if "ack" not in incident.breaches:
            steps.append((incident.ack_due, "ack", AGENCY_LEVEL))
        if "ack2" not in incident.breaches:
            steps.append((incident.ack_due + timedelta(seconds=incident.sla.ack_s), "ack2", CITY_IOC_LEVEL))
    if incident.resolved_at is None and incident.resolve_due is not None and "resolve" not in incident.breaches:
        steps.append((incident.resolve_due, "resolve", min(incident.escalation_level + 1, CITY_IOC_LEVEL)))
    return sorted(steps)


def next_due(incident: Incident) -> datetime | None:
    """When the SLA timer must next look at ``incident`` (``None``: nothing pending)."""
    steps = _pending(incident)
    return steps[0][0] if steps else None


def escalate_due(incident: Incident, now: datetime,
                 grace_s: float = 0.0) -> tuple[Incident, tuple[Escalation, ...], tuple[str, ...]]:
    """Climb every rung that is due at ``now``: (new incident, escalations, breach kinds).
    With ``grace_s`` a rung is due that long after its deadline (see ``IncidentBook.grace_s``);
    the escalation still names the deadline it missed.

    Breach kinds are ``ack``/``resolve`` (the metric's label); the second acknowledge rung is an
    escalation but not a second breach. Idempotent: a rung climbed is marked in ``breaches``.
    """
    escalations: list[Escalation] = []
    breaches: list[str] = []
    current = incident
    grace = timedelta(seconds=grace_s)
    for due, mark, level in _pending(incident):
        if due + grace > now:
            continue
        if mark == "resolve":
            level = min(current.escalation_level + 1, CITY_IOC_LEVEL)
        if mark == "ack2" and current.escalation_level < AGENCY_LEVEL:
            level = CITY_IOC_LEVEL
        step = Escalation(level, "resolve" if mark == "resolve" else "ack", now, due, targets_for(current, level))
        escalations.append(step)
        if mark in ("ack", "resolve"):
            breaches.append(mark)
        current = replace(
            current,
            breaches=(*current.breaches, mark),
            escalation_level=max(current.escalation_level, level),
            escalations=(*current.escalations, step),
            version=current.version + 1,
            updated_at=now,
        )
    return current, tuple(escalations), tuple(breaches)
