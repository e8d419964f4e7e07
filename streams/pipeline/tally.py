"""The metrics of the intake's outcomes, counted per batch (:class:`Tally`)."""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable
from typing import Any

from routers.route import DeadLetter, Filtered, Outcome, Unroutable
from routers.topics import SOURCE_OF_TOPIC
from streams import metrics

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
        source = SOURCE_OF_TOPIC.get(origin_topic, "unknown")
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

