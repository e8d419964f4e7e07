"""Silences at run time, end to end on a broker and Redis of their own with two real workers: a
silence added with `ioc silence add` during a run holds back matching events on every worker within
2 s, `/api/silences` lists it with author, comment and time left, and it lifts at its end with no
restart; `ioc silence list/expire` read and end silences on the same topic."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks.scaleout import Fleet, prepare_topics
from dashboards.silences import add_silences
from routers import topics
from streams.scrape import scrape
from streams.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = f"e2e-{uuid.uuid4().hex[:8]}"
BEN_THANH = {"lat": 10.7725, "lon": 106.6980}  # a point in Ho Chi Minh City


@pytest.fixture(scope="module")
def silence_stack(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Fleet]]:
    from streams.embedded.stack import EmbeddedStack

    run_dir = tmp_path_factory.mktemp("silence-stack")
    with EmbeddedStack(Settings(data_dir=data_dir, partitions=4), run_dir=run_dir) as stack:
        settings = dataclasses.replace(stack.settings, data_dir=data_dir)
        prepare_topics(settings, "79")
        fleet = Fleet(settings, tmp_path_factory.mktemp("silence-logs"), log_level="info")
        try:
            fleet.start("w0", "w1")
            fleet.wait_balanced(["w0", "w1"], 120)
            yield settings, fleet
        finally:
            fleet.stop_all()


def ioc(settings: Settings, *args: str) -> Any:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "IOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or ""}
    done = subprocess.run([sys.executable, "-m", "cli", *args, "--json"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    return orjson.loads(done.stdout)


def send_reports(settings: Settings, phase: str, count: int = 16) -> set[str]:
    """``count`` noise reports over every intake partition; returns their ids."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    ids = set()
    try:
        for n in range(count):
            report_id = f"{TOKEN}-{phase}-{n}"
            value = {"id": report_id, "channel": "app", "category": "noise", "description": f"loud music {TOKEN} {phase}",
                     "location": BEN_THANH, "reported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            producer.send(topics.REPORTS, key=report_id.encode(), value=orjson.dumps(value), partition=n % 4)
            ids.add(report_id)
        producer.flush()
    finally:
        producer.close()
    return ids


def routed(settings: Settings, ids: set[str], timeout_s: float = 60.0) -> dict[str, dict[str, Any]]:
    """The envelopes on ioc.routed of the reports ``ids`` (waits until all are there)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000)
    found: dict[str, dict[str, Any]] = {}
    try:
        partitions = [TopicPartition(topics.ROUTED, p) for p in sorted(consumer.partitions_for_topic(topics.ROUTED) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout_s
        while ids - set(found) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    envelope = orjson.loads(record.value)
                    event_id = envelope["data"]["event"]["id"]
                    if event_id in ids:
                        found[event_id] = envelope
    finally:
        consumer.close()
    assert set(found) == ids, f"missing on {topics.ROUTED}: {sorted(ids - set(found))[:5]}"
    return found


def api_silences(settings: Settings) -> dict[str, Any]:
    async def ask() -> dict[str, Any]:
        app = web.Application()
        add_silences(app, settings.kafka_bootstrap)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/api/silences")
            assert response.status == 200
            return await response.json()

    return asyncio.run(ask())


def test_a_silence_added_during_a_run_holds_back_on_every_worker_and_lifts_at_its_end(silence_stack) -> None:
    settings, fleet = silence_stack
    before = routed(settings, send_reports(settings, "before"))
    assert all("iocsuppressed" not in e for e in before.values())

    added = ioc(settings, "silence", "add", "--match", "category=noise", "--match", f"description=~.*{TOKEN}.*",
                "--for", "25s", "--author", "an.nguyen", "--comment", "karaoke permit tonight")
    silence_id = added["id"]
    applied_at = time.monotonic()
    time.sleep(2.0)  # the promise: applied by every worker within 2 s
    during_ids = send_reports(settings, "during")
    during = routed(settings, during_ids)
    assert time.monotonic() - applied_at < added["remaining_s"], "the silence ended before the check; slow machine"
    for envelope in during.values():
        assert envelope["iocsuppressed"] == f"silenced:{silence_id}"
        assert any(line.startswith(f"silenced by {silence_id}") for line in envelope["data"]["decision"]["trace"])
        # held back = still delivered to its ward, marked, opening no incident
        assert any(t.startswith("ward:") for t in envelope["data"]["decision"]["targets"])
    for name in ("w0", "w1"):  # each worker held back the events of its own partitions
        assert scrape([fleet.url(name)]).total("ioc_silenced_total") > 0, name

    shown = api_silences(settings)
    (listed,) = [s for s in shown["silences"] if s["id"] == silence_id]
    assert listed["created_by"] == "an.nguyen" and listed["comment"] == "karaoke permit tonight"
    assert listed["state"] == "active" and 0 < listed["remaining_s"] <= 25
    assert ioc(settings, "silence", "list")["silences"][0]["id"] == silence_id

    time.sleep(max(0.0, added["ends_at"] - time.time()) + 0.5)  # expires by itself: no record, no restart
    after = routed(settings, send_reports(settings, "after"))
    assert all("iocsuppressed" not in e for e in after.values())
    assert api_silences(settings)["silences"] == []
    assert ioc(settings, "silence", "list", "--all")["silences"][0]["state"] == "expired"


def test_expire_ends_a_silence_early(silence_stack) -> None:
    settings, _ = silence_stack
    added = ioc(settings, "silence", "add", "--match", "device=cam-q1-017", "--for", "2h", "--author", "ops",
                "--comment", "camera under repair")
    ended = ioc(settings, "silence", "expire", added["id"])
    assert ended["state"] == "expired" and ended["ends_at"] <= time.time()
    listed = {s["id"]: s for s in ioc(settings, "silence", "list", "--all")["silences"]}
    assert listed[added["id"]]["state"] == "expired"
    assert added["id"] not in {s["id"] for s in ioc(settings, "silence", "list")["silences"]}
