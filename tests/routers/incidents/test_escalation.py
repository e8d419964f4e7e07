"""SLA deadlines, the escalation ladder, and the pause while waiting on the citizen."""

from __future__ import annotations

from datetime import timedelta

from routers.decision import Sla
from routers.incidents.book import IncidentBook
from routers.incidents.escalation import escalate_due, next_due
from routers.incidents.lifecycle import apply_update, open_incident
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import T0, minutes, routed_event

P1 = dict(priority="P1", sla=Sla(300, 3600), targets=("ward:27142", "agency:fire"), kind="fire")


def update(incident, status: Status, n: int, **kw) -> StatusUpdate:
    return StatusUpdate(f"u{n}", incident.id, incident.ward, status, "officer-1", **kw)


def test_unacknowledged_p1_climbs_to_agency_then_city_ioc() -> None:
    incident = open_incident(routed_event("f1", **P1), T0)
    assert incident.ack_due == T0 + timedelta(seconds=300)
    assert next_due(incident) == incident.ack_due
    same, steps, breaches = escalate_due(incident, T0 + timedelta(seconds=299))
    assert steps == () and same is incident

    first, steps, breaches = escalate_due(incident, T0 + timedelta(seconds=300))
    assert [(s.level, s.kind, s.targets) for s in steps] == [(1, "ack", ("agency:fire",))]
    assert breaches == ("ack",)
    assert first.escalation_level == 1
    again, steps, _ = escalate_due(first, T0 + timedelta(seconds=301))
    assert steps == () and again is first  # each rung once

    second, steps, breaches = escalate_due(first, T0 + timedelta(seconds=600))
    assert [(s.level, s.targets) for s in steps] == [(2, ("city-ioc",))]
    assert breaches == ()  # the second rung is an escalation, not a second breach
    assert next_due(second) == T0 + timedelta(seconds=3600)
    third, steps, breaches = escalate_due(second, T0 + timedelta(seconds=3600))
    assert breaches == ("resolve",) and steps[0].level == 2
    assert next_due(third) is None


def test_late_tick_climbs_all_due_rungs_at_once() -> None:
    incident = open_incident(routed_event("f1", **P1), T0)
    _, steps, breaches = escalate_due(incident, T0 + timedelta(hours=2))
    assert [(s.kind, s.level) for s in steps] == [("ack", 1), ("ack", 2), ("resolve", 2)]
    assert breaches == ("ack", "resolve")


def test_department_when_rules_named_no_agency() -> None:
    incident = open_incident(routed_event("r1", targets=("ward:27142",)), T0)
    _, steps, _ = escalate_due(incident, T0 + timedelta(seconds=900))
    assert steps[0].targets == ("department:construction",)


def test_acknowledged_stops_the_ack_ladder() -> None:
    incident = open_incident(routed_event("f1", **P1), T0)
    acked = apply_update(incident, update(incident, Status.ACKNOWLEDGED, 1), T0 + timedelta(seconds=60))
    assert next_due(acked) == T0 + timedelta(seconds=3600)


def test_waiting_on_citizen_pauses_both_clocks() -> None:
    incident = open_incident(routed_event("f1", **P1), T0)
    acked = apply_update(incident, update(incident, Status.ACKNOWLEDGED, 1), T0 + minutes(1))
    waiting = apply_update(acked, update(acked, Status.WAITING_CITIZEN, 2), T0 + minutes(10))
    assert next_due(waiting) is None
    _, steps, _ = escalate_due(waiting, T0 + timedelta(hours=5))
    assert steps == ()
    resumed = apply_update(waiting, update(waiting, Status.DISPATCHED, 3), T0 + minutes(10) + timedelta(hours=2))
    assert resumed.paused_since is None
    assert resumed.resolve_due == T0 + timedelta(seconds=3600) + timedelta(hours=2)
    assert next_due(resumed) == resumed.resolve_due


def test_book_tick_publishes_escalation_and_counts() -> None:
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("f1", **P1), T0)
    assert book.due_wards(T0 + minutes(4)) == []
    assert book.due_wards(T0 + minutes(5)) == ["27142"]
    effects = book.on_tick("27142", T0 + minutes(5))
    channels = [o.channel for o in effects.outbound]
    assert channels.count("escalations") == 1 and "ward" in channels and "incidents" in channels
    escalation = next(o.value for o in effects.outbound if o.channel == "escalations")
    assert escalation["type"] == "vn.ioc.incident.escalation"
    assert escalation["data"]["level_name"] == "agency" and escalation["data"]["missed"] == "ack"
    assert [(s.name, s.labels) for s in effects.signals] == [("escalation", ("agency",)), ("breach", ("ack", "P1"))]
    assert book.on_tick("27142", T0 + minutes(6)).outbound == []
