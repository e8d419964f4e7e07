"""Frigate over MQTT for real: held-out Frigate payloads published to a real Mosquitto, carried by
`ioc bridge mqtt` (a process) through a real worker, checked from outside by reading the topics."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.scrape import scrape
from streams.settings import Settings
from tests.streams.bridge.conftest import (
    FIXTURES,
    FRIGATE_URL,
    digest,
    places_by_payload,
    publisher,
    read_all,
    start_bridge,
    wait_for,
)

pytestmark = pytest.mark.integration

NAMES = (b"John Smith", b"Bob")  # the sub_labels the payloads carry


def _publish(broker: str, messages: list[tuple[str, bytes]], client_id: str) -> None:
    client = publisher(broker, client_id)
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)
    finally:
        client.loop_stop()
        client.disconnect()


def _all_placed(settings: Settings, hashes: list[str]) -> bool:
    places = places_by_payload(settings)
    return all(places.get(h) for h in hashes)


def _fixtures() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(FIXTURES.rglob("*.json")):
        topic = "frigate/events" if path.parent.name == "events" else "frigate/reviews"
        out.append((topic, path.read_bytes()))
    return out


def test_real_frigate_payloads_end_routed_or_filtered_and_names_stay_with_the_owning_ward(
        mosquitto: str, bridge_settings: Settings, bridge_worker: str, tmp_path: Path) -> None:
    bridge, bridge_metrics = start_bridge(bridge_settings, mosquitto, tmp_path, client_id="ioc-bridge-e2e")
    try:
        messages = _fixtures()
        _publish(mosquitto, messages, "frigate-e2e")
        hashes = [digest(payload) for _topic, payload in messages]
        assert len(set(hashes)) == len(hashes)

        wait_for(lambda: _all_placed(bridge_settings, hashes), 120, "every payload to reach an outcome topic")
        metrics = scrape([bridge_metrics])
        assert metrics.total("ioc_bridge_received_total") == len(messages)
        assert metrics.total("ioc_bridge_forwarded_total") + metrics.total("ioc_bridge_filtered_total") == len(messages)
    finally:
        bridge.stop(timeout_s=20)

    places = places_by_payload(bridge_settings)
    kinds = Counter()
    ids: list[str] = []
    for (_topic, payload), key in zip(messages, hashes, strict=True):
        where = {topic for topic, _body in places[key]}
        assert len(where) == 1, f"{payload[:80]!r} ended in {where}"
        (place,) = where
        assert place in ("ioc.routed", "ioc.filtered"), f"{payload[:120]!r} ended in {place}"
        kinds[place] += 1
        body = places[key][0][1]
        if place == "ioc.filtered":
            assert body["data"]["reason"] in ("unmapped", "false_positive", "below_threshold")
        ids.append(str(body["id"]))
    assert len(set(ids)) == len(ids), "every Frigate message is its own CloudEvent"
    assert kinds["ioc.routed"] >= 6 and kinds["ioc.filtered"] >= 5, kinds

    # the face and the review's names: only on the owning ward's topic
    routed = [orjson.loads(v) for _t, v in read_all(bridge_settings, ["ioc.routed"])]
    person = next(b for b in routed if b["data"]["event"]["attributes"].get("frigate_id") == "1607123955.475377-mxklsc")
    owner = f"ioc.ward.{person['iocward']}"
    assert person["data"]["event"]["attributes"]["sub_label"] == "***"
    fire = next(b for b in routed if b["data"]["event"]["attributes"].get("frigate_type") == "end"
                and b["data"]["event"]["kind"] == "fire_smoke")
    assert fire["data"]["event"]["attributes"]["snapshot_url"] == \
        f"{FRIGATE_URL}/api/events/1607124100.100000-fire01/snapshot.jpg"
    holders: dict[bytes, set[str]] = {name: set() for name in NAMES}
    for topic, value in read_all(bridge_settings, pattern=r"ioc\.(?!in\.).*"):
        for name in NAMES:
            if name in value:
                holders[name].add(topic)
    assert holders[b"John Smith"] == {owner}
    assert all(topic.startswith("ioc.ward.") for topic in holders[b"Bob"]) and holders[b"Bob"]


def test_bad_input_ends_with_a_reason_and_a_metric_and_the_bridge_keeps_running(
        mosquitto: str, bridge_settings: Settings, bridge_worker: str, tmp_path: Path) -> None:
    fire = orjson.loads((FIXTURES / "derived/events/fire-new.json").read_bytes())
    unknown_camera = {**fire, "after": {**fire["after"], "camera": "cam-nobody-registered", "id": "9.9-unknown"}}
    no_after = {"type": "new", "before": fire["before"]}
    huge = orjson.dumps({**fire, "after": {**fire["after"], "id": "9.9-huge", "padding": "x" * (1 << 20)}})
    bad = [("frigate/events", b'{"type": "new", "after": {"id": "broken'), ("frigate/events", orjson.dumps(no_after)),
           ("frigate/events", orjson.dumps(unknown_camera)), ("frigate/events", huge)]
    after_them = ("frigate/events", orjson.dumps({**fire, "after": {**fire["after"], "id": "9.9-after-bad"}}))
    bridge, bridge_metrics = start_bridge(bridge_settings, mosquitto, tmp_path, client_id="ioc-bridge-bad")
    try:
        before = scrape([bridge_worker])
        _publish(mosquitto, [*bad, after_them], "frigate-bad")
        hashes = [digest(p) for _t, p in [*bad, after_them]]
        wait_for(lambda: _all_placed(bridge_settings, hashes), 120, "bad input to end somewhere")
        assert bridge.running()
        places = places_by_payload(bridge_settings)
        reasons = []
        for key in hashes[:4]:
            ((topic, body),) = {(t, orjson.dumps(b)) for t, b in places[key]}
            data = orjson.loads(body)["data"]
            reasons.append((topic, data["reason"]))
        assert reasons == [("ioc.deadletter", "malformed_json"), ("ioc.deadletter", "missing_field"),
                           ("ioc.unroutable", "unknown_device"), ("ioc.deadletter", "too_large")]
        assert {t for t, _b in places[hashes[4]]} == {"ioc.routed"}  # and the bridge went on
        worker, bridged = scrape([bridge_worker]), scrape([bridge_metrics])
        dead = worker.by_label("ioc_deadletter_total", "reason")
        was = before.by_label("ioc_deadletter_total", "reason")
        assert dead["malformed_json"] - was.get("malformed_json", 0) == 1
        assert dead["missing_field"] - was.get("missing_field", 0) == 1
        assert worker.by_label("ioc_unroutable_total", "reason")["unknown_device"] >= 1
        assert bridged.by_label("ioc_bridge_deadletter_total", "reason")["too_large"] == 1
    finally:
        bridge.stop(timeout_s=20)


@pytest.mark.timeout(900)
def test_sigkill_the_bridge_mid_stream_and_restart_nothing_is_lost(
        mosquitto: str, bridge_settings: Settings, bridge_worker: str, tmp_path: Path) -> None:
    """Every MQTT message published ends in exactly one place (routed, filtered, unroutable,
    dead-letter) although the bridge is SIGKILLed under load and started again: the broker keeps
    what was not acknowledged for the persistent session and sends it again."""
    template = orjson.loads((FIXTURES / "events/mqttwarn-car-full.json").read_bytes())
    fire = orjson.loads((FIXTURES / "derived/events/fire-new.json").read_bytes())
    messages: list[tuple[str, bytes]] = []
    for n in range(3000):
        base = fire if n % 3 == 0 else template  # a third fires (routed), the rest cars passing by (filtered)
        after = {**base["after"], "id": f"{1780000000 + n}.0-load{n:05d}", "camera": f"cam-load-{n % 5}"}
        messages.append(("frigate/events", orjson.dumps({**base, "after": after})))
    client_id = "ioc-bridge-kill"
    bridge, first_url = start_bridge(bridge_settings, mosquitto, tmp_path, client_id=client_id)
    sent = threading.Event()

    def publish() -> None:
        client = publisher(mosquitto, "frigate-load")
        try:
            for i in range(0, len(messages), 100):  # ~1,000 messages/s
                infos = [client.publish(t, p, qos=1) for t, p in messages[i:i + 100]]
                for info in infos:
                    info.wait_for_publish(timeout=60)
                time.sleep(0.1)
        finally:
            client.loop_stop()
            client.disconnect()
            sent.set()

    feeder = threading.Thread(target=publish)
    feeder.start()
    try:
        wait_for(lambda: scrape([first_url]).total("ioc_bridge_received_total") >= 300, 60, "the bridge to be busy")
        os.kill(bridge.pid, signal.SIGKILL)  # mid-stream: some produced to Kafka, not yet acknowledged to MQTT
        assert not sent.is_set(), "the load was over before the kill"
        bridge.process.wait(10)
        time.sleep(1.0)  # the broker queues for the dead session meanwhile
        bridge.stop()
        bridge, second_url = start_bridge(bridge_settings, mosquitto, tmp_path, client_id=client_id)
        feeder.join(120)
        assert sent.is_set()
        hashes = [digest(p) for _t, p in messages]
        wait_for(lambda: _all_placed(bridge_settings, hashes), 240, "every published message to end somewhere")
        assert scrape([second_url]).total("ioc_bridge_received_total") > 0
    finally:
        bridge.stop(timeout_s=20)
        feeder.join(30)
    places = places_by_payload(bridge_settings)
    lost = [h for h in hashes if not places.get(h)]
    misplaced = [h for h in hashes if len({t for t, _b in places[h]}) > 1]
    duplicated = sum(len(places[h]) - 1 for h in hashes)
    assert not lost and not misplaced
    kinds = Counter(places[h][0][0] for h in hashes)
    assert kinds["ioc.routed"] == 1000 and kinds["ioc.filtered"] == 2000, kinds
    print(f"published={len(hashes)} lost=0 misplaced=0 duplicated={duplicated}")


def test_sensor_readings_over_mqtt_become_sensor_contract_readings(
        mosquitto: str, bridge_settings: Settings, bridge_worker: str, tmp_path: Path) -> None:
    """The default sensor topic rule `sensors/{kind}/{sensor_id}`: a gauge publishing only its value."""
    readings = [("sensors/water_level/wl-mqtt-1", b'{"value": 35, "unit": "cm", "time": "2026-06-01T18:00:00+07:00"}'),
                ("sensors/water_level/wl-mqtt-1", b"0.41")]
    bridge, bridge_metrics = start_bridge(bridge_settings, mosquitto, tmp_path, client_id="ioc-bridge-sensors")
    try:
        _publish(mosquitto, readings, "gauge-1")
        wait_for(lambda: scrape([bridge_metrics]).total("ioc_bridge_forwarded_total") >= 2, 60, "the readings to be forwarded")
        intake = [orjson.loads(v) for _t, v in read_all(bridge_settings, ["ioc.in.sensors"])]
        mine = [r for r in intake if r.get("sensor_id") == "wl-mqtt-1"]
        assert {(r["kind"], r["value"]) for r in mine} >= {("water_level", 35), ("water_level", 0.41)}
        wait_for(lambda: scrape([bridge_worker]).by_label("ioc_ingested_total", "source").get("sensor", 0) >= 2, 90,
                 "the worker to take the readings")
        routed = [v for _t, v in read_all(bridge_settings, ["ioc.routed"], idle_s=6.0) if b"wl-mqtt-1" in v]
        assert len(routed) >= 2
    finally:
        bridge.stop(timeout_s=20)
