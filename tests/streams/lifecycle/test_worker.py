"""The lifecycle on the embedded broker and Redis, with a real worker process and plain Kafka clients.

Each test uses its own wards, so tests sharing the session broker do not see each other's incidents;
the codes are in the unused 999xx range, so the simulated traffic of other tests (real HCMC wards,
also seen by this worker on ioc.routed) never lands in them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
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

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

RAIN = WardRef("99901", "Phường Xuân Hòa", "79")
LOOP = WardRef("99902", "Phường Nhiêu Lộc", "79")
OTHER = WardRef("99903", "Phường Bến Thành", "79")
SLA_WARD = WardRef("99904", "Phường Bàn Cờ", "79")
CLI_WARD = WardRef("99905", "Phường Tân Định", "79")
AMBIGUOUS = WardRef("99906", "Phường Xóm Chiếu", "79")
WARD_A = WardRef("99907", "Phường Cầu Ông Lãnh", "79")
WARD_B = WardRef("99908", "Phường Sài Gòn", "79")
WARDS = [RAIN.code, LOOP.code, OTHER.code, SLA_WARD.code, CLI_WARD.code, AMBIGUOUS.code, WARD_A.code, WARD_B.code]


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Clock:
    return Clock(tmp_path_factory.mktemp("clock") / "offset")


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, redis_url: str, clock: Clock, tmp_path_factory: pytest.TempPathFactory):
    ensure_topics(kafka_bootstrap, WARDS)
    running = Worker(kafka_bootstrap, redis_url, "lc-main", tmp_path_factory.mktemp("worker"), clock.path).start()
    yield running
    running.stop()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_rainstorm_becomes_correlated_incidents(worker: Worker, kafka_bootstrap: str, redis_url: str) -> None:
    from streams.devices import DeviceRecord, register_devices

    # As from the pipeline: cameras and gauges are placed by the device registry and carry no point.
    camera_at, gauge_at = offset(80, -300), offset(-300, -200)
    register_devices(redis_url, [DeviceRecord("cam-xh-1", "camera", *camera_at),
                                 DeviceRecord("wl-xh-1", "water_level", *gauge_at)])
    prod, t = producer(kafka_bootstrap), now()
    events = [
        envelope("storm-r1", ward=RAIN, at=t, point=offset(0, 0)),
        envelope("storm-r2", ward=RAIN, at=t + timedelta(minutes=3), point=offset(150, 60)),
        envelope("storm-r3", ward=RAIN, at=t + timedelta(minutes=7), point=offset(-220, 100)),
        envelope("storm-cam", ward=RAIN, source="camera", kind="flooding", at=t + timedelta(minutes=5),
                 point=None, device_id="cam-xh-1"),
        envelope("storm-wl", ward=RAIN, source="sensor", kind="water_level", device_id="wl-xh-1", value=0.45,
                 at=t + timedelta(minutes=9), point=None),
        envelope("storm-fire", ward=RAIN, kind="fire", at=t, point=offset(10, 10), priority="P1"),
        envelope("storm-far", ward=RAIN, at=t, point=offset(4000, 0)),
    ]
    for body in events + events[:2]:  # the first two again: an at-least-once redelivery
        send(prod, topics.ROUTED, RAIN.code, body)
    reader = Reader(kafka_bootstrap, topics.INCIDENTS)
    reader.wait_for(lambda seen: sum(len(s["evidence"]) for s in latest_states(seen, RAIN.code).values()) >= 7)
    time.sleep(2)  # let any (wrong) duplicate arrive
    reader.poll()
    states = latest_states(reader.seen, RAIN.code)
    by_size = sorted(states.values(), key=lambda s: -len(s["evidence"]))
    assert [len(s["evidence"]) for s in by_size] == [5, 1, 1]
    flood = by_size[0]
    assert {e["event_id"] for e in flood["evidence"]} == {"storm-r1", "storm-r2", "storm-r3", "storm-cam", "storm-wl"}
    assert {e["source"] for e in flood["evidence"]} == {"report", "camera", "sensor"}
    status, listed = worker.get(f"/api/incidents?ward={RAIN.code}&status=open")
    assert status == 200 and listed["count"] == 3
    reader.close()


def test_ward_acknowledges_and_resolves_with_a_plain_client(worker: Worker, kafka_bootstrap: str) -> None:
    prod, t = producer(kafka_bootstrap), now()
    ward_feed = Reader(kafka_bootstrap, topics.ward_topic(LOOP.code))
    send(prod, topics.ROUTED, LOOP.code, envelope("loop-r1", ward=LOOP, at=t))
    send(prod, topics.ROUTED, LOOP.code, envelope("loop-r2", ward=LOOP, at=t, point=offset(30, 0)))
    send(prod, topics.ROUTED, LOOP.code, envelope("loop-cam", ward=LOOP, source="camera", at=t, point=offset(0, 40)))
    seen = ward_feed.wait_for(lambda s: any(v.get("type") == "vn.ioc.incident.opened" for _, v in s))
    incident = next(v for _, v in seen if v.get("type") == "vn.ioc.incident.opened")["iocincident"]

    def update(n: int, status: str, **extra) -> dict:
        return {"update_id": f"loop-u{n}", "incident_id": incident, "ward": LOOP.code, "status": status,
                "actor": "officer-17", **extra}

    send(prod, topics.STATUS, LOOP.code, update(1, "acknowledged"))
    send(prod, topics.STATUS, LOOP.code, update(1, "acknowledged"))  # retried by the ward system: ignored
    send(prod, topics.STATUS, LOOP.code, update(2, "dispatched"))
    send(prod, topics.STATUS, LOOP.code, update(3, "resolved", result={"outcome": "fixed", "summary": "Đã nạo vét cống"}))
    results = Reader(kafka_bootstrap, topics.RESULTS)
    results.wait_for(lambda s: {k for k, v in s if v["data"]["incident_id"] == incident} >= {b"loop-r1", b"loop-r2"})
    mine = [(k, v) for k, v in results.seen if v["data"]["incident_id"] == incident]
    assert sorted(k for k, _ in mine) == [b"loop-r1", b"loop-r2"]  # the camera is not a citizen report
    assert mine[0][1]["data"]["summary"] == "Đã nạo vét cống" and mine[0][1]["data"]["outcome"] == "fixed"

    status, body = worker.get(f"/api/incidents/{incident}")
    assert status == 200
    assert [h["status"] for h in body["history"]] == ["new", "routed", "acknowledged", "dispatched", "resolved"]
    assert [h["update_id"] for h in body["history"][2:]] == ["loop-u1", "loop-u2", "loop-u3"]
    ward_feed.wait_for(lambda s: any(v.get("type") == "vn.ioc.incident.resolved" for _, v in s))
    for reader in (ward_feed, results):
        reader.close()


def test_bad_updates_are_dead_lettered_and_change_nothing(worker: Worker, kafka_bootstrap: str) -> None:
    prod, t = producer(kafka_bootstrap), now()
    ward_feed = Reader(kafka_bootstrap, topics.ward_topic(OTHER.code))
    send(prod, topics.ROUTED, OTHER.code, envelope("other-r1", ward=OTHER, at=t))
    seen = ward_feed.wait_for(lambda s: any(v.get("type") == "vn.ioc.incident.opened" for _, v in s))
    incident = next(v for _, v in seen if v.get("type") == "vn.ioc.incident.opened")["iocincident"]
    base = {"incident_id": incident, "ward": OTHER.code, "actor": "o-2"}
    send(prod, topics.STATUS, OTHER.code, b'{"update_id": "x1", "incident_id": ')
    send(prod, topics.STATUS, OTHER.code, {**base, "update_id": "x2", "status": "acknowledged", "colour": "red"})
    send(prod, topics.STATUS, OTHER.code, {**base, "update_id": "x3", "status": "acknowledged", "incident_id": "inc-nope"})
    send(prod, topics.STATUS, LOOP.code, {**base, "update_id": "x4", "status": "acknowledged", "ward": LOOP.code})
    send(prod, topics.STATUS, OTHER.code, {**base, "update_id": "x5", "status": "closed"})
    send(prod, topics.STATUS, OTHER.code, {**base, "update_id": "x6", "status": "acknowledged"})
    send(prod, topics.STATUS, OTHER.code, {**base, "update_id": "x7", "status": "dispatched"})
    send(prod, topics.STATUS, OTHER.code, {**base, "update_id": "x8", "status": "acknowledged"})  # late
    dead = Reader(kafka_bootstrap, topics.DEADLETTER)
    wanted = {"x1": "bad_json", "x2": "bad_update", "x3": "unknown_incident", "x4": "wrong_ward",
              "x5": "illegal_transition", "x8": "out_of_order"}

    def reasons(seen: list) -> dict[str, str]:
        found = {}
        for _, value in seen:
            if value.get("type") != "vn.ioc.event.deadletter" or value["data"]["topic"] != topics.STATUS:
                continue
            import base64

            raw = base64.b64decode(value["data"]["original_base64"])
            for update_id in wanted:
                if f'"{update_id}"'.encode() in raw:
                    found[update_id] = value["data"]["reason"]
        return found

    dead.wait_for(lambda s: reasons(s).keys() >= wanted.keys())
    assert reasons(dead.seen) == wanted
    status, body = worker.get(f"/api/incidents/{incident}")
    assert status == 200 and body["status"] == "dispatched"
    assert [h["update_id"] for h in body["history"][2:]] == ["x6", "x7"]
    dead.close()
    ward_feed.close()


def test_unacknowledged_p1_escalates_on_time(worker: Worker, clock: Clock, kafka_bootstrap: str) -> None:
    prod = producer(kafka_bootstrap)
    send(prod, topics.ROUTED, SLA_WARD.code, envelope(
        "sla-fire", ward=SLA_WARD, kind="fire", priority="P1", sla=Sla(300, 3600), at=now(),
        targets=(f"ward:{SLA_WARD.code}", "agency:fire")))
    states = Reader(kafka_bootstrap, topics.INCIDENTS)
    states.wait_for(lambda seen: latest_states(seen, SLA_WARD.code))
    [state] = latest_states(states.seen, SLA_WARD.code).values()
    ack_due = datetime.fromisoformat(state["ack_due"].replace("Z", "+00:00"))
    escalations = Reader(kafka_bootstrap, topics.ESCALATIONS)

    def mine(seen: list) -> list[dict]:
        return [v["data"] for _, v in seen if v["data"]["incident_id"] == state["id"]]

    # 20 s before the deadline (on the worker's clock): nothing may happen
    clock.advance((ack_due - datetime.now(UTC)).total_seconds() - 20 - clock.offset())
    time.sleep(3)
    escalations.poll(1)
    assert mine(escalations.seen) == []
    clock.advance(21)  # 1 s past the deadline
    escalations.wait_for(lambda seen: mine(seen), timeout_s=15)
    [first] = mine(escalations.seen)
    assert first["level_name"] == "agency" and first["targets"] == ["agency:fire"] and first["missed"] == "ack"
    assert first["due"] == state["ack_due"]
    clock.advance(300)  # one more acknowledge period: the city IOC duty officer
    escalations.wait_for(lambda seen: len(mine(seen)) >= 2, timeout_s=15)
    assert [e["level_name"] for e in mine(escalations.seen)] == ["agency", "city_ioc"]
    for reader in (states, escalations):
        reader.close()


def test_cli_lists_shows_and_acknowledges(worker: Worker, kafka_bootstrap: str, redis_url: str) -> None:
    from click.testing import CliRunner

    from cli import main

    env = {"IOC_KAFKA_BOOTSTRAP": kafka_bootstrap, "IOC_REDIS_URL": redis_url, "IOC_APP_ID": worker.env["IOC_APP_ID"]}
    send(producer(kafka_bootstrap), topics.ROUTED, CLI_WARD.code, envelope("cli-r1", ward=CLI_WARD, at=now()))
    runner = CliRunner()
    deadline = time.monotonic() + 20
    listed: dict = {"count": 0}
    while listed["count"] == 0 and time.monotonic() < deadline:
        result = runner.invoke(main, ["incidents", "list", "--ward", CLI_WARD.code, "--json"], env=env)
        assert result.exit_code == 0, result.output
        listed = orjson.loads(result.output)
        time.sleep(0.3)
    [incident] = listed["incidents"]
    # the command waits for the lifecycle's verdict: refused (exit 1, the reason) or applied (exit 0)
    result = runner.invoke(main, ["incidents", "ack", incident["id"], "--ward", CLI_WARD.code, "--as", "agency:fire"],
                           env=env)
    assert result.exit_code == 1 and "refused: not_permitted" in result.output, result.output
    result = runner.invoke(main, ["incidents", "dispatch", "inc-nope", "--ward", CLI_WARD.code, "--json"], env=env)
    assert result.exit_code == 1, result.output
    assert orjson.loads(result.output)["verdict"]["reason"] == "unknown_incident"
    result = runner.invoke(main, ["incidents", "ack", incident["id"], "--ward", CLI_WARD.code, "--actor", "o-9"], env=env)
    assert result.exit_code == 0 and f"applied: {incident['id']} is acknowledged" in result.output, result.output
    result = runner.invoke(main, ["incidents", "ack", incident["id"], "--ward", CLI_WARD.code, "--json"], env=env)
    assert result.exit_code == 1 and orjson.loads(result.output)["verdict"]["reason"] == "already_in_status"
    result = runner.invoke(main, ["incidents", "show", incident["id"], "--json"], env=env)
    body = orjson.loads(result.output)
    assert body["status"] == "acknowledged" and body["history"][-1]["actor"] == "o-9"
    human = runner.invoke(main, ["incidents", "show", incident["id"]], env=env).output
    assert "acknowledged" in human and "history:" in human
    refused = runner.invoke(main, ["incidents", "update", incident["id"], "reassigned", "--ward", CLI_WARD.code], env=env)
    assert refused.exit_code == 2 and "to_ward" in refused.output
    missing = runner.invoke(main, ["incidents", "show", "inc-nope", "--json"], env=env)
    assert missing.exit_code == 1 and orjson.loads(missing.output)["error"] == "unknown_incident"


def test_malformed_routed_messages_are_dead_lettered(worker: Worker, kafka_bootstrap: str) -> None:
    prod = producer(kafka_bootstrap)
    send(prod, topics.ROUTED, OTHER.code, b"\x00not json")
    send(prod, topics.ROUTED, OTHER.code, {"specversion": "1.0", "data": {"event": {}}})
    dead = Reader(kafka_bootstrap, topics.DEADLETTER)

    def reasons(seen: list) -> list[str]:
        return sorted(v["data"]["reason"] for _, v in seen if v["data"]["topic"] == topics.ROUTED)

    dead.wait_for(lambda seen: len(reasons(seen)) >= 2)
    assert reasons(dead.seen) == ["bad_json", "malformed_routed"]
    status, _ = worker.get("/healthz")
    assert status == 200  # the agent is still running
    dead.close()


def test_ambiguous_location_keyed_city_is_owned_by_its_first_candidate(worker: Worker, kafka_bootstrap: str) -> None:
    body = envelope("amb-1", ward=AMBIGUOUS, at=now())
    body["data"]["location"].update(status="ambiguous", ward=None, candidates=[
        {"code": AMBIGUOUS.code, "name": AMBIGUOUS.name, "distance_m": None},
        {"code": RAIN.code, "name": RAIN.name, "distance_m": None}])
    send(producer(kafka_bootstrap), topics.ROUTED, "city", body)  # how the pipeline keys a ward-less location
    states = Reader(kafka_bootstrap, topics.INCIDENTS)
    states.wait_for(lambda seen: latest_states(seen, AMBIGUOUS.code))
    [state] = latest_states(states.seen, AMBIGUOUS.code).values()
    assert [e["event_id"] for e in state["evidence"]] == ["amb-1"]
    status, listed = worker.get(f"/api/incidents?ward={AMBIGUOUS.code}")
    assert status == 200 and listed["count"] == 1
    states.close()


def _metric(worker: Worker, name: str, **labels: str) -> float:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{worker.url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


def test_a_ward_acts_only_on_its_own_incidents_and_an_agency_on_what_reached_it(
        worker: Worker, clock: Clock, kafka_bootstrap: str) -> None:
    """Issue 16's acceptance: two ward users, each writing only its own ioc.status.<ward>; an agency
    acknowledges an escalated incident on ioc.status.agency.<name> and the SLA clock stops."""
    from tests.streams.cloudevents_check import event_type, parse_record

    prod, t = producer(kafka_bootstrap), now()
    targets = (f"ward:{WARD_B.code}", "agency:flood-control")
    ward_b_feed = Reader(kafka_bootstrap, topics.ward_topic(WARD_B.code))
    send(prod, topics.ROUTED, WARD_B.code, envelope("perm-b1", ward=WARD_B, at=t, targets=targets))
    send(prod, topics.ROUTED, WARD_B.code, envelope("perm-b2", ward=WARD_B, at=t, kind="fire", point=offset(3000, 0),
                                                      targets=targets))
    seen = ward_b_feed.wait_for(lambda s: sum(v.get("type") == "vn.ioc.incident.opened" for _, v in s) >= 2)
    first, second = (v["iocincident"] for _, v in seen if v.get("type") == "vn.ioc.incident.opened")
    refused_before = _metric(worker, "ioc_deadletter_total", reason="not_permitted", source="status")

    def update(update_id: str, incident: str, status: str, ward: str = WARD_B.code, **extra) -> dict:
        return {"update_id": update_id, "incident_id": incident, "ward": ward, "status": status, **extra}

    # ward A's user can write only ioc.status.99907: whatever ward its update names, it acts as ward A
    send(prod, topics.ward_status_topic(WARD_A.code), WARD_B.code, update("a-1", first, "acknowledged"))
    send(prod, topics.ward_status_topic(WARD_A.code), WARD_B.code, update("a-2", first, "reassigned", to_ward=WARD_A.code))
    # an agency the incident never reached
    send(prod, topics.agency_status_topic("fire"), WARD_B.code, update("f-1", first, "acknowledged"))
    dead = Reader(kafka_bootstrap, topics.DEADLETTER)
    wanted = {"a-1", "a-2", "f-1"}

    def refusals(seen: list) -> dict[str, tuple[str, str]]:
        return {v["iocupdate"]: (v["data"]["reason"], v["data"]["topic"]) for _, v in seen
                if v.get("type") == "vn.ioc.event.deadletter" and v.get("iocupdate") in wanted}

    dead.wait_for(lambda s: refusals(s).keys() >= wanted)
    assert refusals(dead.seen) == {
        "a-1": ("not_permitted", topics.ward_status_topic(WARD_A.code)),
        "a-2": ("not_permitted", topics.ward_status_topic(WARD_A.code)),
        "f-1": ("not_permitted", topics.agency_status_topic("fire")),
    }
    status, body = worker.get(f"/api/incidents/{first}")
    assert status == 200 and body["status"] == "routed" and body["version"] == 1 and body["ward"] == WARD_B.code
    assert _metric(worker, "ioc_deadletter_total", reason="not_permitted", source="status") - refused_before == 3

    # ward B's own update applies
    send(prod, topics.ward_status_topic(WARD_B.code), WARD_B.code, update("b-1", first, "acknowledged",
                                                                          actor="officer-5"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker.get(f"/api/incidents/{first}")[1]["status"] != "acknowledged":
        time.sleep(0.3)
    status, body = worker.get(f"/api/incidents/{first}")
    assert body["status"] == "acknowledged" and body["history"][-1]["actor"] == "officer-5"

    # the second incident misses its acknowledge deadline: escalated to agency:flood-control, which
    # reads it on its own topic and acknowledges it on its own status topic
    agency_feed = Reader(kafka_bootstrap, topics.agency_topic("flood-control"))
    escalations = Reader(kafka_bootstrap, topics.ESCALATIONS)
    status, body = worker.get(f"/api/incidents/{second}")
    ack_due = datetime.fromisoformat(body["ack_due"].replace("Z", "+00:00"))
    clock.advance((ack_due - datetime.now(UTC)).total_seconds() + 2 - clock.offset())
    agency_feed.wait_for(lambda s: any(v.get("iocincident") == second for _, v in s), timeout_s=30)
    [escalated] = [v for _, v in agency_feed.seen if v.get("iocincident") == second]
    assert escalated["type"] == "vn.ioc.incident.escalation" and escalated["data"]["level_name"] == "agency"
    send(prod, topics.agency_status_topic("flood-control"), WARD_B.code,
         update("fc-1", second, "acknowledged", actor="duty-2"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker.get(f"/api/incidents/{second}")[1]["status"] != "acknowledged":
        time.sleep(0.3)
    status, body = worker.get(f"/api/incidents/{second}")
    assert body["status"] == "acknowledged" and body["acknowledged_at"] is not None
    assert body["history"][-1]["actor"] == "agency:flood-control/duty-2"
    # the acknowledge clock stopped: one more acknowledge period later the city IOC is not called
    clock.advance(DEFAULT_ACK_S + 5)
    time.sleep(4)
    escalations.poll(1)
    assert [v["data"]["level_name"] for _, v in escalations.seen if v["data"]["incident_id"] == second] == ["agency"]
    status, body = worker.get(f"/api/incidents/{second}")
    assert body["escalation_level"] == 1 and body["status"] == "acknowledged"

    # every message on the ward and agency topics is a structured-mode CloudEvent the SDK reads
    for topic in (topics.ward_topic(WARD_B.code), topics.agency_topic("flood-control")):
        types = {event_type(parse_record(record)) for record in _records(kafka_bootstrap, topic)}
        assert types >= ({"vn.ioc.incident.opened", "vn.ioc.incident.updated", "vn.ioc.incident.escalated"}
                         if topic.startswith("ioc.ward.") else {"vn.ioc.incident.escalation"}), (topic, types)
    for reader in (ward_b_feed, dead, agency_feed, escalations):
        reader.close()


DEFAULT_ACK_S = 900  # tests.routers.incidents.factories.DEFAULT_SLA


def _records(bootstrap: str, topic: str) -> list:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=3000)
    assigned = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    records = list(consumer)
    consumer.close()
    return records
