"""Produce a scenario at thousands of messages per second for little CPU: aiokafka record batches.

:func:`streams.simulator.run.produce` sends message by message through kafka-python, whose
``send`` (a future, a partitioner call, an accumulator lock, a sender thread fighting for the GIL)
costs more CPU than generating the message. On a 2-core machine that also runs the broker and the
workers, a soak asked for 1,000/s got 660-900/s and the bench's ack-delay row asked for 6,000/s
got 2,500/s. Here each tick's due messages are appended to one record batch per partition
(aiokafka's ``create_batch``/``send_batch``: a C-accelerated builder, one future per batch) and
the batches go out together; a message's offset is its batch's base offset plus its place in it.

Same messages as ``produce`` (the scenario decides them), same keys, same partitions (the
murmur2 partitioner kafka-python and the Java client use), so per-key order is kept. Kafka topics
only: a Frigate scenario publishes over MQTT and goes through ``produce``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from routers.progress import Progress
from streams import kafka_clients
from streams.settings import Settings
from streams.simulator.frigate import EVENTS, REVIEWS
from streams.simulator.run import SimulationStats, due_now
from streams.simulator.scenario import CityScenario, Message

# Batches go out every 200 ms. The embedded broker (Tansu's memory engine) lists every batch a
# partition holds on each fetch of it, ~0.5 us a batch (docs/performance.md, "The embedded
# broker's fetch cost"), so over a long run what it pays for is the number of batches, not of
# messages: 20 ms ticks made ~430 batches/s of 2-3 messages at 1,000/s, and after 10 minutes each
# worker fetch cost the broker ~130 ms of CPU. 200 ms: ~60 batches/s at any rate.
TICK_S = 0.2

OnSent = Callable[[Message, int, int], None]


class _Partitions:
    """The partition of a key on a topic, as kafka-python and the Java client place it (murmur2)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitions: dict[str, list[int]] = {}
        self._by_key: dict[tuple[str, bytes], int] = {}  # cameras and sensors repeat; report ids do not
        self._partitioner = DefaultPartitioner()

    async def of(self, topic: str, key: bytes) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        cached = self._by_key.get((topic, key))
        if cached is not None:
            return cached
        partition: int = self._partitioner(key, partitions, partitions)
        if len(self._by_key) < 50_000:
            self._by_key[(topic, key)] = partition
        return partition


async def _send(producer: AIOKafkaProducer, batch: Any, messages: list[Message], topic: str, partition: int,
                on_sent: OnSent | None) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = await producer.send_batch(batch, topic, partition=partition)
    if on_sent is not None:
        def acknowledged(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                return  # never acknowledged: the conservation check counts it as not produced
            base = done.result().offset
            for n, message in enumerate(messages):
                on_sent(message, partition, base + n)
        future.add_done_callback(acknowledged)
    return future


async def _produce(settings: Settings, sim: CityScenario, rate: float, duration_s: float | None, count: int | None,
                   stop: threading.Event | None, on_sent: OnSent | None, progress: Progress | None) -> SimulationStats:
    producer = AIOKafkaProducer(**kafka_clients.aiokafka(
        settings, acks=1, client_id="ioc-simulator", max_request_size=2 * 1024 * 1024, max_batch_size=512 * 1024))
    await producer.start()
    stats = SimulationStats()
    partitions = _Partitions(producer)
    in_flight: list[asyncio.Future[Any]] = []
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            if (duration_s is not None and elapsed >= duration_s) or (stop is not None and stop.is_set()):
                break
            if count is not None and stats.produced >= count:
                break
            due = due_now(elapsed, rate, stats.produced, count)
            batches: dict[tuple[str, int], tuple[Any, list[Message]]] = {}
            for _ in range(due):
                message = sim.next_message()
                if message.topic in (EVENTS, REVIEWS):
                    raise ValueError("a Frigate scenario publishes over MQTT: use streams.simulator.run.produce")
                partition = await partitions.of(message.topic, message.key)
                slot = (message.topic, partition)
                batch, members = batches.get(slot) or (producer.create_batch(), [])
                if batch.append(key=message.key, value=message.value, timestamp=None) is None:  # full: send it
                    in_flight.append(await _send(producer, batch, members, *slot, on_sent))
                    batch, members = producer.create_batch(), []
                    if batch.append(key=message.key, value=message.value, timestamp=None) is None:
                        raise ValueError(f"a {len(message.value)}-byte message does not fit an empty batch")
                members.append(message)
                batches[slot] = (batch, members)
                stats.count(message)
            for (topic, partition), (batch, members) in batches.items():
                in_flight.append(await _send(producer, batch, members, topic, partition, on_sent))
            if progress is not None and due:
                progress("produced", due)
            in_flight = [f for f in in_flight if not f.done()]
            await asyncio.sleep(max(TICK_S - (time.monotonic() - started - elapsed), 0.0))
        if in_flight:
            await asyncio.gather(*in_flight)
    finally:
        await producer.stop()
    return stats


def produce_batched(settings: Settings, sim: CityScenario, rate: float, duration_s: float | None = None,
                    count: int | None = None, stop: threading.Event | None = None, on_sent: OnSent | None = None,
                    progress: Progress | None = None) -> SimulationStats:
    """Like :func:`streams.simulator.run.produce` (Kafka topics only), in record batches.

    ``on_sent(message, partition, offset)`` is called once the broker has the message; it runs on
    this function's event loop, in the calling thread."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return asyncio.run(_produce(settings, sim, rate, duration_s, count, stop, on_sent, progress))
