"""Helpers shared by tests that run real worker processes against the session's embedded stack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def embedded_stack_in(run_dir: Path, partitions: int = 4) -> Any:
    """A real embedded broker (Tansu) and Redis (Valkey) on free loopback ports, not started yet:
    use it as a context manager (``with embedded_stack_in(dir) as stack``), which stops both."""
    from streams.embedded.stack import EmbeddedStack
    from streams.settings import Settings

    return EmbeddedStack(Settings(data_dir=run_dir / "data", partitions=partitions), run_dir=run_dir)


def intake_committed(bootstrap: str, group: str) -> bool:
    """``group`` has committed the end of every intake partition (read without joining the group)."""
    from kafka import KafkaConsumer

    from routers import topics

    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return all(not end or (reader.committed(tp) or 0) >= end
                   for intake in topics.INTAKE for tp, end in end_offsets(bootstrap, intake).items())
    finally:
        reader.close()


def stack_env(embedded_stack: Any, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an `ioc` child process pointed at the session broker, Redis and data dir."""
    env = dict(os.environ)
    env.update({
        "IOC_KAFKA_BOOTSTRAP": embedded_stack.settings.kafka_bootstrap,
        "IOC_REDIS_URL": embedded_stack.settings.redis_url,
        "IOC_DATA_DIR": str(data_dir),
        "IOC_PARTITIONS": "4",
    })
    env.update(extra)
    return env


def end_offsets(bootstrap: str, topic: str) -> dict[Any, int]:
    """Each partition's end (the next offset to be written), as a fetch reports it.

    Tansu 0.6 answers ListOffsets(latest) with the base offset of the last record batch + 1, short
    of the end when that batch held several records, so ``KafkaConsumer.end_offsets`` is not used:
    one fetch from just before that answer returns the true high watermark."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             fetch_max_wait_ms=100, max_partition_fetch_bytes=1024)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        listed = consumer.end_offsets(partitions)
        ends: dict[Any, int] = {tp: 0 for tp in partitions if not listed[tp]}  # no batch yet: empty
        partitions = [tp for tp in partitions if listed[tp]]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, listed[tp] - 1)  # the last batch's first record: a fetch returns it
        for _ in range(50):
            consumer.poll(timeout_ms=200, max_records=1)
            for tp in partitions:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    ends[tp] = max(highwater, listed[tp])
            if set(partitions) <= set(ends):
                return ends
        raise AssertionError(f"no high watermark from a fetch of {topic} for {set(partitions) - set(ends)}")
    finally:
        consumer.close()


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every half second; fail naming ``what`` after ``timeout_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
