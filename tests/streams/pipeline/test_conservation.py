"""On the real embedded broker: a mixed stream with bad input, through a real worker process.
Every intake message ends in exactly one place, bad input is counted by reason, and a ward
system reads its topic with a plain kafka-python consumer."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from routers import topics
from streams.conservation import Ledger, read_topics, verdict
from streams.scrape import scrape
from streams.simulator.run import build_scenario, produce, register_scenario_devices
from tests.support import wait_for

pytestmark = pytest.mark.integration

EXTRA_BAD = [
    (topics.REPORTS, b"\xff\xfe not json"),
    (topics.REPORTS, b'{"id": "nan-1", "category": "noise", "location": {"lat": NaN, "lon": 106.7}, "reported_at": "2026-06-01T18:00:00Z"}'),
    (topics.REPORTS, orjson.dumps({"id": "big-1", "category": "other", "description": "x" * 300_000,
                                   "location": {"lat": 10.77, "lon": 106.70}, "reported_at": "2026-06-01T18:00:00Z"})),
    (topics.SENSORS, orjson.dumps({"sensor_id": "nobody-knows-me", "kind": "water_level", "value": 0.3,
                                   "time": "2026-06-01T18:00:00Z"})),
    (topics.REPORTS, orjson.dumps({"id": "far-1", "category": "noise", "location": {"lat": 48.85, "lon": 2.35},
                                   "reported_at": "2026-06-01T18:00:00Z"})),
    (topics.REPORTS, orjson.dumps({"id": "swap-1", "category": "noise", "location": {"lat": 106.7009, "lon": 10.7769},
                                   "reported_at": "2026-06-01T18:00:00Z"})),
]


def test_every_message_ends_in_exactly_one_place(embedded_stack, data_dir, pipeline_worker) -> None:
    settings = dataclasses.replace(embedded_stack.settings, data_dir=data_dir)
    sim = build_scenario(settings, "hcmc", "rainstorm", seed=11)
    register_scenario_devices(settings, sim)
    origins: list[str] = []
    intents: Counter[str] = Counter()
    lock = threading.Lock()

    def sent(message, partition: int, offset: int) -> None:
        with lock:
            origins.append(f"{message.topic}/{partition}/{offset}")
            intents[message.intent] += 1

    before = scrape([pipeline_worker]).total("ioc_ingested_total")
    stats = produce(settings, sim, rate=2000, count=1500, on_sent=sent)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=2 * 1024 * 1024)
    for topic, value in EXTRA_BAD:
        md = producer.send(topic, value=value).get(timeout=10)
        origins.append(f"{md.topic}/{md.partition}/{md.offset}")
    producer.close()
    total = stats.produced + len(EXTRA_BAD)
    assert len(origins) == total

    wait_for(lambda: scrape([pipeline_worker]).total("ioc_ingested_total") - before >= total, 90, "the worker to ingest")
    ledger = read_topics(settings.kafka_bootstrap, [topics.ROUTED, topics.UNROUTABLE, topics.DEADLETTER], Ledger())
    result = verdict(origins, ledger)
    assert result.lost == 0, f"lost messages, e.g. {result.lost_examples}"
    assert result.misplaced == 0

    kinds = Counter(ledger.places[o][0] for o in origins)
    assert kinds[topics.DEADLETTER] >= intents["malformed_json"] + 3
    assert kinds[topics.UNROUTABLE] >= 2  # unknown sensor, Paris
    assert kinds[topics.ROUTED] > 0.8 * total

    metrics = scrape([pipeline_worker])
    reasons = metrics.by_label("ioc_deadletter_total", "reason")
    assert reasons["too_large"] >= 1 and reasons["malformed_json"] >= 1
    assert metrics.by_label("ioc_unroutable_total", "reason")["unknown_device"] >= 1
    assert metrics.by_label("ioc_unroutable_total", "reason")["outside_boundaries"] >= 1
    assert metrics.by_label("ioc_corrections_total", "kind")["swapped_lat_lon"] >= 1


def test_a_ward_system_reads_its_topic_with_kafka_python(embedded_stack, data_dir, pipeline_worker) -> None:
    bootstrap = embedded_stack.settings.kafka_bootstrap
    settings = dataclasses.replace(embedded_stack.settings, data_dir=data_dir)
    sim = build_scenario(settings, "danang", "normal", seed=3)
    register_scenario_devices(settings, sim)
    before = scrape([pipeline_worker]).total("ioc_ingested_total")
    produce(settings, sim, rate=1000, count=300)
    wait_for(lambda: scrape([pipeline_worker]).total("ioc_ingested_total") - before >= 300, 90, "the worker to ingest")
    # the busiest ward so far, from the routed ledger topic
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    consumer.assign([TopicPartition(topics.ROUTED, p) for p in consumer.partitions_for_topic(topics.ROUTED)])
    wards: Counter[str] = Counter()
    for m in consumer:
        try:  # other tests share the topic and write malformed messages into it on purpose
            targets = orjson.loads(m.value)["data"]["decision"]["targets"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        wards.update(t.split(":", 1)[1] for t in targets if t.startswith("ward:"))
    consumer.close()
    ward, _count = wards.most_common(1)[0]
    ward_consumer = KafkaConsumer(topics.ward_topic(ward), bootstrap_servers=bootstrap, group_id=f"ward-{ward}",
                                  auto_offset_reset="earliest", consumer_timeout_ms=20_000,
                                  session_timeout_ms=5_000, heartbeat_interval_ms=1_000, max_poll_interval_ms=5_000)
    received = [orjson.loads(m.value) for m in ward_consumer]
    ward_consumer.close()
    received = [e for e in received if e["type"] == "vn.ioc.event.routed"]  # incident notices share the topic
    assert received, f"no routed events on {topics.ward_topic(ward)}"
    for event in received:
        assert event["specversion"] == "1.0"
        location = event["data"]["location"]
        if location["status"] == "ambiguous":  # an old split ward: every candidate ward gets it, none owns it
            assert "iocward" not in event and ward in [c["code"] for c in location["candidates"]]
        else:
            assert event["iocward"] == ward and location["ward"]["code"] == ward
        assert event["iocgeneration"] and event["iocrule"] and event["iocrulesversion"]
