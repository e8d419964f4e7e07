"""The intake agent: one Faust agent over the three intake topics.

Each batch is decoded, located and routed by the pure core (``routers.route``); this module only
fetches missing devices, produces the resulting messages and waits for their delivery before
taking the next batch. Faust acks a batch's events when the agent asks for the next one, so
offsets are committed only for messages whose outputs the broker has acknowledged:
at-least-once, and output ids are stable so consumers dedupe redeliveries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from routers.route import Outcome, Unroutable, route_message
from streams import metrics, topics
from streams.app import app
from streams.pipeline import context
from streams.pipeline.publish import Origin, count, outgoing
from routers.rules import evaluate
from streams.rules_live.active import active_ruleset

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WITHIN_S = 0.02

intake = app.topic(*topics.INTAKE, key_serializer="raw", value_serializer="raw")


def _route_all(batch: Sequence[Any], services: context.Services) -> list[Outcome]:
    ruleset = active_ruleset()  # read once per batch: a hot reload switches between batches, atomically

    def decide(event: Any, location: Any) -> Any:
        return evaluate(ruleset, event, location)

    return [
        route_message(
            event.message.topic, event.value, services.locator, services.devices.get, decide,
            services.settings.max_message_bytes,
        )
        for event in batch
    ]


async def handle_batch(batch: Sequence[Any]) -> int:
    services = context.services()
    outcomes = _route_all(batch, services)
    unknown = [o.event.device_id for o in outcomes
               if isinstance(o, Unroutable) and o.location.reason == "unknown_device" and o.event.device_id]
    if unknown:  # a device registered after our last refresh: fetch once, route those again
        await services.devices.ensure(unknown)
        retry = [i for i, o in enumerate(outcomes) if isinstance(o, Unroutable) and o.location.reason == "unknown_device"]
        again = _route_all([batch[i] for i in retry], services)
        for i, outcome in zip(retry, again, strict=True):
            outcomes[i] = outcome
    now = datetime.now(UTC)
    producer = app.producer
    deliveries = []
    for event, outcome in zip(batch, outcomes, strict=True):
        message = event.message
        origin = Origin(message.topic, message.partition, message.offset)
        for out in outgoing(outcome, origin, event.value, now):
            deliveries.append(await producer.send(out.topic, out.key, out.value, None, None, None))
        count(outcome, message.topic)
    await asyncio.gather(*deliveries)
    done = time.time()
    for event in batch:
        if event.message.timestamp:
            metrics.routing_latency.observe(max(done - event.message.timestamp, 0.0))
    return len(batch)


@app.agent(intake)
async def route_intake(stream: Any) -> None:
    await context.services().devices.refresh()
    async for batch in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
        await handle_batch(batch)


@app.timer(interval=30.0)
async def refresh_devices() -> None:
    await context.services().devices.refresh()


@app.timer(interval=5.0)
async def measure_consumer_lag() -> None:
    consumer = app.consumer
    lag: dict[str, int] = dict.fromkeys(topics.INTAKE, 0)
    for tp in consumer.assignment():
        if tp.topic not in lag:
            continue
        position = await consumer.position(tp)
        if position is not None:
            lag[tp.topic] += max(consumer.highwater(tp) - position, 0)
    for topic, value in lag.items():
        metrics.consumer_lag.labels(topic).set(value)
