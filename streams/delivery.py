"""The pipeline's delivery guarantee: batches in, messages out, input offsets acked after delivery.

Invariant kept (at-least-once, also if the worker is killed): a batch's input offsets become
committable only after the broker acknowledged every output of that batch (and the batch's other
pending work, see :class:`Handled`, finished). Each input message is pinned before Faust could ack
it and released only by :func:`_ack_when_delivered`; Faust commits, per partition, the highest
*contiguous* acked offset, so a crash or a failed send before delivery leaves the offset
uncommitted and the next owner of the partition consumes the message again. Consumers of our
output dedupe on the event id. Across rebalances the guarantee also needs
:class:`streams.faust_ext.consumer.FastDeliveryConsumer`, which keeps commits from stepping over
messages that never reached a stream.

:func:`forward_batches` is the agents' loop; :func:`batch_publisher` the default way it publishes
(one record batch per topic-partition); :func:`partition_for_key` the partitioner callers use to
key-partition like the producer does.

Faust and aiokafka internals relied on (pinned versions, checked by
tests/streams/faust_ext/test_faust_internals.py):

- Faust ``Stream.take_events(max_, within)`` (not in the ``StreamT`` protocol), which acks a batch's
  events when the next batch is asked for and when the loop is left; ``Message.incref()`` and
  ``Event.ack()``, the reference count that holds an offset back from the commit;
- Faust ``App.maybe_start_producer()``, its aiokafka driver's ``Producer._ensure_producer()`` (the
  aiokafka producer underneath) and the ``producer_partitioner`` setting;
- aiokafka ``AIOKafkaProducer.create_batch()``, ``send_batch(batch, topic, *, partition)`` and
  ``partitions_for(topic)``; ``BatchBuilder.append(*, timestamp, key, value, headers)`` returning
  None when the batch is full, and ``BatchBuilder.close()``; ``aiokafka.partitioner.murmur2`` and
  ``DefaultPartitioner``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple, cast

from aiokafka.partitioner import DefaultPartitioner, murmur2
from faust.types import AppT, EventT, StreamT

from routers.outgoing import Outgoing  # plain data: the pure deciders (routers.route.route_batch) return it

__all__ = ["BatchHandler", "Handled", "Outgoing", "Publish", "batch_publisher", "forward_batches", "partition_for_key"]


class Handled(NamedTuple):
    """What a batch handler may return instead of bare messages: the messages and other work of the
    batch still running (e.g. a serving-index write) that its offsets must also wait for."""

    messages: Iterable[Outgoing]
    pending: Sequence[Awaitable[Any]] = ()


BatchHandler = Callable[[Sequence[EventT]], Iterable[Outgoing] | Handled | Awaitable[Iterable[Outgoing] | Handled]]
# Queues a batch's messages; the futures resolve when the broker has acknowledged all of them.
Publish = Callable[[Sequence[Outgoing]], Awaitable[list[asyncio.Future]]]


def batch_publisher(app: AppT) -> Publish:
    """The default :data:`Publish`: one record batch per topic-partition, built here and handed to
    aiokafka whole (``create_batch``/``send_batch``).

    ``producer.send`` per message costs a coroutine, a metadata lookup, a partitioner call, a
    future and, on the broker's ack, a RecordMetadata per message. Our batches fan out to ~200
    topic-partitions (one topic per ward), so that per-message machinery was a fifth of the
    pipeline worker's CPU. Partitions are chosen by the producer's partitioner exactly as
    ``send`` would (murmur2 of the key), so keys land where they always did.

    The built batches are handed to aiokafka by the producer's :class:`_Submitter`, in the order
    they were published, not awaited here: see there why.
    """
    producer: Any = None
    partitioner: Any = None
    submitter: _Submitter | None = None

    async def publish(messages: Sequence[Outgoing]) -> list[asyncio.Future]:
        nonlocal producer, partitioner, submitter
        if producer is None:
            producer = (await app.maybe_start_producer())._ensure_producer()  # the aiokafka producer
            # Faust declares the setting as a bare callable attribute, which mypy reads as a method
            partitioner = app.conf.producer_partitioner or _cached_default_partitioner  # type: ignore[misc]
            submitter = _Submitter.of(producer)
        assert submitter is not None
        partitions_of: dict[str, list[int]] = {}
        builders: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future] = []
        for message in messages:
            topic, partition = message.topic, message.partition
            if partition is None:
                partitions = partitions_of.get(topic)
                if partitions is None:  # waits for metadata the first time a topic is used
                    partitions = partitions_of[topic] = sorted(await producer.partitions_for(topic))
                # one-partition topics (every ward topic) need no hashing: aiokafka's murmur2 is Python
                partition = partitions[0] if len(partitions) == 1 else partitioner(message.key, partitions, partitions)
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[topic, partition] = producer.create_batch()
            headers = list(message.headers) if message.headers else []  # aiokafka takes a list only
            if builder.append(timestamp=None, key=message.key, value=message.value, headers=headers) is None:
                futures.append(submitter.submit(builder, topic, partition))  # full: send it, start anew
                builder = builders[topic, partition] = producer.create_batch()
                builder.append(timestamp=None, key=message.key, value=message.value, headers=headers)
        for (topic, partition), builder in builders.items():
            futures.append(submitter.submit(builder, topic, partition))
        return futures

    return publish


@functools.lru_cache(maxsize=16_384)
def _murmur2_index(key: bytes, count: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % count


def partition_for_key(key: bytes, count: int) -> int:
    """The partition of ``count`` that Kafka's default partitioner (murmur2: Java, aiokafka,
    kafka-python, librdkafka's ``murmur2_random``) sends ``key`` to."""
    return _murmur2_index(key, count)


_default_partitioner = DefaultPartitioner()


def _cached_default_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's DefaultPartitioner, remembering keys: its murmur2 is pure Python (~3 us), and the
    lifecycle copy of every event is keyed by one of a few hundred ward codes."""
    if key is None:
        return cast(int, _default_partitioner(key, all_partitions, available))
    return all_partitions[_murmur2_index(key, len(all_partitions))]


class _Submitter:
    """Hands a producer's record batches to aiokafka one after another, in the order they were
    submitted, in a task of its own, so the publisher does not wait for the broker.

    aiokafka takes a batch for a topic-partition only once that partition's previous batch has gone
    out in a produce request, and it keeps one request in flight per broker. A lifecycle batch
    writes to ~200 topic-partitions (its notices, audit states and changelog records), so queueing
    the next batch's outputs while the last request was on its way made the agent wait, one
    partition after the other: 30-60 ms of every 0.6 s batch under ``make bench`` with nothing else
    to do (docs/performance.md). Handing them over here, the agent decides its next batch
    meanwhile. Order is kept: one queue per producer (both lifecycle agents publish through it,
    under their turn lock), taken in order. The memory this holds is bounded by what
    :func:`forward_batches` lets wait for acks.

    ``submit`` returns a future with the batch's delivery: it fails if handing the batch over
    fails, and then every batch queued behind it fails too, unsent (a later batch must not
    overtake one that will be consumed again)."""

    _of: weakref.WeakKeyDictionary[Any, _Submitter] = weakref.WeakKeyDictionary()

    def __init__(self, producer: Any) -> None:
        self._producer = weakref.proxy(producer)  # the map above must not keep it alive
        self._queue: collections.deque[tuple[Any, str, int, asyncio.Future]] = collections.deque()
        self._task: asyncio.Future | None = None
        self._failure: BaseException | None = None

    @classmethod
    def of(cls, producer: Any) -> _Submitter:
        submitter = cls._of.get(producer)
        if submitter is None:
            submitter = cls._of[producer] = cls(producer)
        return submitter

    def submit(self, builder: Any, topic: str, partition: int) -> asyncio.Future:
        builder.close()  # ours alone: producer.send() elsewhere in the worker must not append to it
        delivered = asyncio.get_running_loop().create_future()
        self._queue.append((builder, topic, partition, delivered))
        if self._task is None or self._task.done():  # the task lives while there is work, no longer
            self._task = asyncio.ensure_future(self._hand_over())
        return delivered

    async def _hand_over(self) -> None:
        queue = self._queue
        while queue:
            builder, topic, partition, delivered = queue.popleft()
            if self._failure is not None:
                _fail(delivered, self._failure)
                continue
            try:
                sent = await self._producer.send_batch(builder, topic, partition=partition)
            except BaseException as exc:
                self._failure = exc
                _fail(delivered, exc)
                if isinstance(exc, asyncio.CancelledError):
                    while queue:
                        _fail(queue.popleft()[3], exc)
                    raise
                continue
            sent.add_done_callback(functools.partial(_settle, delivered))
        self._failure = None  # the queue is empty: what failed has failed its senders


def _fail(delivered: asyncio.Future, exc: BaseException) -> None:
    if not delivered.done():
        if isinstance(exc, asyncio.CancelledError):
            delivered.cancel()
        else:
            delivered.set_exception(exc)


def _settle(delivered: asyncio.Future, sent: asyncio.Future) -> None:
    if delivered.done():
        return
    if sent.cancelled():
        delivered.cancel()
    elif (exc := sent.exception()) is not None:
        delivered.set_exception(exc)
    else:
        delivered.set_result(sent.result())


async def forward_batches(stream: StreamT, handle_batch: BatchHandler, publish: Publish | None = None, *,
                          max_batch: int = 1000, within: float = 0.05, max_in_flight: int = 4,
                          max_events_in_flight: int | None = None, turn: asyncio.Lock | None = None) -> None:
    """Consume ``stream`` in batches, publish what ``handle_batch`` returns, ack after delivery.

    ``handle_batch(events)`` (plain or async) turns up to ``max_batch`` events, collected for at
    most ``within`` seconds, into :class:`Outgoing` messages (or a :class:`Handled`: messages plus
    awaitables the batch's acks also wait for); an event may produce none or several. ``publish`` queues a batch's messages without awaiting each one (default:
    :func:`batch_publisher`, one record batch per topic-partition); up to ``max_in_flight`` batches
    may wait for their broker acks while the next batch is processed, and, with
    ``max_events_in_flight``, only as long as they hold at most that many input events together
    (one batch over the bound still goes out alone). A stage whose batches grow large when it is
    behind bounds its memory this way: a backlog stays on the broker instead of in the worker as
    pinned inputs and their outputs waiting for acks.

    Agents that decide on shared state (the lifecycle's two agents write the same tables) pass one
    ``turn`` lock: a batch is handled and its messages queued on the producer while holding it, so
    each topic-partition receives the agents' outputs in the order their batches were decided.
    Without it, one agent's publish waiting for a busy partition to drain let the other decide and
    publish a later version of an incident first.

    Each event's message is pinned (``incref``) before ``take_events`` acks it and released
    only when all of its batch's sends succeeded, so its offset cannot be committed earlier. If a
    send fails, the error propagates (the agent crashes and Faust restarts it) and that batch is
    never acked: its offsets stay uncommitted and are consumed again after a restart or
    rebalance. Example::

        @app.agent(intake)
        async def route(stream):
            def handle(events):
                return [Outgoing("ioc.routed", e.key, e.value) for e in events]
            await forward_batches(stream, handle)
    """
    publish = publish or batch_publisher(stream.app)
    in_flight: collections.deque[asyncio.Future] = collections.deque()
    sizes: collections.deque[int] = collections.deque()  # input events of each batch in flight
    waiting = 0  # their sum
    events_cap = max_events_in_flight if max_events_in_flight is not None else float("inf")
    try:
        # Faust's StreamT protocol omits take_events, which its Stream (what agents get) has
        async for events in stream.take_events(max_batch, within):  # type: ignore[attr-defined]
            # Pin first: take_events acks the batch when we ask for the next one, and also when
            # this loop is left by an exception, so an unpinned batch could be committed unsent.
            for event in events:
                event.message.incref()  # released by _ack_when_delivered, after the broker acks
            async with turn or contextlib.nullcontext():
                futures, pending = await _handle_and_publish(events, handle_batch, publish)
            delivered = asyncio.gather(*futures, *pending)
            delivered.add_done_callback(_ack_when_delivered(events))
            in_flight.append(delivered)
            sizes.append(len(events))
            waiting += len(events)
            while in_flight and (len(in_flight) > max_in_flight or in_flight[0].done()
                                 or (len(in_flight) > 1 and waiting > events_cap)):
                waiting -= sizes.popleft()
                await in_flight.popleft()  # raises if a send failed: stop before more is consumed
        await _wait_all(in_flight)
    except BaseException:
        # Let the remaining deliveries finish (they ack themselves); a failure is already raising.
        for delivery in in_flight:
            delivery.add_done_callback(_consume_exception)
        raise


async def _handle_and_publish(events: Sequence[EventT], handle_batch: BatchHandler,
                              publish: Publish) -> tuple[list[asyncio.Future], Sequence[Awaitable[Any]]]:
    handled = handle_batch(events)
    if inspect.isawaitable(handled):
        handled = await handled
    outgoing: Iterable[Outgoing]
    pending: Sequence[Awaitable[Any]]
    if isinstance(handled, Handled):
        outgoing, pending = handled.messages, handled.pending
    else:
        outgoing, pending = handled, ()
    return await publish(list(outgoing)), pending


def _ack_when_delivered(events: Sequence[EventT]) -> Callable[[asyncio.Future], None]:
    def ack(delivered: asyncio.Future) -> None:
        if delivered.cancelled() or delivered.exception() is not None:
            return  # not delivered: keep the offsets uncommitted so the messages are consumed again
        for event in events:
            event.ack()

    return ack


async def _wait_all(in_flight: collections.deque[asyncio.Future]) -> None:
    while in_flight:
        await in_flight.popleft()


def _consume_exception(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # mark as retrieved: the first failure is the one being raised

