"""The intake agent: one Faust agent over the three intake topics.

Each batch is decoded and located by the pure core (``routers.route.place``), routed by the rules
with their shared state (sensor hysteresis, inhibitors), and handed to
:func:`streams.delivery.forward_batches`, which publishes without a per-message await and
lets a batch's offsets be committed only after the broker acknowledged every output of it (also
across a crash or a rebalance): at-least-once, with stable output ids so consumers dedupe.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from routers.events import Source
from routers.route import Outcome, Placed, Placement, Routed, Unroutable, place, telemetry_flags
from routers.rules.batch import evaluate_batch
from streams import metrics, topics
from streams.app import app
from streams.delivery import Outgoing, forward_batches
from streams.pipeline import context
from streams.pipeline.publish import Origin, Tally, outgoing
from streams.rules_live.active import active_ruleset

BATCH_MAX = 1000
BATCH_WITHIN_S = 0.05

intake = app.topic(*topics.INTAKE, key_serializer="raw", value_serializer="raw")


def _place_all(batch: Sequence[Any], services: context.Services) -> list[Placement]:
    locator, lookup, cap = services.locator, services.devices.get, services.settings.max_message_bytes
    frigate, urls = services.frigate_mapping, services.devices.frigate_url
    return [place(e.message.topic, e.value, locator, lookup, cap, frigate, urls) for e in batch]


def _unknown_device(placed: Placement) -> bool:
    return isinstance(placed, Unroutable) and placed.location.reason == "unknown_device"


async def _placed(batch: Sequence[Any], services: context.Services) -> list[Placement]:
    placed = _place_all(batch, services)
    retry = [i for i, p in enumerate(placed) if _unknown_device(p)]
    if retry:  # devices registered after our last refresh: one Redis round trip, then place those again
        await services.devices.ensure(p.event.device_id for p in (placed[i] for i in retry)
                                      if isinstance(p, Unroutable) and p.event.device_id)
        for i, again in zip(retry, _place_all([batch[i] for i in retry], services), strict=True):
            placed[i] = again
    return placed


async def _route(placed: list[Placement], services: context.Services) -> list[Outcome]:
    """The rules over the batch (routers.rules.batch): sensor state threaded, inhibitors raised
    anywhere in the batch applied to all of it, silences checked at processing time."""
    store = services.rule_state
    sensor_ids = [p.event.device_id for p in placed
                  if isinstance(p, Placed) and p.event.source is Source.SENSOR and p.event.device_id]
    states = await store.sensor_states(sensor_ids)
    inhibitors = await store.inhibitors()
    ruleset = active_ruleset()  # one version per batch: a hot reload switches between batches
    now = time.time()
    located = [(p.event, p.location) for p in placed if isinstance(p, Placed)]
    result = evaluate_batch(ruleset, located, states, inhibitors, services.silences.index(now), now)
    await store.save(result.sensors, result.raised)
    evaluations = iter(zip(result.evaluations, telemetry_flags(located, result.evaluations, states), strict=True))

    def routed(item: Placed) -> Routed:
        evaluation, telemetry = next(evaluations)
        return Routed(item.event, item.location, evaluation.decision, telemetry)

    return [routed(item) if isinstance(item, Placed) else item for item in placed]


async def handle_batch(batch: Sequence[Any]) -> list[Outgoing]:
    """A batch of intake events -> the messages to publish (delivery is forward_batches' job)."""
    services = context.services()
    outcomes = await _route(await _placed(batch, services), services)
    now = datetime.now(UTC)
    messages: list[Outgoing] = []
    tally = Tally()
    for event, outcome in zip(batch, outcomes, strict=True):
        message = event.message
        messages.extend(outgoing(outcome, Origin(message.topic, message.partition, message.offset), event.value, now))
        tally.add(outcome, message.topic)
    tally.flush()
    queued = time.time()
    for event in batch:
        if event.message.timestamp:
            metrics.routing_latency.observe(max(queued - event.message.timestamp, 0.0))
    return messages


@app.agent(intake)
async def route_intake(stream: Any) -> None:
    await context.services().devices.refresh()
    # Offsets of a batch become committable only once the broker acknowledged all of its outputs.
    await forward_batches(stream, handle_batch, max_batch=BATCH_MAX, within=BATCH_WITHIN_S)


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
        highwater = consumer.highwater(tp)  # None until the first fetch of a partition just assigned
        if position is not None and highwater is not None:
            lag[tp.topic] += max(highwater - position, 0)
    for topic, value in lag.items():
        metrics.consumer_lag.labels(topic).set(value)
