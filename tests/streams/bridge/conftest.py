"""A real Mosquitto (Debian's package; `.ci/run` installs it), a broker and Redis of their own (no
other test's traffic in the outcome topics), a worker with an operator's Frigate mapping, and
helpers to run `ioc bridge mqtt` as a process and read every output back."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from streams.devices import DeviceRecord, register_devices
from streams.embedded.mqtt import mosquitto_binary, start_mqtt, url_of
from streams.embedded.process import ManagedProcess, free_port
from streams.scrape import scrape
from streams.settings import Settings
from tests.support import wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "frigate"
FRIGATE_URL = "http://frigate-q1.local:5000"
# The cameras of the held-out payloads, placed in Ho Chi Minh City
CAMERAS = {"front_door": (10.7769, 106.7009), "front_cam": (10.7626, 106.6822), "driveway": (10.8015, 106.7146),
           "cam-testdrive": (10.7546, 106.6640), **{f"cam-load-{n}": (10.77 + n * 0.002, 106.69) for n in range(5)}}
# An operator's mapping for the zones these cameras have: what a city integrator writes
OPS_MAPPING = """\
version: 1
rules:
  - {id: fire-smoke, labels: [fire, smoke], false_positives: true, to: fire_smoke}
  - {id: yard-person, labels: [person], zones: [yard], to: crowd}
  - {id: front-yard-alert, zones: [front_yard], severity: [alert], to: crowd}
  - {id: driveway-alert, zones: [driveway_approach], severity: [alert], to: illegal_parking}
"""
OUTCOMES = ("ioc.routed", "ioc.unroutable", "ioc.deadletter", "ioc.filtered")


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (Debian package mosquitto; .ci/run installs it)")
    broker = start_mqtt(tmp_path_factory.mktemp("mosquitto"))
    yield url_of(broker)
    broker.stop()


@pytest.fixture(scope="module")
def bridge_settings(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from benchmarks.scaleout import prepare_topics
    from streams.embedded.stack import EmbeddedStack

    run_dir = tmp_path_factory.mktemp("bridge-stack")
    mapping = run_dir / "frigate-mapping.yaml"
    mapping.write_text(OPS_MAPPING, encoding="utf-8")
    with EmbeddedStack(Settings(data_dir=data_dir, partitions=2), run_dir=run_dir) as stack:
        settings = dataclasses.replace(stack.settings, data_dir=data_dir, frigate_mapping_file=mapping)
        prepare_topics(settings, "79")
        assert settings.redis_url
        register_devices(settings.redis_url, [DeviceRecord(name, "camera", lat, lon, "Frigate", FRIGATE_URL)
                                              for name, (lat, lon) in CAMERAS.items()])
        register_devices(settings.redis_url, [DeviceRecord("wl-mqtt-1", "water_level", 10.7626, 106.6822, "MQTT gauge")])
        yield settings


def env_of(settings: Settings) -> dict[str, str]:
    """An `ioc` child process's environment: this module's broker, Redis, data and mapping."""
    env = dict(os.environ)
    env.update({"IOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "IOC_REDIS_URL": settings.redis_url or "",
                "IOC_DATA_DIR": str(settings.data_dir), "IOC_PARTITIONS": str(settings.partitions),
                "IOC_FRIGATE_MAPPING_FILE": str(settings.frigate_mapping_file)})
    return env


@pytest.fixture(scope="module")
def bridge_worker(bridge_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    worker = ManagedProcess("worker", [sys.executable, "-m", "cli", "worker", "--web-port", str(port)], port,
                            tmp_path_factory.mktemp("bridge-worker") / "worker.log", ready_timeout_s=120,
                            env=env_of(bridge_settings))
    yield f"http://127.0.0.1:{port}/metrics"
    worker.stop(timeout_s=20)


def start_bridge(settings: Settings, broker: str, log_dir: Path, client_id: str = "ioc-bridge-test") -> tuple[ManagedProcess, str]:
    """`ioc bridge mqtt` as a process; returns it and its /metrics URL."""
    port = free_port()
    argv = [sys.executable, "-m", "cli", "bridge", "mqtt", "--broker", broker, "--client-id", client_id,
            "--web-port", str(port)]
    process = ManagedProcess("bridge", argv, port, log_dir / f"bridge-{port}.log", ready_timeout_s=60,
                             env=env_of(settings))
    url = f"http://127.0.0.1:{port}/metrics"
    # a new session only gets what is published after it subscribed
    wait_for(lambda: scrape([url]).total("ioc_bridge_connected") == 1, 30, "the bridge to subscribe")
    return process, url


def publisher(broker: str, client_id: str) -> mqtt.Client:
    from streams.bridge.mqtt import parse_broker

    host, port = parse_broker(broker)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    return client


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:32]


def read_all(settings: Settings, names: list[str] | None = None, pattern: str | None = None,
             idle_s: float = 3.0) -> list[tuple[str, bytes]]:
    """Every message of ``names`` (or of the topics matching ``pattern``), from the beginning."""
    import re

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=int(idle_s * 1000), auto_offset_reset="earliest")
    try:
        wanted = names or sorted(t for t in consumer.topics() if pattern and re.fullmatch(pattern, t))
        partitions = [TopicPartition(t, p) for t in wanted for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        return [(m.topic, m.value) for m in consumer]
    finally:
        consumer.close()


def places_by_payload(settings: Settings) -> dict[str, list[tuple[str, dict[str, object]]]]:
    """payload hash -> the outcome messages it became, found from outside: the bridge's own records
    name the payload (``mqtt:<topic>#<sha256>``); forwarded payloads are found by hashing what
    the intake topics hold and following the pipeline's ``iocorigin`` (topic/partition/offset)."""
    from kafka import KafkaConsumer, TopicPartition

    by_origin: dict[str, str] = {}
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=3000)
    try:
        partitions = [TopicPartition(t, p) for t in ("ioc.in.camera", "ioc.in.sensors")
                      for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        for m in consumer:
            by_origin[f"{m.topic}/{m.partition}/{m.offset}"] = digest(m.value)
    finally:
        consumer.close()
    places: dict[str, list[tuple[str, dict[str, object]]]] = defaultdict(list)
    for topic, value in read_all(settings, list(OUTCOMES)):
        body = orjson.loads(value)
        origin = body.get("iocorigin", "")
        key = origin.rsplit("#", 1)[1] if origin.startswith("mqtt:") else by_origin.get(origin)
        if key is not None:
            places[key].append((topic, body))
    return places

