"""streams.delivery: forward_batches' at-least-once guarantee on the embedded broker (a worker
killed before delivery loses nothing) and the batch publisher's partitioning."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
import uuid

import pytest

from streams.delivery import Outgoing, batch_publisher, forward_batches
from streams.faust_ext.consumer import use_fast_delivery_consumer
from streams.faust_ext.worker import Worker

# --- forward_batches on the embedded broker --------------------------------------------------------

WITHHOLD_AFTER_ENV = "IOC_TEST_WITHHOLD_AFTER"


def run_forwarder(run) -> None:  # type: ignore[no-untyped-def]
    """A tuned forwarder; with IOC_TEST_WITHHOLD_AFTER=k, messages after the k-th are never sent
    (as if the broker never acknowledged them), so those input offsets must never be committed."""
    from benchmarks.throughput import _faust_app

    app = _faust_app(run, tuned=True)
    app.conf.broker_commit_interval = 0.2  # commit often, so a premature commit would show
    use_fast_delivery_consumer(app)
    source = app.topic(run.source, key_serializer="raw", value_serializer="raw")
    withhold_after = int(os.environ.get(WITHHOLD_AFTER_ENV, "-1"))
    real_publish = batch_publisher(app)
    sent = 0

    async def publish(messages: list[Outgoing]) -> list[asyncio.Future]:
        nonlocal sent
        allowed = messages if withhold_after < 0 else messages[:max(withhold_after - sent, 0)]
        sent += len(messages)
        futures = await real_publish(allowed) if allowed else []
        if len(allowed) < len(messages):
            futures.append(asyncio.get_running_loop().create_future())  # the rest: never acknowledged
        return futures

    def handle(events):  # type: ignore[no-untyped-def]
        return [Outgoing(run.sink, event.key, event.value) for event in events]

    @app.agent(source)
    async def forward(stream):  # type: ignore[no-untyped-def]
        await forward_batches(stream, handle, publish, max_batch=100, within=0.05)

    Worker(app, loglevel="error", quiet=True).execute_from_commandline()


@pytest.mark.integration
def test_forward_batches_delivers_every_message(kafka_bootstrap: str) -> None:
    from benchmarks._broker import make_messages
    from benchmarks.throughput import in_subprocess, measure

    messages = make_messages(3000)
    result = measure(lambda run: in_subprocess(run_forwarder, run), messages, kafka_bootstrap,
                     name="tuned", timeout_s=90)
    assert (result.delivered, result.lost) == (3000, 0)


@pytest.mark.integration
def test_a_worker_killed_before_delivery_loses_nothing(kafka_bootstrap: str, monkeypatch) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from benchmarks._broker import create_topics, drain, make_messages, produce
    from benchmarks.throughput import Run, in_subprocess

    messages = make_messages(2000, seed=11)
    tag = uuid.uuid4().hex[:8]
    run = Run(kafka_bootstrap, f"t.{tag}.in", f"t.{tag}.out", f"t-{tag}", 4)
    create_topics(kafka_bootstrap, [run.source, run.sink], 4)
    asyncio.run(produce(kafka_bootstrap, run.source, messages))

    # Worker A: only the first 500 sends are ever acknowledged; then it is killed (SIGKILL).
    monkeypatch.setenv(WITHHOLD_AFTER_ENV, "500")
    worker_a = in_subprocess(run_forwarder, run)
    try:
        progress = asyncio.run(drain(kafka_bootstrap, [run.sink], 500, 60, alive=worker_a.alive))
        assert progress.count == 500
        time.sleep(1.5)  # several commit intervals: anything wrongly committable is committed now
        os.kill(worker_a._process.pid, signal.SIGKILL)
    finally:
        worker_a.stop()

    async def committed_and_sources() -> tuple[dict[int, int], dict[int, list[bytes]]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=run.group_id,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(run.source, p) for p in range(4)]
            committed = {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
        finally:
            await consumer.stop()
        reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest")
        await reader.start()
        try:
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            by_partition: dict[int, list[bytes]] = {p: [] for p in range(4)}
            deadline = time.monotonic() + 20
            while sum(map(len, by_partition.values())) < len(messages) and time.monotonic() < deadline:
                for tp, records in (await reader.getmany(timeout_ms=200)).items():
                    by_partition[tp.partition].extend(r.key for r in records)
        finally:
            await reader.stop()
        return committed, by_partition

    committed, source_keys = asyncio.run(committed_and_sources())
    delivered = set(progress.keys)
    assert sum(committed.values()) > 0, "worker A committed nothing: the test would prove nothing"
    for partition, offset in committed.items():
        undelivered = [key for key in source_keys[partition][:offset] if key not in delivered]
        assert undelivered == [], f"partition {partition}: offsets committed before delivery"

    # Worker B (same group, normal sends) picks up from the committed offsets: nothing is lost.
    monkeypatch.delenv(WITHHOLD_AFTER_ENV)
    worker_b = in_subprocess(run_forwarder, run)
    try:
        wanted = {key for key, _ in messages}
        deadline = time.monotonic() + 90
        seen: set[bytes] = set()
        while not wanted <= seen and time.monotonic() < deadline and worker_b.alive():
            seen = set(asyncio.run(drain(kafka_bootstrap, [run.sink], 10**9, 3)).keys)
    finally:
        worker_b.stop()
    assert sorted(wanted - seen) == []


@pytest.mark.integration
def test_batch_publisher_puts_every_key_where_producer_send_would(kafka_bootstrap: str) -> None:
    """One record batch per topic-partition, split when full; keys hash to the partitions the
    producer's own ``send`` picks (murmur2), keyless messages still arrive."""
    import faust
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.partitioner import DefaultPartitioner

    from benchmarks._broker import create_topics
    from streams.embedded.process import free_port

    tag = uuid.uuid4().hex[:8]
    wide, narrow = f"t.{tag}.wide", f"t.{tag}.narrow"
    create_topics(kafka_bootstrap, [wide], 4)
    create_topics(kafka_bootstrap, [narrow], 1)
    app = faust.App(f"t-{tag}", broker=f"kafka://{kafka_bootstrap}", web_port=free_port(), web_bind="127.0.0.1",
                    datadir=tempfile.mkdtemp(prefix="ioc-test-faust-"),
                    producer_max_batch_size=4096)  # small batches: the publisher must split them
    sent = [Outgoing(wide, f"k{i}".encode(), b"v" * (i % 700)) for i in range(600)]
    sent += [Outgoing(narrow, f"n{i}".encode(), f"{i}".encode(), headers=[("h", b"1")]) for i in range(200)]
    sent += [Outgoing(wide, None, b"keyless-%d" % i) for i in range(20)]
    sent += [Outgoing(wide, b"pinned", b"to partition 3", partition=3)]

    async def publish_and_read() -> dict[tuple[str, bytes], tuple[int, bytes, list]]:
        publish = batch_publisher(app)
        try:
            futures = await publish(sent)
            assert len(futures) > 5  # split into several batches per partition of the wide topic
            await asyncio.gather(*futures)
        finally:
            await app.producer.stop()
        reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest")
        await reader.start()
        try:
            tps = [TopicPartition(wide, p) for p in range(4)] + [TopicPartition(narrow, 0)]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            got: dict[tuple[str, bytes], tuple[int, bytes, list]] = {}
            deadline = time.monotonic() + 30
            while len(got) < len(sent) and time.monotonic() < deadline:
                for tp, records in (await reader.getmany(timeout_ms=200)).items():
                    for r in records:
                        got[tp.topic, r.key if r.key is not None else r.value] = (tp.partition, r.value, list(r.headers))
        finally:
            await reader.stop()
        return got

    got = asyncio.run(publish_and_read())
    assert len(got) == len(sent)
    murmur2 = DefaultPartitioner()
    for message in sent:
        partition, value, headers = got[message.topic, message.key if message.key is not None else message.value]
        assert value == message.value
        assert headers == list(message.headers or [])
        if message.partition is not None:
            assert partition == message.partition
        elif message.key is not None and message.topic == wide:
            assert partition == murmur2(message.key, [0, 1, 2, 3], [0, 1, 2, 3])
