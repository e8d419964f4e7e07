"""The consumer: every fetched message of an agent's input reaches a running stream, fast.

Invariant kept: from a partition's committed offset on, every message of an agent's input (a
topic with acks) is handed to a running stream, in offset order, and no commit passes a message
that was not acked. Around a rebalance Faust lost messages (skipped while flow control was off,
fetched across the seek, dropped from the queues by the resume, or acked from before the
rebalance); :class:`FastDeliveryConsumer` fetches those again, drops stale acks and keeps the
commit below an unacked head. Tables are restored up to their changelog's true end
(:func:`fetched_ends`). Speed: a fetched message reaches its stream without the four Tasks per
message Faust creates (:func:`step_eagerly`), and fetches wait at most ``FETCH_MAX_WAIT_MS``.
:mod:`streams.delivery` builds the at-least-once guarantee of the outputs on this.

Faust, mode and aiokafka internals relied on (pinned versions, checked by
tests/streams/faust_ext/test_faust_internals.py):

- ``faust.transport.drivers.aiokafka.Consumer``, subclassed: overrides ``_new_consumer_thread()``,
  ``wait_first(*coros, timeout)`` (mode's ``Service.wait_first``, which Faust's
  ``Consumer._drain_messages`` calls per message as ``wait_first(callback(message),
  self.suspend_flow.wait())``), ``ack(message)``, ``_to_message(tp, record)``, ``perform_seek()``,
  ``getmany(timeout)``, ``on_partitions_revoked(revoked)``, ``_new_offset(tp)``; reads
  ``_stopped``, ``_crashed``, ``suspend_flow``, ``_unacked_messages``, ``_acked``,
  ``_committed_offset``, ``_gap``, ``_read_offset``; calls ``seek``, ``position``, ``assignment``;
- ``faust.transport.drivers.aiokafka.AIOKafkaConsumerThread``, subclassed: overrides
  ``_create_worker_consumer(transport)`` and ``_highwaters(partitions)``; calls
  ``_ensure_consumer()``, reads ``consumer.in_transaction``;
- the aiokafka driver's ``Transport.Consumer`` (the class it instantiates, replaced per app), the
  app's ``_consumer``, ``consumer_generation_id``, ``topics.acks_enabled_for(topic)`` and
  ``flow_control`` (``is_active()``, ``clear()`` wrapped per app, ``_queues``, each queue's
  ``_queue``), a message's ``generation_id`` and ``acked``; ``mode.services.WaitResults``;
- aiokafka: ``AIOKafkaConsumer._fetch_max_wait_ms`` (read by ``start()`` when it builds the
  ``Fetcher``) and ``_client``; ``AIOKafkaClient.send(node_id, request)``;
  ``ClusterMetadata.leader_for_partition(tp)``; ``aiokafka.protocol.fetch.FetchRequest(max_wait_time,
  min_bytes, max_bytes, isolation_level, topics)`` and its response's ``topics``, each
  ``(topic, [(partition, error_code, highwater, ...)])``.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, cast

from aiokafka.protocol.fetch import FetchRequest
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import AppT
from mode.services import WaitResults

log = logging.getLogger(__name__)
REWIND_GIVE_UP_S = 60.0  # a hole that seeking back does not fill for this long is really there
FLOW_RETRY_S = 0.05
HEAD_CHECK_S = 1.0  # after a seek, when to look whether the committed offset was handed over
HEAD_CHECK_MAX_S = 30.0
# How long a fetch may wait on the broker for partitions with no new data, and how long one
# getmany may wait for records. Faust waits 1.5 s and 1 s. Its flow control takes a partition
# whose stream queue is under pressure out of the fetch, so a busy partition routinely sits out
# while quiet ones (here the camera and sensor intake) long-poll: the fetch for quiet partitions
# then held the busy one back for up to 1.5 s, and a getmany over quiet partitions only waited
# a second although the busy partition was eligible again after a few milliseconds. With both
# short the pipeline worker stopped idling a third of the time (docs/performance.md).
FETCH_MAX_WAIT_MS = 100
GETMANY_MAX_WAIT_S = 0.1


def step_eagerly(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` up to its first suspension, in the caller, without creating a Task.

    Returns ``(True, result)`` when it finished, else ``(False, rest)`` where ``rest`` is a
    coroutine that finishes the job exactly as a Task would have (same result, same exception,
    cancellation thrown into ``coro``). Exceptions raised before the first suspension propagate.
    """
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, _resume(coro, yielded)


async def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    # What asyncio.Task.__step does: a coroutine yields a future it waits on (or None to
    # reschedule); we wait for it without raising, then send None so the coroutine reads the
    # future's result or exception itself.
    while True:
        if yielded is None:
            await asyncio.sleep(0)
        else:
            yielded._asyncio_future_blocking = False
            try:
                await asyncio.wait([yielded])
            except asyncio.CancelledError:
                yielded.cancel()  # like Task.cancel(): the awaited future is cancelled too
                try:
                    coro.throw(asyncio.CancelledError())
                except (StopIteration, asyncio.CancelledError):
                    pass
                else:
                    coro.close()
                raise
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


async def fetched_ends(client: Any, listed: dict[Any, int]) -> dict[Any, int]:
    """Each partition's end (the next offset to be written) as a fetch reports it, never below
    ``listed`` (what ListOffsets answered). Tansu 0.6 answers ListOffsets(latest) with the base
    offset of the last record batch + 1, short of the end when that batch held several records; Faust
    restores a table from its changelog up to that answer, so a worker restarted on the embedded
    broker lost the table writes of the changelog's last batch. A fetch from just before that answer
    carries the true high watermark (Apache Kafka answers both alike: nothing changes there)."""
    ends = dict(listed)
    by_node: dict[int, dict[str, list[tuple[int, int, int]]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    keys = {(tp.topic, tp.partition): tp for tp in listed}
    for tp, end in listed.items():
        node = client.cluster.leader_for_partition(tp)
        if end > 0 and node is not None and node >= 0:
            by_node[node][tp.topic].append((tp.partition, end - 1, 1024))
    for node, topics in by_node.items():
        try:
            # min_bytes 1: Tansu answers a fetch that may return nothing with no partitions at all;
            # the record at end - 1 exists, so the broker answers at once
            request = FetchRequest(FETCH_MAX_WAIT_MS, 1, 1 << 20, 0, list(topics.items()))
            response = await client.send(node, request)
        except Exception as exc:  # the listed ends are the fallback, as before
            log.warning("high watermark fetch from broker %s failed: %s", node, exc)
            continue
        for topic, partitions in response.topics:
            for partition, error_code, highwater, *_rest in partitions:
                tp = keys.get((topic, partition))
                if tp is not None and error_code == 0 and highwater is not None:
                    ends[tp] = max(ends[tp], highwater)
    return ends


class ResponsiveConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose aiokafka consumer waits at most ``FETCH_MAX_WAIT_MS`` on the
    broker for a fetch (Faust builds it with 1,500 ms and no setting to change it), and whose
    partition ends (for table recovery) are the fetched high watermarks (``fetched_ends``)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds the Fetcher (tests check it arrives there)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def _highwaters(self, partitions: Any) -> Any:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction:  # last stable offsets: ListOffsets is not involved
            return listed
        return await fetched_ends(self._ensure_consumer()._client, dict(listed))


class FastDeliveryConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka Consumer, minus four Tasks per message, with safer acks across rebalances.

    ``Consumer._drain_messages`` hands every fetched message to the streams with
    ``await self.wait_first(callback(message), self.suspend_flow.wait())``; ``wait_first`` wraps
    each argument plus the stopped/crashed events in a Task and runs ``asyncio.wait`` — for every
    message. The callback nearly always finishes without suspending (there is room in the stream
    buffer), so we first run it eagerly and only fall back to the original ``wait_first`` (with
    the rest of the callback) when it really has to wait, e.g. on a full buffer or during a
    rebalance, where the suspend-flow race is what matters.
    """

    def _new_consumer_thread(self) -> ResponsiveConsumerThread:
        return ResponsiveConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (generation, partition) -> the first offset fetched in that generation
        self._fetch_heads: dict[tuple[int | None, Any], int] = {}
        #: partition -> the offset that must be handed to the streams next
        self._expected_next: dict[Any, int] = {}
        #: partition -> [offset awaited after a seek, next check time, check interval]
        self._awaited_heads: dict[Any, list[Any]] = {}
        #: partition -> (offset sought back to, since when)
        self._rewinds: dict[Any, tuple[int, float]] = {}
        #: partition -> the lowest offset a flow-control resume dropped from the streams' queues
        self._cleared_heads: dict[Any, int] = {}
        _report_cleared_queues(self.app.flow_control, self._cleared_heads)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        first = coros[0] if coros else None
        if (inspect.iscoroutine(first) and not self._stopped.is_set() and not self._crashed.is_set()
                and not self.suspend_flow.is_set()):
            finished, outcome = step_eagerly(first)
            if finished:
                for other in coros[1:]:
                    if inspect.iscoroutine(other):
                        other.close()  # e.g. suspend_flow.wait(): never started, so no "never awaited" warning
                return WaitResults([first], [outcome], False)
            coros = (outcome, *coros[1:])
        return await super().wait_first(*coros, timeout=timeout)


    def ack(self, message: Any) -> bool:
        """Faust's ack, except for a message fetched before the latest rebalance.

        Such a message's partition may have moved to another worker, which reads it again from
        the committed offset; and this worker discarded the rest of that partition's fetched
        messages at the rebalance. Recording the stale ack could let a later commit step over the
        discarded ones. Dropping it costs at most a redelivery (consumers dedupe on the id).
        """
        generation = getattr(message, "generation_id", None)
        if generation is not None and generation != self.app.consumer_generation_id:
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        return bool(super().ack(message))

    def _to_message(self, tp: Any, record: Any) -> Any:
        """Faust's conversion, remembering the first offset fetched per partition in this consumer
        generation: where consumption (re)started, the head no commit may pass while unacked."""
        message = super()._to_message(tp, record)
        heads = self._fetch_heads
        key = (message.generation_id, tp)
        if key not in heads:
            if len(heads) > 4096:  # old generations' heads are of no use: keep the dict small
                heads.clear()
            heads[key] = record.offset
        return message

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets, remembering per partition which offset must come next.

        Messages fetched between an assignment and this seek were skipped by the streams (flow
        control is off while the tables recover); the seek is what brings them back."""
        await super().perform_seek()
        heads = self._fetch_heads
        generation = self.app.consumer_generation_id
        expected = self._expected_next
        awaited = self._awaited_heads
        for tp in self.assignment():
            committed = self._read_offset.get(tp)
            head = committed if committed is not None else heads.get((generation, tp))
            if head is None:
                expected.pop(tp, None)
                awaited.pop(tp, None)
            else:
                expected[tp] = head
                if self.app.topics.acks_enabled_for(tp.topic):
                    awaited[tp] = [head, time.monotonic() + HEAD_CHECK_S, HEAD_CHECK_S]

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        """Faust's fetch loop, but every message of an agent's input reaches a running stream.

        Races around a rebalance lost messages (Faust committed over them as if processed, or they
        waited unprocessed until the next rebalance):

        * a message fetched while flow control is still off (between the seek to the committed
          offsets and the resume at the end of recovery) is skipped by the stream, yet marked read;
          here it is not handed over and the partition is sent back to it instead;
        * the fetcher may already be past the committed offset (a fetch in flight across the seek);
          Faust records the hole as a "gap" that counts as acked. Here the first message past the
          expected offset sends the partition back to that offset (and a partition whose committed
          offset is never handed over although the fetcher moved on is sent back after a while);
        * the resume at the end of recovery empties the streams' queues, also of messages fetched
          after the seek: the partition is sent back to the lowest dropped offset.

        Only partitions with acks (the agents' inputs) are checked; changelogs may be compacted.
        One call waits at most ``GETMANY_MAX_WAIT_S`` for records (see there why)."""
        expected = self._expected_next
        awaited = self._awaited_heads
        rewound: set[Any] = set()
        held_back = False
        if self._cleared_heads:
            await self._refetch_cleared()
        async for tp, message in super().getmany(min(timeout, GETMANY_MAX_WAIT_S)):
            if self._cleared_heads:
                rewound |= await self._refetch_cleared()
            if tp in rewound:
                continue  # the rest of this fetch is fetched again after the seek
            if self.app.topics.acks_enabled_for(tp.topic):
                if not self.app.flow_control.is_active():
                    await self.seek(tp, message.offset)
                    rewound.add(tp)
                    held_back = True
                    continue
                want = expected.get(tp)
                if want is not None and message.offset > want and await self._rewind(tp, want, message.offset):
                    rewound.add(tp)
                    continue
            expected[tp] = message.offset + 1
            if tp in awaited and message.offset >= awaited[tp][0]:
                del awaited[tp]
            yield tp, message
        if held_back:
            await asyncio.sleep(FLOW_RETRY_S)  # flow control resumes when recovery ends; don't spin
        if awaited:
            await self._check_awaited_heads()

    async def _check_awaited_heads(self) -> None:
        """A partition whose committed offset was never handed over although the fetcher moved past
        it (Faust drops fetched records of a partition it does not count as active yet) goes back to
        it. Without this, a quiet partition's message would wait for the next message to show the
        hole. Checked with a growing interval until the head is handed over."""
        now = time.monotonic()
        assigned = self.assignment()
        awaited = self._awaited_heads
        for tp, entry in list(awaited.items()):
            want, check_at, interval = entry
            if tp not in assigned:
                del awaited[tp]
                continue
            if now < check_at:
                continue
            entry[1], entry[2] = now + interval * 2, min(interval * 2, HEAD_CHECK_MAX_S)
            try:
                position = await asyncio.wait_for(self.position(tp), HEAD_CHECK_S)
            except Exception:  # noqa: BLE001 - a position not known yet is checked again later
                continue
            if position is not None and position > want:
                log.info("%s[%d]: the fetcher is at %d but %d was never handed over; fetching again from %d",
                         tp.topic, tp.partition, position, want, want)
                await self.seek(tp, want)

    async def _refetch_cleared(self) -> set[Any]:
        """Seek back to the messages a flow-control resume dropped from the streams' queues."""
        cleared = dict(self._cleared_heads)
        self._cleared_heads.clear()
        assigned = self.assignment()
        for tp, offset in cleared.items():
            if tp in assigned and self.app.topics.acks_enabled_for(tp.topic):
                log.info("%s[%d]: flow control dropped queued messages from %d on; fetching again from %d",
                         tp.topic, tp.partition, offset, offset)
                await self.seek(tp, offset)
                self._expected_next[tp] = offset
        return set(cleared)

    async def _rewind(self, tp: Any, want: int, got: int) -> bool:
        """Seek ``tp`` back to ``want``; False (accept the hole) once that did not help for a while,
        e.g. when retention deleted the offsets in between."""
        tries = self._rewinds
        offset, since = tries.get(tp, (want, time.monotonic()))
        if offset != want:
            since = time.monotonic()
        if time.monotonic() - since > REWIND_GIVE_UP_S:
            log.error("%s[%d]: offsets %d-%d are not fetchable (deleted by retention?); continuing at %d",
                      tp.topic, tp.partition, want, got - 1, got)
            tries.pop(tp, None)
            return False
        tries[tp] = (want, since)
        log.info("%s[%d]: fetched offset %d where %d comes next (a fetch across a rebalance); fetching again from %d",
                 tp.topic, tp.partition, got, want, want)
        await self.seek(tp, want)
        return True

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        for tp in revoked:  # a partition that comes back later starts from its committed offset
            self._expected_next.pop(tp, None)
            self._awaited_heads.pop(tp, None)
            self._rewinds.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: Any) -> int | None:
        """Faust's commit offset, but never past an unacked head. ``committed`` is the next offset
        to process (Kafka's convention), so any acked offset above it means the head is missing;
        with nothing committed yet the head is the first offset fetched in this generation. Faust's
        own check allows a one-message hole and skips the check when ``committed`` is 0 or None."""
        acked = self._acked[tp]
        head = self._committed_offset[tp]
        if head is None:
            head = self._fetch_heads.get((self.app.consumer_generation_id, tp))
        if acked and head is not None and not self._gap[tp] and min(acked) > head:
            return None
        return cast(int | None, super()._new_offset(tp))


def _report_cleared_queues(flow_control: Any, cleared_heads: dict[Any, int]) -> None:
    """Make ``flow_control`` note, per partition, the lowest offset it drops from the queues.

    ``FlowControlEvent.resume()`` empties every stream queue, also when flow was already running:
    after the seek that ends a rebalance, Faust treats what is queued as stale. But messages fetched
    after that seek and before the resume are queued too, and were lost with it."""
    clear_queues = flow_control.clear

    def clear() -> None:
        for queue in list(flow_control._queues):
            for event in list(getattr(queue, "_queue", ())):
                message = getattr(event, "message", None)
                if message is None:
                    continue
                if message.tp not in cleared_heads or message.offset < cleared_heads[message.tp]:
                    cleared_heads[message.tp] = message.offset
        clear_queues()

    flow_control.clear = clear


def use_fast_delivery_consumer(app: AppT) -> None:
    """Use :class:`FastDeliveryConsumer` for ``app``; call after configuring the broker, before the
    worker starts (the consumer is created at start)."""
    if app._consumer is not None:  # type: ignore[attr-defined]
        raise RuntimeError("use_fast_delivery_consumer(app) must run before the app's consumer is created")
    transport = app.transport
    if not isinstance(transport, aiokafka_driver.Transport):
        raise TypeError(f"use_fast_delivery_consumer needs the aiokafka transport, not {type(transport).__name__}")
    transport.Consumer = FastDeliveryConsumer  # type: ignore[misc]  # instance attribute: this app only
