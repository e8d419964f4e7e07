"""Decree 13/2023: a planted phone number and reporter name travel only to the owning ward.

A real worker (log level info) and a real dashboard run on the session broker and Redis. One
valid report and one invalid report carry a unique phone and name. Then every place the data
could leak is searched: every topic on the broker (read from the beginning), the dead-letter
envelopes, every Redis key, the worker's log, its /metrics, and the dashboard's API answers
including the live feed as a viewer without access sees it.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from routers.boundaries.registry import BoundaryRegistry
from streams import topics
from streams.embedded.process import ManagedProcess, free_port
from tests.support import stack_env

pytestmark = pytest.mark.integration

RNG = random.Random()
PHONE = f"09{RNG.randrange(10**8):08d}"
NAME = f"Trần Thị Kiểm Tra {RNG.randrange(10**6):06d}"


def _forms(text: str) -> list[bytes]:
    """The ways a string can appear in bytes: UTF-8 and JSON with escaped non-ASCII."""
    return [text.encode(), json.dumps(text)[1:-1].encode()]


NEEDLES = {"phone": _forms(PHONE), "name": _forms(NAME)}


def _found(blob: bytes) -> list[str]:
    return [what for what, forms in NEEDLES.items() if any(form in blob for form in forms)]


@pytest.fixture(scope="module")
def privacy_run(embedded_stack, data_dir: Path, topics_ready, tmp_path_factory: pytest.TempPathFactory):
    """A worker with its own consumer group and an info-level log, plus a dashboard; both stopped after."""
    logs = tmp_path_factory.mktemp("privacy")
    worker_port = free_port()
    worker = ManagedProcess(
        "privacy-worker", [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(worker_port)], worker_port,
        logs / "worker.log", ready_timeout_s=120,
        env=stack_env(embedded_stack, data_dir, IOC_APP_ID=f"ioc-privacy-{RNG.randrange(10**6)}", IOC_LOG_LEVEL="info"),
    )
    dashboard_port = free_port()
    try:
        dashboard = ManagedProcess(
            "privacy-dashboard",
            [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(dashboard_port), "--city", "hcmc"],
            dashboard_port, logs / "dashboard.log", ready_timeout_s=60,
            env=stack_env(embedded_stack, data_dir, IOC_WORKER_METRICS_URLS=f"http://127.0.0.1:{worker_port}/metrics"),
        )
    except Exception:
        worker.stop()
        raise
    try:
        yield {"worker": worker, "worker_port": worker_port, "dashboard": dashboard, "dashboard_port": dashboard_port}
    finally:
        dashboard.stop(timeout_s=10)
        worker.stop(timeout_s=20)


class FeedRecorder:
    """The dashboard's live feed (server-sent events) as an anonymous viewer sees it, recorded in the
    background from ``start()`` until ``stop()``: the raw HTTP bytes (chunk framing included; the
    searches only look for substrings). Watching from before the report is sent means the test does
    not depend on the report still being in the hub's short backlog when a screen connects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.chunks: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._record, name="feed-recorder", daemon=True)

    def _record(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /api/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            sock.settimeout(0.5)
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                self.chunks.append(chunk)

    def start(self) -> FeedRecorder:
        self._thread.start()
        return self

    def seen(self) -> bytes:
        return b"".join(self.chunks)

    def wait_for(self, needle: bytes, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while needle not in self.seen() and time.monotonic() < deadline:
            time.sleep(0.2)
        return needle in self.seen()

    def stop(self) -> bytes:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.seen()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _all_topics(bootstrap: str) -> dict[str, list[bytes]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-privacy-admin")
    names = sorted(admin.list_topics())
    admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=4000, client_id="ioc-privacy-reader",
                             max_partition_fetch_bytes=4 * 1024 * 1024)
    try:
        consumer.assign([TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())])
        consumer.seek_to_beginning()
        out: dict[str, list[bytes]] = {n: [] for n in names}
        for message in consumer:
            out[message.topic].append((message.key or b"") + b"\x00" + (message.value or b""))
        return out
    finally:
        consumer.close()


def _redis_values(url: str) -> bytes:
    client = redis.Redis.from_url(url)
    try:
        parts: list[bytes] = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"string":
                parts.append(client.get(key) or b"")
            elif kind == b"hash":
                parts.extend(k + b"=" + v for k, v in client.hgetall(key).items())
            elif kind == b"zset":
                parts.extend(m for m, _s in client.zrange(key, 0, -1, withscores=True))
            elif kind == b"set":
                parts.extend(client.smembers(key))
            elif kind == b"list":
                parts.extend(client.lrange(key, 0, -1))
            parts.append(key)
        return b"\n".join(parts)
    finally:
        client.close()


def test_a_planted_phone_and_name_reach_only_the_owning_ward(embedded_stack, data_dir: Path, privacy_run) -> None:
    bootstrap = embedded_stack.settings.kafka_bootstrap
    generation = BoundaryRegistry(data_dir).load_active()
    ward = generation.wards_in_province("79")[3]
    lat, lon = generation.random_point_in(ward.code, random.Random(5))
    report_id = f"privacy-{RNG.randrange(10**9)}"
    good = {"id": report_id, "channel": "hotline", "category": "flooding", "description": "Nước ngập sâu 50cm",
            "location": {"lat": lat, "lon": lon}, "reported_at": "2026-06-01T18:00:00+07:00",
            "reporter": {"name": NAME, "phone": PHONE}}
    bad = {**good, "id": f"{report_id}-bad", "category": "ufo_sighting"}  # rejected: goes to dead-letter
    feed = FeedRecorder(privacy_run["dashboard_port"]).start()
    assert feed.wait_for(b"event: status", 10.0), "the dashboard feed did not answer"

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(topics.REPORTS, key=report_id.encode(), value=orjson.dumps(good)).get(timeout=10)
    producer.send(topics.REPORTS, key=report_id.encode(), value=orjson.dumps(bad)).get(timeout=10)
    producer.close()

    owner_topic = topics.ward_topic(ward.code)
    deadline = time.monotonic() + 120
    seen: dict[str, list[bytes]] = {}
    while time.monotonic() < deadline:
        seen = _all_topics(bootstrap)
        routed_here = any(report_id.encode() in m for m in seen.get(owner_topic, []))
        dead = any(f"{report_id}-bad".encode() in base64.b64decode(orjson.loads(m.split(b"\x00", 1)[1])["data"].get(
            "original_base64", "")) for m in seen.get(topics.DEADLETTER, []) if b"original_base64" in m)
        if routed_here and dead:
            break
        time.sleep(2)
    else:
        pytest.fail(f"the planted reports did not reach {owner_topic} and {topics.DEADLETTER} in time")
    time.sleep(5)  # let the lifecycle publish its incident notices and the serving index
    seen = _all_topics(bootstrap)

    # 1. topics: the owning ward's topic carries it; the intake topic is where it came from
    allowed = {owner_topic, topics.REPORTS}
    leaks = {name: _found(b"\n".join(messages)) for name, messages in seen.items() if name not in allowed}
    assert owner_topic in seen and _found(b"\n".join(seen[owner_topic])) == ["phone", "name"]
    reached = [name for name, messages in seen.items() if any(report_id.encode() in m for m in messages)]
    assert any(name.startswith("ioc.agency.") or name == topics.CITY_IOC for name in reached), \
        f"the test needs a non-owner target to prove anything; the report reached only {reached}"
    # dead-letter: the preview is masked; the original bytes are kept for replay, base64-encoded (documented)
    dead_letters = [orjson.loads(m.split(b"\x00", 1)[1]) for m in seen[topics.DEADLETTER]]
    mine = [d for d in dead_letters if f"{report_id}-bad" in d["data"].get("preview", "")]
    assert mine, "the rejected report's dead-letter was not found by its (unmasked) id"
    for body in mine:
        visible = orjson.dumps({**body, "data": {**body["data"], "original_base64": ""}})
        assert _found(visible) == [], f"personal data in a dead-letter outside original_base64: {body}"
        assert _found(base64.b64decode(body["data"]["original_base64"])) == ["phone", "name"]
    leaks[topics.DEADLETTER] = []  # checked above, field by field
    assert {name: found for name, found in leaks.items() if found} == {}

    # 2. Redis: device registry, rule state, the serving index of incidents
    assert _found(_redis_values(embedded_stack.settings.redis_url)) == []

    # 3. the worker's log (info level) and /metrics
    log_text = privacy_run["worker"].log_path.read_bytes()
    assert _found(log_text) == []
    assert _found(_get(f"http://127.0.0.1:{privacy_run['worker_port']}/metrics")) == []

    # 4. the dashboard: every JSON endpoint, and the live feed as seen by a viewer without access
    port = privacy_run["dashboard_port"]
    for path in ("/api/overview", "/api/map", "/api/labels", "/api/incidents", "/metrics"):
        assert _found(_get(f"http://127.0.0.1:{port}{path}")) == [], path
    assert feed.wait_for(report_id.encode(), 10.0), "the planted report is not in the dashboard feed (nothing was checked)"
    assert _found(feed.stop()) == []
    assert _found(privacy_run["dashboard"].log_path.read_bytes()) == []
