"""Helpers for the tests that run against a real worker: the simulator, topic offsets, waiting."""

from __future__ import annotations

import contextlib
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from tests.support import end_offsets, intake_committed, stack_env  # noqa: F401  (re-exported for the dashboard tests)


def simulate(env: dict[str, str], count: int, rate: float, seed: int = 7) -> subprocess.Popen[bytes]:
    """``ioc simulate`` as a child process (the caller waits for it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "simulate", "--count", str(count), "--rate", str(rate),
         "--seed", str(seed), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def produced(process: subprocess.Popen[bytes], timeout_s: float = 120) -> int:
    out, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, err.decode()
    return int(orjson.loads(out.strip().splitlines()[-1])["produced"])


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def routed_by_ward(bootstrap: str, topic: str, start: dict[TopicPartition, int]) -> Counter[str]:
    """Routed events on ``topic`` after ``start`` offsets, counted by ``iocward`` ("none" when ambiguous).

    Every message counts, even with an id seen before: the simulator repeats some reports on
    purpose, and the worker counts each routing in ``ioc_routed_total``."""
    stop = end_offsets(bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=3000)
    try:
        consumer.assign(list(stop))
        for tp in stop:
            consumer.seek(tp, start.get(tp, 0))
        seen: Counter[str] = Counter()
        remaining = {tp for tp in stop if stop[tp] > start.get(tp, 0)}
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset >= stop[tp]:
                        continue
                    body = orjson.loads(record.value)
                    seen[body.get("iocward") or "none"] += 1
                if consumer.position(tp) >= stop[tp]:
                    remaining.discard(tp)
        return seen
    finally:
        consumer.close()


def wait_quiet(metrics_url: str, bootstrap: str, topic: str, group: str = "ioc-router", timeout_s: float = 120) -> None:
    """Until the worker has finished earlier traffic (earlier tests share it): its consumer group has
    committed every intake message, and neither its counters nor ``topic`` move for two seconds."""
    from streams.scrape import scrape

    def snapshot() -> tuple[float, int]:
        return scrape([metrics_url]).total("ioc_ingested_total"), sum(end_offsets(bootstrap, topic).values())

    deadline = time.monotonic() + timeout_s
    last = snapshot()
    while time.monotonic() < deadline:
        time.sleep(2.0)
        now = snapshot()
        if now == last and intake_committed(bootstrap, group):
            return
        last = now
    raise AssertionError(f"the worker was still busy after {timeout_s:.0f}s")


def png(width: int = 160, height: int = 90) -> bytes:
    """A small real PNG (a dusk gradient with a bright band): the camera's snapshot."""
    rows = b"".join(b"\x00" + b"".join(bytes((min(255, 40 + x), 30 + y, 200 if 40 < y < 50 else 90)) for x in range(width))
                    for y in range(height))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A plain HTTP server on loopback for ``folder`` (a camera's snapshots); yields its base URL."""
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, directory=str(folder), **k)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
