"""streams.faust_tuning: eager delivery, the spinner-free Worker, settings, and forward_batches'
at-least-once guarantee on the embedded broker (a worker killed before delivery loses nothing)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tempfile
import time
import uuid

import faust
import pytest
from faust.sensors.monitor import Monitor
from faust.types import TP, Message

from streams import faust_tuning
from streams.faust_tuning import FastDeliveryConsumer, LeanMonitor, Outgoing, step_eagerly
from streams.settings import Settings

# --- step_eagerly ----------------------------------------------------------------------------------


async def _no_suspension(value: int) -> int:
    return value * 2


def test_step_eagerly_finishes_a_coroutine_that_never_suspends_without_a_loop() -> None:
    # No event loop is running here: proof that no Task was needed.
    assert step_eagerly(_no_suspension(21)) == (True, 42)


def test_step_eagerly_propagates_an_error_raised_before_suspension() -> None:
    async def broken() -> None:
        raise ValueError("bad message")

    with pytest.raises(ValueError, match="bad message"):
        step_eagerly(broken())


def test_the_rest_of_a_suspended_coroutine_returns_its_result() -> None:
    async def scenario() -> tuple[bool, int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def waits() -> int:
            await asyncio.sleep(0)  # a bare yield first
            return await future + 1

        finished, rest = step_eagerly(waits())
        assert not finished
        asyncio.get_running_loop().call_later(0.01, future.set_result, 41)
        return finished, await rest

    assert asyncio.run(scenario()) == (False, 42)


def test_the_rest_of_a_suspended_coroutine_raises_the_awaited_error() -> None:
    async def scenario() -> None:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def waits() -> int:
            return await future

        _, rest = step_eagerly(waits())
        future.set_exception(KeyError("gone"))
        await rest

    with pytest.raises(KeyError, match="gone"):
        asyncio.run(scenario())


def test_cancelling_the_rest_cancels_the_coroutine_and_what_it_awaited() -> None:
    cleaned_up: list[str] = []

    async def scenario() -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def waits() -> int:
            try:
                return await future
            finally:
                cleaned_up.append("finally ran")

        _, rest = step_eagerly(waits())
        task = asyncio.ensure_future(rest)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return future

    future = asyncio.run(scenario())
    assert cleaned_up == ["finally ran"]
    assert future.cancelled()


# --- FastDeliveryConsumer.wait_first, install ------------------------------------------------------


def _app(**options: object) -> faust.App:
    return faust.App(f"t-{uuid.uuid4().hex[:6]}", broker="kafka://127.0.0.1:1", **options)


def test_wait_first_fast_path_returns_the_callback_result_and_closes_the_other_waiter() -> None:
    async def scenario() -> None:
        app = _app()
        faust_tuning.install(app)
        consumer = app.consumer
        assert isinstance(consumer, FastDeliveryConsumer)
        suspend_wait = consumer.suspend_flow.wait()
        tasks_before = len(asyncio.all_tasks())
        result = await consumer.wait_first(_no_suspension(5), suspend_wait)
        assert (result.done, result.results, result.stopped) == ([result.done[0]], [10], False)
        assert len(asyncio.all_tasks()) == tasks_before
        assert suspend_wait.cr_frame is None  # closed, so no "coroutine was never awaited" warning

    asyncio.run(scenario())


def test_wait_first_slow_path_lets_a_flow_suspension_win_over_a_blocked_callback() -> None:
    # The reason Faust races the callback against suspend_flow: during a rebalance a callback
    # blocked on a full stream buffer must be abandoned, or the fetcher deadlocks.
    async def scenario() -> list[str]:
        app = _app()
        faust_tuning.install(app)
        consumer = app.consumer
        events: list[str] = []
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def blocked_callback() -> None:
            try:
                await never
            finally:
                events.append("callback abandoned")

        asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
        result = await asyncio.wait_for(consumer.wait_first(blocked_callback(), consumer.suspend_flow.wait()), 2)
        events.append(f"winner is suspend_flow: {result.results == [True]}")
        return events

    assert asyncio.run(scenario()) == ["callback abandoned", "winner is suspend_flow: True"]


@pytest.mark.integration
def test_the_consumer_fetches_with_short_waits(kafka_bootstrap: str) -> None:
    """Faust's 1.5 s fetch wait and 1 s getmany wait stalled a busy partition behind quiet ones;
    the aiokafka consumer Faust builds must carry our wait into the Fetcher it starts."""

    async def scenario() -> None:
        app = faust.App(f"t-{uuid.uuid4().hex[:6]}", broker=f"kafka://{kafka_bootstrap}")
        faust_tuning.install(app)
        thread = app.consumer._thread
        assert isinstance(thread, faust_tuning.ResponsiveConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        await consumer.start()
        try:
            assert consumer._fetcher._fetch_max_wait_ms == faust_tuning.FETCH_MAX_WAIT_MS == 100
        finally:
            await consumer.stop()

    asyncio.run(scenario())


def test_install_refuses_an_app_whose_consumer_already_exists() -> None:
    app = _app()
    app.consumer  # noqa: B018 - creating it is the point
    with pytest.raises(RuntimeError, match="before the app's consumer is created"):
        faust_tuning.install(app)


# --- settings, Monitor, Worker ---------------------------------------------------------------------


def test_app_settings_are_accepted_by_faust_and_select_the_lean_monitor() -> None:
    app = _app(**faust_tuning.app_settings(Settings()))
    assert app.conf.broker_session_timeout == 10.0
    assert app.conf.producer_max_batch_size == 256 * 1024
    assert app.conf.producer_linger == 0.005
    assert app.conf.stream_buffer_maxsize == 16_384
    assert isinstance(app.monitor, LeanMonitor)


def test_app_settings_also_work_through_config_from_object() -> None:
    # streams.app.configure() applies settings this way, after the module-level App exists.
    app = faust.App(f"t-{uuid.uuid4().hex[:6]}", autodiscover=False)
    app.config_from_object({"broker": "kafka://127.0.0.1:1", **faust_tuning.app_settings(Settings())})
    faust_tuning.install(app)
    assert isinstance(app.monitor, LeanMonitor)
    assert isinstance(app.consumer, FastDeliveryConsumer)


@pytest.mark.parametrize(("monitor_class", "counted"), [(Monitor, 3), (LeanMonitor, 0)])
def test_lean_monitor_does_no_per_event_bookkeeping(monitor_class: type[Monitor], counted: int) -> None:
    monitor = monitor_class()
    for offset in range(3):
        message = Message("t", 0, offset, time.time(), 0, None, b"k", b"v", None, tp=TP("t", 0))
        monitor.on_message_in(TP("t", 0), offset, message)
        monitor.on_send_initiated(None, "t", None, 10, 700)
    assert (monitor.messages_received_total, monitor.messages_sent) == (counted, counted)


def test_lean_monitor_keeps_what_faust_stall_detection_reads() -> None:
    monitor = LeanMonitor()
    monitor.on_stream_event_in(TP("t", 1), 7, None, None)
    assert TP("t", 1) in monitor.stream_inbound_time


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


@pytest.mark.parametrize(
    ("worker_class", "debug_records_built"),
    [(faust.Worker, True), (faust_tuning.Worker, False)],
    ids=["faust.Worker sets the root logger to DEBUG", "faust_tuning.Worker keeps WARN"],
)
def test_worker_logging_level(worker_class: type[faust.Worker], debug_records_built: bool, restore_logging) -> None:
    worker = worker_class(_app(), loglevel="warn", quiet=True)
    worker._setup_logging()
    assert logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG) is debug_records_built


# --- forward_batches on the embedded broker --------------------------------------------------------

WITHHOLD_AFTER_ENV = "IOC_TEST_WITHHOLD_AFTER"


def run_forwarder(run) -> None:  # type: ignore[no-untyped-def]
    """A tuned forwarder; with IOC_TEST_WITHHOLD_AFTER=k, messages after the k-th are never sent
    (as if the broker never acknowledged them), so those input offsets must never be committed."""
    from benchmarks.throughput import _faust_app

    app = _faust_app(run, tuned=True)
    app.conf.broker_commit_interval = 0.2  # commit often, so a premature commit would show
    faust_tuning.install(app)
    source = app.topic(run.source, key_serializer="raw", value_serializer="raw")
    withhold_after = int(os.environ.get(WITHHOLD_AFTER_ENV, "-1"))
    real_publish = faust_tuning.batch_publisher(app)
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
        await faust_tuning.forward_batches(stream, handle, publish, max_batch=100, within=0.05)

    faust_tuning.Worker(app, loglevel="error", quiet=True).execute_from_commandline()


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
        publish = faust_tuning.batch_publisher(app)
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


@pytest.mark.integration
def test_partition_ends_for_table_recovery_count_every_record_of_the_last_batch(kafka_bootstrap: str) -> None:
    """Faust restores a table from its changelog up to the partition ends the consumer thread
    reports: they must be the true ends, also when the last record batch holds several records
    (the embedded broker's ListOffsets answers short of the end there)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from benchmarks._broker import create_topics
    from tests.support import end_offsets

    tag = uuid.uuid4().hex[:8]
    topic, empty = f"t.{tag}.changelog", f"t.{tag}.empty"
    create_topics(kafka_bootstrap, [topic, empty], 2)

    async def ends() -> tuple[dict, dict]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=200)
        await producer.start()
        try:
            # 1 record, then 6 in one batch on partition 0; 3 in one batch on partition 1
            await (await producer.send(topic, b"first", key=b"k", partition=0))
            sent = [await producer.send(topic, b"v%d" % i, key=b"k", partition=0) for i in range(6)]
            sent += [await producer.send(topic, b"w%d" % i, key=b"k", partition=1) for i in range(3)]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t in (topic, empty) for p in (0, 1)]
            listed = await consumer.end_offsets(tps)
            return listed, await faust_tuning.fetched_ends(consumer._client, dict(listed))
        finally:
            await consumer.stop()

    listed, fetched = asyncio.run(ends())
    truth = {**end_offsets(kafka_bootstrap, topic), **end_offsets(kafka_bootstrap, empty)}
    assert {(tp.topic, tp.partition): n for tp, n in fetched.items()} == {
        (tp.topic, tp.partition): n for tp, n in truth.items()
    }
    assert fetched[next(tp for tp in fetched if tp.topic == topic and tp.partition == 0)] == 7
    assert all(fetched[tp] >= listed[tp] for tp in listed)
