"""A worker SIGKILLed mid-incident: the restarted worker recovers the tables from their changelogs,
loses and duplicates no incident, and each SLA rung still fires exactly once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from routers import topics
from routers.decision import Sla
from routers.locate.result import WardRef
from tests.routers.incidents.factories import envelope, offset
from tests.streams.lifecycle.harness import (
    Clock,
    Reader,
    Worker,
    ensure_topics,
    latest_states,
    producer,
    send,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

WARD = WardRef("99907", "Phường Vườn Lài", "79")  # unused code: no simulated traffic lands here


def test_kill_restart_counts_incidents_and_fires_sla_once(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ensure_topics(kafka_bootstrap, [WARD.code])
    run_dir = tmp_path_factory.mktemp("restart")
    clock = Clock(run_dir / "offset")

    def new_worker() -> Worker:
        return Worker(kafka_bootstrap, redis_url, "lc-restart", run_dir, clock.path).start()

    prod, t = producer(kafka_bootstrap), datetime.now(UTC)
    fire = dict(priority="P1", sla=Sla(300, 3600), targets=(f"ward:{WARD.code}", "agency:fire"))
    before = [
        envelope("rs-flood-1", ward=WARD, at=t, point=offset(0, 0)),
        envelope("rs-flood-2", ward=WARD, at=t, point=offset(100, 0)),
        envelope("rs-fire-1", ward=WARD, kind="fire", at=t, point=offset(2000, 0), **fire),
        envelope("rs-light-1", ward=WARD, kind="street_light", at=t, point=offset(-3000, 0)),
    ]
    after = [
        before[0], before[2],  # redelivered after the crash
        envelope("rs-fire-2", ward=WARD, source="camera", kind="fire_smoke", at=t + timedelta(minutes=1),
                 point=offset(2050, 0), **fire),
        envelope("rs-tree-1", ward=WARD, kind="fallen_tree", at=t, point=offset(0, 3000)),
    ]
    states = Reader(kafka_bootstrap, topics.INCIDENTS)
    escalations = Reader(kafka_bootstrap, topics.ESCALATIONS, dedupe=False)  # count every copy

    first = new_worker()
    try:
        for body in before:
            send(prod, topics.ROUTED, WARD.code, body)
        states.wait_for(lambda seen: sum(len(s["evidence"]) for s in latest_states(seen, WARD.code).values()) == 4)
        time.sleep(3.5)  # past Faust's commit interval: the tables' changelog is written
    finally:
        first.kill()
    assert len(latest_states(states.seen, WARD.code)) == 3

    for body in after:  # arrive while no worker runs
        send(prod, topics.ROUTED, WARD.code, body)
    second = new_worker()
    try:
        states.wait_for(lambda seen: len(latest_states(seen, WARD.code)) == 4
                        and sum(len(s["evidence"]) for s in latest_states(seen, WARD.code).values()) == 6, 60)
        time.sleep(2)
        states.poll()
        final = latest_states(states.seen, WARD.code)
        assert sorted(len(s["evidence"]) for s in final.values()) == [1, 1, 2, 2]
        status, listed = second.get(f"/api/incidents?ward={WARD.code}")
        assert status == 200 and listed["count"] == 4
        fire_incident = next(s for s in final.values() if s["family"] == "fire")
        ack_due = datetime.fromisoformat(fire_incident["ack_due"].replace("Z", "+00:00"))
        clock.advance((ack_due - datetime.now(UTC)).total_seconds() + 2 - clock.offset())

        def fired(seen: list) -> list[dict]:
            return [v for _, v in seen if v["data"]["incident_id"] == fire_incident["id"]]

        escalations.wait_for(fired, timeout_s=20)
        time.sleep(3.5)
    finally:
        second.kill()

    third = new_worker()  # killed right after the rung fired: it must not fire again
    try:
        time.sleep(6)
        escalations.poll(1)
        status, body = third.get(f"/api/incidents/{fire_incident['id']}")
    finally:
        third.stop()
    rungs = fired(escalations.seen)
    assert len(rungs) == 1, rungs
    assert rungs[0]["data"]["level_name"] == "agency"
    assert status == 200 and body["breaches"] == ["ack"] and len(body["evidence"]) == 2
    for reader in (states, escalations):
        reader.close()
