"""The intake agent: one Faust agent over the three intake topics. It translates, it does not decide.

Per batch: place each message (decode and locate, :func:`routers.route.place`; devices registered
since the last refresh are fetched in one Redis round trip), read the rule state (the batch's
sensor states, the active inhibitors, the silences, the active ruleset), call the pure
:func:`routers.route.route_batch`, write the state it changed, count the outcomes, and hand its
messages to :func:`streams.delivery.forward_batches`, which publishes without a per-message
await and lets a batch's offsets be committed only after the broker acknowledged every output of
it (also across a crash or a rebalance): at-least-once, with stable output ids so consumers dedupe.
The worker's services come from ``app.services`` (:mod:`streams.services`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from routers import topics
from routers.events import Source
from routers.outgoing import Outgoing
from routers.route import Intake, Origin, Placed, Placement, Unroutable, place, route_batch
from streams import metrics
from streams.app import app
from streams.delivery import forward_batches
from streams.pipeline.tally import Tally
from streams.services import IntakeServices

BATCH_MAX = 1000
BATCH_WITHIN_S = 0.05

intake = app.topic(*topics.INTAKE, key_serializer="raw", value_serializer="raw")


def _place_all(batch: Sequence[Any], intake: IntakeServices, max_bytes: int) -> list[Placement]:
    devices = intake.devices
    locator, lookup, frigate, urls = intake.locator, devices.get, intake.frigate_mapping, devices.frigate_url
    return [place(e.message.topic, e.value, locator, lookup, max_bytes, frigate, urls) for e in batch]


def _unknown_device(placed: Placement) -> bool:
    return isinstance(placed, Unroutable) and placed.location.reason == "unknown_device"


async def _placed(batch: Sequence[Any], intake: IntakeServices, max_bytes: int) -> list[Placement]:
    placed = _place_all(batch, intake, max_bytes)
    retry = [i for i, p in enumerate(placed) if _unknown_device(p)]
    if retry:  # devices registered after our last refresh: one Redis round trip, then place those again
        await intake.devices.ensure(p.event.device_id for p in (placed[i] for i in retry)
                                    if isinstance(p, Unroutable) and p.event.device_id)
        for i, again in zip(retry, _place_all([batch[i] for i in retry], intake, max_bytes), strict=True):
            placed[i] = again
    return placed


async def handle_batch(batch: Sequence[Any]) -> list[Outgoing]:
    """A batch of intake events -> the messages to publish (delivery is forward_batches' job)."""
    services = app.services
    intake_services = services.require_intake()
    placed = await _placed(batch, intake_services, services.settings.max_message_bytes)
    store = intake_services.rule_state
    sensors = await store.sensor_states(p.event.device_id for p in placed if isinstance(p, Placed)
                                        and p.event.source is Source.SENSOR and p.event.device_id)
    inhibitors = await store.inhibitors()
    now = datetime.now(UTC)
    routing = route_batch(
        [Intake(Origin(e.message.topic, e.message.partition, e.message.offset), e.value, p)
         for e, p in zip(batch, placed, strict=True)],
        services.rules.current(),  # one version per batch: a hot reload switches between batches
        sensors, inhibitors, services.silences.index(now.timestamp()), now,
    )
    await store.save(routing.sensors, routing.raised)
    tally = Tally()
    for event, outcome in zip(batch, routing.outcomes, strict=True):
        tally.add(outcome, event.message.topic)
    tally.flush()
    queued = time.time()
    for event in batch:
        if event.message.timestamp:
            metrics.routing_latency.observe(max(queued - event.message.timestamp, 0.0))
    return routing.messages


@app.agent(intake)
async def route_intake(stream: Any) -> None:
    await app.services.require_intake().devices.refresh()
    # Offsets of a batch become committable only once the broker acknowledged all of its outputs.
    await forward_batches(stream, handle_batch, max_batch=BATCH_MAX, within=BATCH_WITHIN_S)


@app.timer(interval=30.0)
async def refresh_devices() -> None:
    await app.services.require_intake().devices.refresh()


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
