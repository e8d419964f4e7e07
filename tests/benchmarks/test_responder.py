"""The soak's ward responder: what it plans for a routed incident, and that its messages meet the
ioc.status contract (the same parser the worker uses)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import orjson

from benchmarks.responder import WardResponder
from routers.incidents.timeutil import fmt
from streams.lifecycle.clock import SystemClock
from streams.lifecycle.contract import parse_status_update
from streams.settings import Settings
from tests.routers.incidents.factories import T0

_versions = itertools.count(1)


def state(incident: str, ward: str, status: str = "routed", moved_to: str | None = None,
          version: int | None = None) -> dict:
    """A state as ioc.incidents carries it; each call a newer version unless ``version`` is given."""
    return {"id": incident, "ward": ward, "status": status, "moved_to": moved_to,
            "created_at": fmt(T0), "updated_at": fmt(T0), "version": version or next(_versions)}


def responder(**kw: float) -> WardResponder:
    return WardResponder(Settings(), SystemClock(), **kw)


def test_a_routed_incident_is_acknowledged_then_resolved_within_the_hour() -> None:
    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142") | {"sla": {"ack_s": 120, "resolve_s": 7200}})
    r.observe(state("inc-1", "27142"))  # an escalation re-publishes the state: planned once
    assert r.due(T0 + timedelta(seconds=23)) == []  # not before 20 % of the acknowledge SLA
    assert [u["status"] for u in r.due(T0 + timedelta(seconds=132))] == ["acknowledged"]  # 110 %
    updates = r.due(T0 + timedelta(hours=2))
    assert [u["status"] for u in updates][:1] == ["resolved"]
    assert {u["status"] for u in updates} <= {"resolved", "closed"}
    assert r.stats.incidents == 1 and r.due(T0 + timedelta(days=1)) == []
    for update in updates:
        parsed, _body = parse_status_update(orjson.dumps(update))
        assert parsed.incident_id == "inc-1" and parsed.ward == "27142"


def test_shares_of_unattended_and_reassigned() -> None:
    r = responder(unattended=0.2, reassigned=0.1)
    for n in range(1000):
        r.observe(state(f"inc-{n}", f"{27000 + n % 50}"))
    updates = r.due(T0 + timedelta(days=1))
    statuses = [u["status"] for u in updates]
    assert 150 <= r.stats.unattended <= 250
    assert 60 <= statuses.count("reassigned") <= 140
    assert statuses.count("resolved") == 1000 - r.stats.unattended - statuses.count("reassigned")
    assert all(u["to_ward"] != u["ward"] for u in updates if u["status"] == "reassigned")


def test_done_copies_are_forgotten_and_a_new_wards_copy_is_planned() -> None:
    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142"))
    r.observe(state("inc-1", "27142", status="reassigned", moved_to="26740"))
    r.observe(state("inc-1", "26740"))  # the new owner's copy, routed there
    assert r.stats.incidents == 2
    r.observe(state("inc-1", "26740", status="resolved"))
    assert r._planned == set()


def test_an_escalation_counts_against_the_lifecycle_only_when_the_ack_was_on_the_broker_in_time() -> None:
    from benchmarks.responder import escalated_after_ack

    due = T0 + timedelta(seconds=120)
    acks = {("27142", "early"): due - timedelta(seconds=30), ("27142", "late"): due + timedelta(seconds=5),
            ("27142", "at"): due, ("27142", "quiet"): due - timedelta(seconds=1)}
    escalations = {("27142", "early"): due, ("27142", "late"): due, ("27142", "at"): due,
                   ("27142", "never-acked"): due}  # "quiet" was acknowledged and never escalated
    assert escalated_after_ack(acks, escalations) == [("27142", "early")]


def test_the_responder_keeps_the_earliest_ack_deadline_a_copy_escalated_for() -> None:
    r = responder()
    first, second = T0 + timedelta(minutes=2), T0 + timedelta(minutes=12)
    r.observe_escalation({"missed": "ack", "ward": "27142", "incident_id": "inc-1", "due": fmt(second)})
    r.observe_escalation({"missed": "ack", "ward": "27142", "incident_id": "inc-1", "due": fmt(first)})
    r.observe_escalation({"missed": "resolve", "ward": "27142", "incident_id": "inc-2", "due": fmt(first)})
    assert r._ack_escalations == {("27142", "inc-1"): first}


def test_a_held_responder_sends_nothing_more() -> None:
    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142") | {"sla": {"ack_s": 120, "resolve_s": 7200}})
    r.hold()
    assert r.due(T0 + timedelta(days=1)) == []
    assert len(r._queue) >= 2  # still planned: reported as pending, never sent


def test_what_was_planned_for_a_copy_that_left_the_ward_is_withdrawn() -> None:
    # the one acknowledgement a 10-minute soak never saw applied was for a copy that had moved:
    # the worker dead-lettered it wrong_ward, rightly; a ward system drops an incident that left it
    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142") | {"sla": {"ack_s": 120, "resolve_s": 7200}})
    r.observe(state("inc-1", "27142", status="routed", moved_to="26740"))  # moved on, not by this ward's own plan
    r.observe(state("inc-1", "27142"))  # handed back later: a new copy, planned afresh
    updates = r.due(T0 + timedelta(days=1))
    assert r.stats.withdrawn >= 2  # the first copy's acknowledgement and resolution
    assert [u["status"] for u in updates][:2] == ["acknowledged", "resolved"]
    assert r.stats.incidents == 2


def test_a_stale_or_repeated_state_is_ignored_as_a_ward_system_dedupes_it() -> None:
    # a routed state published after the copy's moved state (the lifecycle's two agents once
    # published out of decision order) must not plan an acknowledgement the worker rejects wrong_ward
    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142", version=3))
    r.observe(state("inc-1", "27142", status="reassigned", moved_to="26740", version=5))
    r.observe(state("inc-1", "27142", version=4))  # older than what was seen: out of order
    r.observe(state("inc-1", "27142", status="reassigned", moved_to="26740", version=5))  # redelivered
    assert r.due(T0 + timedelta(days=1)) == []
    assert (r.stats.out_of_order_states, r.stats.repeated_states, r.stats.incidents) == (1, 1, 1)


def test_a_copy_that_moved_away_sends_nothing_more() -> None:
    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142"))
    r.observe(state("inc-1", "27142", status="routed", moved_to="26740"))
    assert r.due(T0 + timedelta(days=1)) == []


def test_the_workers_verdict_on_an_update_is_read_from_the_dead_letter_topic() -> None:
    from datetime import UTC, datetime

    from routers.envelope import deadletter

    r = responder(unattended=0.0, reassigned=0.0)
    r.observe(state("inc-1", "27142") | {"sla": {"ack_s": 120, "resolve_s": 7200}})
    [ack] = r.due(T0 + timedelta(seconds=200))
    r._updates[ack["update_id"]] = ("acknowledged", ("27142", "inc-1"))  # as _run records a send
    letter = deadletter(orjson.dumps(ack), "wrong_ward", "incident inc-1 belongs to ward 26740, not 27142",
                        "ioc.status", 0, 9, datetime.now(UTC))
    r.observe_verdict(letter | {"iocupdate": "someone-else"})  # not ours: ignored
    assert r.stats.rejected == {}
    r.observe_verdict(letter | {"iocupdate": ack["update_id"]})
    assert r.stats.rejected == {"wrong_ward": 1}
    assert r.stats.rejected_examples == ["acknowledged by 27142 of inc-1: wrong_ward: "
                                         "incident inc-1 belongs to ward 26740, not 27142"]


def test_nothing_is_sent_for_a_copy_after_this_ward_reassigned_it() -> None:
    # the soak's one rejected acknowledgement: "wrong_ward: incident ... was reassigned to ward
    # 26767", sent by the ward that had reassigned it before the moved state reached the responder
    r = responder(unattended=0.0, reassigned=1.0)
    r.observe(state("inc-2", "26740"))  # a ward to reassign to
    r.observe(state("inc-1", "27142"))  # reassigned (its share is 1)
    r._plan("27142", "inc-1", "acknowledged", T0 + timedelta(hours=1))  # planned for the same copy
    sent = r.due(T0 + timedelta(days=1))
    assert [u["status"] for u in sent if u["incident_id"] == "inc-1"] == ["reassigned"]
    assert r.stats.withdrawn == 1
