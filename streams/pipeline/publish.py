"""Outcome -> the messages to produce, and the metrics that count them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import orjson

from routers import envelope
from routers.privacy import mask_personal_data
from routers.route import DeadLetter, Outcome, Routed, Unroutable
from streams import metrics, topics
from streams.faust_tuning import Outgoing

_SOURCE_OF_TOPIC = {topics.REPORTS: "report", topics.CAMERA: "camera", topics.SENSORS: "sensor"}


class Origin(NamedTuple):
    topic: str
    partition: int
    offset: int


def outgoing(outcome: Outcome, origin: Origin, raw: bytes | None, now: datetime) -> list[Outgoing]:
    """The messages one intake message turns into; each carries ``iocorigin`` for conservation checks."""
    origin_text = f"{origin.topic}/{origin.partition}/{origin.offset}"
    if isinstance(outcome, DeadLetter):
        body = envelope.deadletter(
            raw or b"", outcome.reason, outcome.error, origin.topic, origin.partition, origin.offset, now,
            preview=mask_personal_data((raw or b"")[:300].decode("utf-8", "replace")),
        )
        body["iocorigin"] = origin_text
        return [Outgoing(topics.DEADLETTER, None, orjson.dumps(body))]
    if isinstance(outcome, Unroutable):
        body = envelope.unroutable(outcome.event, outcome.location, now)
        body["iocorigin"] = origin_text
        return [Outgoing(topics.UNROUTABLE, outcome.event.id.encode(), orjson.dumps(body))]
    out = []
    ward_key = outcome.location.ward.code.encode() if outcome.location.ward else b"city"
    for target in outcome.decision.targets:
        body = envelope.routed(outcome.event, outcome.location, outcome.decision, target, now)
        body["iocorigin"] = origin_text
        out.append(Outgoing(topics.target_topic(target), outcome.event.id.encode(), orjson.dumps(body)))
    lifecycle = envelope.routed(outcome.event, outcome.location, outcome.decision, "lifecycle", now)
    lifecycle["iocorigin"] = origin_text
    out.append(Outgoing(topics.ROUTED, ward_key, orjson.dumps(lifecycle)))
    return out


def count(outcome: Outcome, origin_topic: str) -> None:
    source = _SOURCE_OF_TOPIC.get(origin_topic, "unknown")
    metrics.ingested.labels(source).inc()
    if isinstance(outcome, DeadLetter):
        metrics.deadletter.labels(outcome.reason, source).inc()
        return
    for correction in outcome.location.corrections:
        metrics.corrections.labels(correction).inc()
    if isinstance(outcome, Unroutable):
        metrics.unroutable.labels(outcome.location.reason or outcome.location.status).inc()
        return
    decision = outcome.decision
    ward = outcome.location.ward.code if outcome.location.ward else "none"
    metrics.routed.labels(ward, outcome.event.kind).inc()
    if decision.suppressed:
        metrics.suppressed.labels(decision.suppressed).inc()
    for rule in decision.matched:
        metrics.rule_hits.labels(rule).inc()
    for target in decision.targets:
        metrics.published.labels(target.partition(":")[0]).inc()


def is_routed(outcome: Outcome) -> bool:
    return isinstance(outcome, Routed)
