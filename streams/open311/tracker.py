"""Follows the pipeline's outputs and records what became of each request the API accepted.

Reads ``ioc.incidents`` (a report joined an incident), ``ioc.unroutable`` and ``ioc.deadletter``
(the pipeline could not place or take it) and writes the outcome into the :class:`RequestStore`.
Every ``ioc api`` process follows every partition (no consumer group: no group join on start,
the updates are idempotent, so replicas repeating each other's work is harmless). Positions are
kept in Redis (``<app>:open311:tracker``) after the outcomes of a batch are written
(at-least-once); the very first start begins at the end of the topics, which is before any
request this API can have accepted, since the server only listens once the tracker is placed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from routers import topics
from routers.open311 import tracking
from routers.open311.tracking import Outcome
from streams import kafka_clients, metrics
from streams.open311.store import RequestStore
from streams.settings import Settings

log = logging.getLogger(__name__)

FOLLOWED = (topics.INCIDENTS, topics.UNROUTABLE, topics.DEADLETTER)


def outcomes_of(topic: str, raw: bytes | None) -> list[Outcome]:
    if not raw:
        return []
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if topic == topics.INCIDENTS:
        return tracking.from_incident(body)
    found = tracking.from_unroutable(body) if topic == topics.UNROUTABLE else tracking.from_deadletter(body, topics.REPORTS)
    return [] if found is None else [found]


class Tracker:
    def __init__(self, settings: Settings, store: RequestStore, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.positions_key = f"{store.prefix}:tracker"
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self.placed = asyncio.Event()

    async def start(self) -> None:
        """Place the consumer (stored positions, else the end) and follow in the background."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(**kafka_clients.aiokafka(
            self.settings, group_id=None, enable_auto_commit=False, client_id="ioc-open311-tracker",
            request_timeout_ms=15000, metadata_max_age_ms=30000))
        await consumer.start()
        self._consumer = consumer
        present = await consumer.topics()
        missing = [t for t in FOLLOWED if t not in present]
        if missing:
            await consumer.stop()
            raise RuntimeError(f"topics {missing} do not exist: run `ioc topics create` (or `ioc up`)")
        partitions = [TopicPartition(t, p) for t in FOLLOWED for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        stored = await self.store.redis.hgetall(self.positions_key)
        positions = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in stored.items()}
        unplaced = []
        for tp in partitions:
            offset = positions.get(f"{tp.topic}/{tp.partition}")
            if offset is None:
                unplaced.append(tp)
            else:
                consumer.seek(tp, offset)
        if unplaced:
            ends = await consumer.end_offsets(unplaced)
            for tp in unplaced:
                consumer.seek(tp, ends[tp])
            await self.store.redis.hset(self.positions_key, mapping={f"{tp.topic}/{tp.partition}": ends[tp] for tp in unplaced})
        self.placed.set()
        self._task = asyncio.create_task(self._follow(), name="open311-tracker")

    async def _follow(self) -> None:
        consumer = self._consumer
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker away: aiokafka reconnects, we wait
                log.warning("open311 tracker: reading: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)
                continue
            while batches:
                try:
                    await self._take(batches)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis away: the batch is written again, nothing skipped
                    log.warning("open311 tracker: recording: %s: %s", type(exc).__name__, exc)
                    await asyncio.sleep(1.0)

    async def _take(self, batches: dict[Any, list[Any]]) -> None:
        outcomes: list[Outcome] = []
        ends: dict[str, int] = {}
        for tp, records in batches.items():
            for record in records:
                outcomes.extend(outcomes_of(tp.topic, record.value))
            ends[f"{tp.topic}/{tp.partition}"] = records[-1].offset + 1
        for changed in await self.store.track(outcomes, self.clock()):
            metrics.api_tracked.labels(changed.state).inc()
        await self.store.redis.hset(self.positions_key, mapping=ends)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
