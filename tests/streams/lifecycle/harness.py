"""Test harness: a lifecycle worker as a child process, a controlled clock, and plain Kafka clients."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.admin import create_topics
from streams.embedded.process import free_port
from streams.lifecycle.clock import advance
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[3]
WORKER_MAIN = Path(__file__).with_name("worker_main.py")


def ensure_topics(bootstrap: str, wards: list[str]) -> None:
    create_topics(Settings(kafka_bootstrap=bootstrap, partitions=4), wards)


class Worker:
    """``Worker(...).start()``; ``kill()`` is SIGKILL (no clean shutdown), ``stop()`` is SIGTERM."""

    def __init__(self, bootstrap: str, redis_url: str, app_id: str, run_dir: Path, clock_file: Path) -> None:
        self.port = free_port()
        run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = run_dir / f"{app_id}-{self.port}.log"
        self.env = dict(
            os.environ, IOC_KAFKA_BOOTSTRAP=bootstrap, IOC_REDIS_URL=redis_url, IOC_PARTITIONS="4",
            IOC_APP_ID=app_id, IOC_WORKER_WEB_PORT=str(self.port), IOC_DATA_DIR=str(run_dir / "data"),
            IOC_CLOCK_OFFSET_FILE=str(clock_file), IOC_LOG_LEVEL="info", PYTHONPATH=str(REPO),
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 150.0) -> Worker:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen([sys.executable, str(WORKER_MAIN)], cwd=REPO, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            self._wait_until_ready(timeout_s)
        except BaseException:
            self.kill()  # never leave a half-started worker behind
            raise
        return self

    def _wait_until_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited ({self.process.returncode}); see {self.log_path}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                if urllib.request.urlopen(f"{self.url}/healthz", timeout=1).status == 200:
                    break
            time.sleep(0.3)
        else:
            raise TimeoutError(f"worker not healthy after {timeout_s}s; see {self.log_path}")
        self._wait_until_assigned(deadline)

    def _wait_until_assigned(self, deadline: float) -> None:
        """Send probe events (ward 99999) until one is evidence of an incident: the partitions are assigned."""
        from tests.routers.incidents.factories import PROBE, envelope

        prod = producer(self.env["IOC_KAFKA_BOOTSTRAP"])
        try:
            attempt = 0
            while time.monotonic() < deadline:
                attempt += 1
                event_id = f"probe-{self.env['IOC_APP_ID']}-{self.port}-{attempt}"
                send(prod, "ioc.routed", PROBE.code, envelope(event_id, ward=PROBE))
                until = time.monotonic() + 10
                while time.monotonic() < until:
                    # a probe may open an incident or join an earlier probe's: look for it as evidence
                    status, body = self.get(f"/api/incidents?ward={PROBE.code}&limit=1000")
                    if status == 200 and any(e["event_id"] == event_id for i in body["incidents"] for e in i["evidence"]):
                        return
                    time.sleep(0.2)
        finally:
            prod.close()
        raise TimeoutError(f"worker processed no probe event; see {self.log_path}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, orjson.loads(error.read())

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class Clock:
    """The worker's clock: wall time + the offset in ``path`` (see streams.lifecycle.clock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("0\n")

    def advance(self, seconds: float) -> None:
        advance(self.path, seconds)

    def offset(self) -> float:
        return float(self.path.read_text())


class Reader:
    """Reads a topic from the beginning without a consumer group, keeping what it saw.

    ``dedupe`` drops a CloudEvent whose ``id`` was already seen, as the contract tells consumers to
    (a redelivered input publishes the very same message again). Tests that count redeliveries pass
    ``dedupe=False``.
    """

    def __init__(self, bootstrap: str, topic: str, dedupe: bool = True) -> None:
        self.dedupe = dedupe
        self.ids: set[str] = set()
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                      max_poll_interval_ms=10000)
        partitions = self.consumer.partitions_for_topic(topic) or {0}
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        self.consumer.seek_to_beginning(*assigned)
        self.seen: list[tuple[bytes | None, dict[str, Any] | bytes]] = []

    def poll(self, seconds: float = 0.5) -> None:
        batches = self.consumer.poll(timeout_ms=int(seconds * 1000))
        for records in batches.values():
            for record in records:
                try:
                    value: Any = orjson.loads(record.value)
                except orjson.JSONDecodeError:
                    value = record.value
                if self.dedupe and isinstance(value, dict) and isinstance(value.get("id"), str):
                    if value["id"] in self.ids:
                        continue
                    self.ids.add(value["id"])
                self.seen.append((record.key, value))

    def wait_for(self, predicate: Callable[[list[tuple[bytes | None, Any]]], bool], timeout_s: float = 30.0) -> list:
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            if predicate(self.seen):
                return self.seen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; saw {len(self.seen)} messages: {self.seen[-3:]!r}")

    def close(self) -> None:
        self.consumer.close()


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all")


def send(prod: KafkaProducer, topic: str, key: str | None, value: Any) -> None:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    prod.send(topic, key=None if key is None else key.encode(), value=raw)
    prod.flush()


def latest_states(seen: list, ward: str) -> dict[str, dict[str, Any]]:
    """ioc.incidents as a compacted view: incident id -> latest state (highest version), one ward."""
    states: dict[str, dict[str, Any]] = {}
    for _key, value in seen:
        data = value["data"]
        if data["ward"] != ward:
            continue
        if data["id"] not in states or data["version"] >= states[data["id"]]["version"]:
            states[data["id"]] = data
    return states
