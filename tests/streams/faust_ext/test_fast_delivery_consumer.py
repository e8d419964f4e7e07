"""streams.faust_ext.consumer: eager delivery without a Task per message (step_eagerly,
FastDeliveryConsumer.wait_first), short fetch waits, use_fast_delivery_consumer, and the partition
ends table recovery reads (fetched_ends) on the embedded broker."""

from __future__ import annotations

import asyncio
import uuid

import faust
import pytest

from streams.faust_ext import consumer as faust_consumer
from streams.faust_ext.consumer import FastDeliveryConsumer, step_eagerly, use_fast_delivery_consumer

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



# --- FastDeliveryConsumer.wait_first, use_fast_delivery_consumer -----------------------------------


def test_wait_first_fast_path_returns_the_callback_result_and_closes_the_other_waiter(offline_app) -> None:
    async def scenario() -> None:
        app = offline_app()
        use_fast_delivery_consumer(app)
        consumer = app.consumer
        assert isinstance(consumer, FastDeliveryConsumer)
        suspend_wait = consumer.suspend_flow.wait()
        tasks_before = len(asyncio.all_tasks())
        result = await consumer.wait_first(_no_suspension(5), suspend_wait)
        assert (result.done, result.results, result.stopped) == ([result.done[0]], [10], False)
        assert len(asyncio.all_tasks()) == tasks_before
        assert suspend_wait.cr_frame is None  # closed, so no "coroutine was never awaited" warning

    asyncio.run(scenario())


def test_wait_first_slow_path_lets_a_flow_suspension_win_over_a_blocked_callback(offline_app) -> None:
    # The reason Faust races the callback against suspend_flow: during a rebalance a callback
    # blocked on a full stream buffer must be abandoned, or the fetcher deadlocks.
    async def scenario() -> list[str]:
        app = offline_app()
        use_fast_delivery_consumer(app)
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
        use_fast_delivery_consumer(app)
        thread = app.consumer._thread
        assert isinstance(thread, faust_consumer.ResponsiveConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        await consumer.start()
        try:
            assert consumer._fetcher._fetch_max_wait_ms == faust_consumer.FETCH_MAX_WAIT_MS == 100
        finally:
            await consumer.stop()

    asyncio.run(scenario())


def test_use_fast_delivery_consumer_refuses_an_app_whose_consumer_already_exists(offline_app) -> None:
    app = offline_app()
    app.consumer  # noqa: B018 - creating it is the point
    with pytest.raises(RuntimeError, match="before the app's consumer is created"):
        use_fast_delivery_consumer(app)



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
            return listed, await faust_consumer.fetched_ends(consumer._client, dict(listed))
        finally:
            await consumer.stop()

    listed, fetched = asyncio.run(ends())
    truth = {**end_offsets(kafka_bootstrap, topic), **end_offsets(kafka_bootstrap, empty)}
    assert {(tp.topic, tp.partition): n for tp, n in fetched.items()} == {
        (tp.topic, tp.partition): n for tp, n in truth.items()
    }
    assert fetched[next(tp for tp in fetched if tp.topic == topic and tp.partition == 0)] == 7
    assert all(fetched[tp] >= listed[tp] for tp in listed)
