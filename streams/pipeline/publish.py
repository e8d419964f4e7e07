"""Outcome -> the messages to produce, and the metrics that count them."""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from routers import envelope
from routers.route import DeadLetter, Filtered, Outcome, Unroutable
from streams import metrics, topics
from streams.binding import CLOUDEVENTS_HEADERS
from streams.delivery import Outgoing

_SOURCE_OF_TOPIC = {topics.REPORTS: "report", topics.CAMERA: "camera", topics.SENSORS: "sensor"}
_target_topic = functools.lru_cache(maxsize=4096)(topics.target_topic)  # a few hundred targets, each seen often


_SKIP_LIFECYCLE = ((topics.LIFECYCLE_HEADER, topics.LIFECYCLE_SKIP),)
_ROUTED_TELEMETRY = [*CLOUDEVENTS_HEADERS, *_SKIP_LIFECYCLE]  # a list, as aiokafka's record builder wants


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
        )
        body["iocorigin"] = origin_text
        return [Outgoing(topics.DEADLETTER, None, orjson.dumps(body), CLOUDEVENTS_HEADERS)]
    if isinstance(outcome, Filtered):
        body = envelope.filtered(outcome.event_id, outcome.reason, outcome.summary, now)
        body["iocorigin"] = origin_text
        return [Outgoing(topics.FILTERED, outcome.event_id.encode(), orjson.dumps(body), CLOUDEVENTS_HEADERS)]
    if isinstance(outcome, Unroutable):
        body = envelope.unroutable(outcome.event, outcome.location, now)
        body["iocorigin"] = origin_text
        return [Outgoing(topics.UNROUTABLE, outcome.event.id.encode(), orjson.dumps(body), CLOUDEVENTS_HEADERS)]
    ward_key = outcome.location.ward.code.encode() if outcome.location.ward else b"city"
    event_key = outcome.event.id.encode()
    targets = (*outcome.decision.targets, "lifecycle")
    out = []
    for target, body in zip(targets, envelope.routed_all(outcome.event, outcome.location, outcome.decision,
                                                          targets, now), strict=True):
        body["iocorigin"] = origin_text
        if target == "lifecycle":
            out.append(Outgoing(topics.ROUTED, ward_key, orjson.dumps(body),
                                _ROUTED_TELEMETRY if outcome.telemetry else CLOUDEVENTS_HEADERS))
        else:
            out.append(Outgoing(_target_topic(target), event_key, orjson.dumps(body), CLOUDEVENTS_HEADERS))
    return out


# ``Counter.labels`` validates and looks up its arguments on every call (~5 us); the label sets are
# bounded (ward x kind at most), so each child is looked up once.
_ingested = functools.cache(metrics.ingested.labels)
_deadletter = functools.cache(metrics.deadletter.labels)
_filtered = functools.cache(metrics.filtered.labels)
_corrections = functools.cache(metrics.corrections.labels)
_unroutable = functools.cache(metrics.unroutable.labels)
_routed = functools.cache(metrics.routed.labels)
_suppressed = functools.cache(metrics.suppressed.labels)
_silenced = functools.cache(metrics.silenced.labels)
_rule_hits = functools.cache(metrics.rule_hits.labels)
_published = functools.cache(metrics.published.labels)

Child = Callable[..., Any]


class Tally:
    """The metrics of a batch's outcomes, added to the counters once per label set.

    An ``inc()`` takes the child's lock and costs ~1.7 us; an event moves four or five counters,
    so counting per event was a tenth of the routing core's CPU. Scrapes see a batch at once.
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[Child, tuple[str, ...]]] = collections.Counter()

    def add(self, outcome: Outcome, origin_topic: str) -> None:
        counts = self._counts
        source = _SOURCE_OF_TOPIC.get(origin_topic, "unknown")
        counts[_ingested, (source,)] += 1
        if isinstance(outcome, DeadLetter):
            counts[_deadletter, (outcome.reason, source)] += 1
            return
        if isinstance(outcome, Filtered):
            counts[_filtered, (outcome.reason, source)] += 1
            return
        for correction in outcome.location.corrections:
            counts[_corrections, (correction,)] += 1
        if isinstance(outcome, Unroutable):
            counts[_unroutable, (outcome.location.reason or outcome.location.status,)] += 1
            return
        decision = outcome.decision
        ward = outcome.location.ward.code if outcome.location.ward else "none"
        counts[_routed, (ward, outcome.event.kind)] += 1
        if decision.suppressed:
            if decision.suppressed.startswith("silenced:"):  # silence ids are unbounded: count by source
                counts[_suppressed, ("silenced",)] += 1
                counts[_silenced, (source,)] += 1
            else:
                counts[_suppressed, (decision.suppressed,)] += 1
        for rule in decision.matched:
            counts[_rule_hits, (rule,)] += 1
        for target in decision.targets:
            counts[_published, (target.partition(":")[0],)] += 1

    def flush(self) -> None:
        for (child, labels), amount in self._counts.items():
            child(*labels).inc(amount)
        self._counts.clear()

