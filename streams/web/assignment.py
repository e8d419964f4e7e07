"""``ioc_assigned_partitions``: which share of the work this worker holds, kept current on rebalances.

Faust sends ``on_partitions_revoked`` (everything this member held, at the start of a rebalance)
and then ``on_partitions_assigned`` with the member's complete new assignment. The gauge shows the
count per topic, so ``sum by (topic)`` over the workers equals each topic's partition count once
the group is stable, and a worker that left or joined is visible within one rebalance.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from streams import metrics
from streams.app import app

log = logging.getLogger(__name__)

_seen_topics: set[str] = set()
_held: set[Any] = set()


def publish_assignment(held: Iterable[Any]) -> dict[str, int]:
    """Set the gauge to the topic partitions ``held``; topics no longer held read 0."""
    counts = Counter(tp.topic for tp in held)
    for topic in _seen_topics - set(counts):
        metrics.assigned_partitions.labels(topic=topic).set(0)
    for topic, n in counts.items():
        metrics.assigned_partitions.labels(topic=topic).set(n)
    _seen_topics.update(counts)
    return dict(counts)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # Faust types receivers as taking *args and a signal= keyword
async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
    _held.difference_update(revoked)  # eager rebalance (Faust's assignor): everything, until the new assignment
    publish_assignment(_held)


@app.on_partitions_assigned.connect  # type: ignore[arg-type]  # Faust types receivers as taking *args and a signal= keyword
async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
    _held.clear()
    _held.update(assigned)
    counts = publish_assignment(_held)
    log.info("assigned partitions: %s", ", ".join(f"{t}={n}" for t, n in sorted(counts.items())) or "none")
