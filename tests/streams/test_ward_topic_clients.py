"""Ward topics as ward systems read them (issue 16), on the embedded Tansu broker with a real worker:

* every message on ward, agency and city topics (and unroutable, dead-letter, incidents) carries
  the CloudEvents Kafka binding header and is parsed by the official CloudEvents SDK's Kafka reader;
* the README's consumer example, extracted from README.md and run exactly as printed, handles both
  event types of a ward topic;
* kcat (Debian's, librdkafka 2.0.2) with the documented flags, kcat with the confluent-kafka wheel's
  librdkafka, a confluent-kafka consumer group, and ``ioc tail`` read the ward topic.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from routers import topics
from streams.scrape import scrape
from streams.simulator.run import build_scenario, produce, register_scenario_devices
from tests.streams.cloudevents_check import event_type, parse_record

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[2]
WARD = "27139"  # the ward of the README's examples
NOTICE_TYPES = {"vn.ioc.incident.opened", "vn.ioc.incident.updated"}


def _end_offsets(bootstrap: str, names: list[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or {0})]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def _records_since(bootstrap: str, start: dict[TopicPartition, int], topic: str) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=3000)
    try:
        assigned = [tp for tp in start if tp.topic == topic]
        consumer.assign(assigned)
        for tp in assigned:
            consumer.seek(tp, start[tp])
        return list(consumer)
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def traffic(embedded_stack, data_dir, pipeline_worker) -> dict[str, Any]:
    """Simulated HCMC traffic plus a fire report in ward 27139 (routed to the ward and agency:fire,
    opening an incident); returns the end offsets taken before it was sent."""
    from routers.boundaries.registry import BoundaryRegistry

    bootstrap = embedded_stack.settings.kafka_bootstrap
    watched = [topics.ward_topic(WARD), topics.agency_topic("fire"), topics.CITY_IOC, topics.UNROUTABLE,
               topics.DEADLETTER, topics.INCIDENTS]
    start = _end_offsets(bootstrap, watched)
    settings = dataclasses.replace(embedded_stack.settings, data_dir=data_dir)
    sim = build_scenario(settings, "hcmc", "rainstorm", seed=16)
    register_scenario_devices(settings, sim)
    before = scrape([pipeline_worker]).total("ioc_ingested_total")
    stats = produce(settings, sim, rate=1000, count=400)
    generation = BoundaryRegistry(data_dir).load_active()
    lat, lon = generation.random_point_in(WARD, random.Random(16))
    assert generation.ward_of(lat, lon).code == WARD
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for category in ("fire", "flooding"):
        report = {"id": f"i16-{category}", "channel": "app", "category": category, "description": "test",
                  "location": {"lat": lat, "lon": lon}, "reported_at": "2026-06-01T18:00:00Z"}
        producer.send(topics.REPORTS, key=report["id"].encode(), value=orjson.dumps(report)).get(timeout=10)
    producer.send(topics.REPORTS, value=b"{not json").get(timeout=10)  # a dead letter
    # an unsure camera detection goes to the city IOC only (default rule camera-unsure)
    from streams.devices import DeviceRecord, register_devices

    register_devices(settings.redis_url, [DeviceRecord("i16-cam", "camera", lat, lon)])
    detection = {"camera_id": "i16-cam", "label": "flooding", "confidence": 0.41, "time": "2026-06-01T18:00:00Z"}
    producer.send(topics.CAMERA, key=b"i16-cam", value=orjson.dumps(detection)).get(timeout=10)
    producer.close()
    total = stats.produced + 4
    deadline = time.monotonic() + 120
    while scrape([pipeline_worker]).total("ioc_ingested_total") - before < total:
        assert time.monotonic() < deadline, "the worker did not ingest the traffic"
        time.sleep(0.5)
    # the incident notice follows through ioc.routed and the lifecycle
    deadline = time.monotonic() + 60
    while True:
        ward_types = Counter(orjson.loads(r.value)["type"] for r in _records_since(bootstrap, start, topics.ward_topic(WARD)))
        if ward_types["vn.ioc.event.routed"] and set(ward_types) & NOTICE_TYPES:
            break
        assert time.monotonic() < deadline, f"ward {WARD} got {dict(ward_types)}"
        time.sleep(1)
    return {"bootstrap": bootstrap, "start": start}


def test_every_message_type_parses_with_the_cloudevents_sdk(traffic: dict[str, Any]) -> None:
    seen: dict[str, Counter[str]] = {}
    for topic in sorted({tp.topic for tp in traffic["start"]}):
        records = _records_since(traffic["bootstrap"], traffic["start"], topic)
        seen[topic] = Counter(event_type(parse_record(record)) for record in records)
    ward = seen[topics.ward_topic(WARD)]
    assert ward["vn.ioc.event.routed"] >= 2 and set(ward) & NOTICE_TYPES, ward
    assert seen[topics.agency_topic("fire")]["vn.ioc.event.routed"] >= 1
    assert seen[topics.CITY_IOC]["vn.ioc.event.routed"] >= 1, seen[topics.CITY_IOC]
    assert seen[topics.DEADLETTER]["vn.ioc.event.deadletter"] >= 1
    assert seen[topics.INCIDENTS]["vn.ioc.incident.state"] >= 1
    assert seen[topics.UNROUTABLE].total() == 0 or set(seen[topics.UNROUTABLE]) == {"vn.ioc.event.unroutable"}


def _readme_block(opening: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    [block] = [b for b in blocks if b.startswith(opening)]
    return block


def test_the_readme_consumer_example_runs_as_printed(traffic: dict[str, Any]) -> None:
    block = _readme_block("from kafka import KafkaConsumer")
    program = f"BOOTSTRAP = {traffic['bootstrap']!r}\n" + block
    process = subprocess.Popen([sys.executable, "-u", "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if any(x.startswith("event ") for x in lines) and any(x.startswith("incident ") for x in lines):
                break
    finally:
        process.kill()
        _out, err = process.communicate(timeout=10)
    assert any(x.startswith("event ") for x in lines), (lines[-5:], err[-2000:])
    incident_lines = [x for x in lines if x.startswith("incident ")]
    assert incident_lines and incident_lines[0].split()[2].startswith("inc-"), (lines[-5:], err[-2000:])
    assert "Traceback" not in err, err[-2000:]


def test_a_confluent_kafka_consumer_group_reads_the_ward_topic(traffic: dict[str, Any]) -> None:
    from confluent_kafka import Consumer

    opening = "from confluent_kafka import Consumer"
    namespace: dict[str, Any] = {"BOOTSTRAP": traffic["bootstrap"]}
    exec(_readme_block(opening), namespace)  # the README's configuration, as printed
    consumer: Consumer = namespace["consumer"]
    types: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (types["vn.ioc.event.routed"] and set(types) & NOTICE_TYPES):
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            assert dict(message.headers() or [])["content-type"] == b"application/cloudevents+json"
            types[orjson.loads(message.value())["type"]] += 1
    finally:
        consumer.close()
    assert types["vn.ioc.event.routed"] and set(types) & NOTICE_TYPES, types


needs_kcat = pytest.mark.skipif(shutil.which("kcat") is None,
                                reason="kcat not on PATH (Debian: apt-get install kcat; CI installs it)")


def _kcat(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kcat", *args], capture_output=True, text=True, timeout=60, env=env)


@needs_kcat
def test_kcat_as_installed_fails_without_the_flags_and_reads_with_them(traffic: dict[str, Any]) -> None:
    bootstrap, topic = traffic["bootstrap"], topics.ward_topic(WARD)
    plain = _kcat(["-b", bootstrap, "-L", "-m", "5"])
    version = _kcat(["-V"]).stdout
    if "librdkafka 2.0." in version:  # the version the issue was found with
        assert plain.returncode != 0 and "Read underflow" in plain.stderr
    documented = _kcat(["-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "0", "-e",
                        "-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"])
    assert documented.returncode == 0, documented.stderr[-2000:]
    types = Counter(orjson.loads(line)["type"] for line in documented.stdout.split("\n") if line.strip())
    assert types["vn.ioc.event.routed"] and set(types) & NOTICE_TYPES, types


@needs_kcat
def test_kcat_with_the_newer_librdkafka_reads_headers_too(traffic: dict[str, Any], tmp_path: Path) -> None:
    import confluent_kafka

    [library] = glob.glob(str(Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs" / "librdkafka-*.so.1"))
    (tmp_path / "librdkafka.so.1").symlink_to(library)
    env = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path)}
    result = _kcat(["-b", traffic["bootstrap"], "-C", "-t", topics.ward_topic(WARD), "-o", "beginning", "-e",
                    "-f", "%h\t%s\n"], env)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line.split("\t", 1) for line in result.stdout.split("\n") if "\t" in line]
    assert lines and all(headers == "content-type=application/cloudevents+json" for headers, _ in lines)
    assert {orjson.loads(value)["type"] for _, value in lines} & NOTICE_TYPES


def test_ioc_tail_reads_the_ward_topic(traffic: dict[str, Any]) -> None:
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": traffic["bootstrap"]}
    ioc = [sys.executable, "-m", "cli", "tail", topics.ward_topic(WARD), "--from-beginning"]
    result = subprocess.run([*ioc, "--json", "--idle", "3"], capture_output=True, text=True, timeout=90, env=env,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [orjson.loads(line) for line in result.stdout.split("\n") if line]
    assert rows and all(r["topic"] == topics.ward_topic(WARD) for r in rows)
    assert all(r["headers"]["content-type"] == "application/cloudevents+json" for r in rows)
    assert {r["value"]["type"] for r in rows} & NOTICE_TYPES
    notice = next(r for r in rows if r["value"]["type"] in NOTICE_TYPES)
    assert notice["key"] == WARD  # notices are keyed by the ward code, routed events by the event id
    human = subprocess.run([*ioc, "--count", "2"], capture_output=True, text=True, timeout=90, env=env, cwd=REPO)
    assert human.returncode == 0 and len(human.stdout.splitlines()) == 2, human.stderr[-2000:]
    assert re.match(r"^0/\d+ \S+ vn\.ioc\.", human.stdout.splitlines()[0])
