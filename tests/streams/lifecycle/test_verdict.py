"""Which message answers a status update (pure; the broker round trip is in tests/streams/lifecycle)."""

from __future__ import annotations

from routers import topics
from routers.topics import actor_of_status_topic, status_topic_of
from streams.lifecycle.verdict import Verdict, verdict_of


def _state(*update_ids: str | None, status: str = "acknowledged") -> dict:
    return {"type": "vn.ioc.incident.state", "data": {"status": status, "version": 4,
                                                      "history": [{"update_id": u} for u in update_ids]}}


def test_a_state_listing_the_update_means_applied() -> None:
    assert verdict_of(topics.INCIDENTS, _state(None, "u-1"), "u-1") == Verdict(True, status="acknowledged", version=4)
    assert verdict_of(topics.INCIDENTS, _state(None, "u-0"), "u-1") is None


def test_a_dead_letter_naming_the_update_means_refused() -> None:
    dead = {"type": "vn.ioc.event.deadletter", "iocupdate": "u-1",
            "data": {"reason": "not_permitted", "error": "incident inc-1 belongs to ward 27142, not 27139"}}
    verdict = verdict_of(topics.DEADLETTER, dead, "u-1")
    assert verdict is not None and not verdict.applied and verdict.reason == "not_permitted"
    assert verdict.to_json() == {"applied": False, "reason": "not_permitted",
                                 "detail": "incident inc-1 belongs to ward 27142, not 27139"}
    assert verdict_of(topics.DEADLETTER, {**dead, "iocupdate": "u-2"}, "u-1") is None
    assert verdict_of(topics.INCIDENTS, dead, "u-1") is None  # only ioc.deadletter refuses


def test_other_messages_say_nothing() -> None:
    for value in (None, [], {"data": "x"}, {"type": "vn.ioc.event.routed", "data": {}}):
        assert verdict_of(topics.INCIDENTS, value, "u-1") is None
        assert verdict_of(topics.DEADLETTER, value, "u-1") is None


def test_status_topics_round_trip_their_actor() -> None:
    for actor in ("ward:27139", "agency:flood-control", "city-ioc"):
        assert actor_of_status_topic(status_topic_of(actor)) == actor
    assert status_topic_of("ward:27139") == "ioc.status.27139"
    assert status_topic_of("agency:fire") == "ioc.status.agency.fire"
    for topic in ("ioc.status", "ioc.status.", "ioc.status.2713", "ioc.status.agency.", "ioc.ward.27139"):
        assert actor_of_status_topic(topic) is None
