"""Start labelled counters at 0 for every label value known in advance.

A Prometheus counter child exists only once ``labels(...)`` was called: before the first SLA breach
``ioc_sla_breaches_total{priority="P1"}`` has no series at all, and ``increase()`` over a series
that appears already at 1 has a single sample and returns nothing, so the first breach after a
worker start would not page. Creating the children at worker start gives every alert a 0 to
compare with. Only bounded, known label sets are listed here (priorities, breach kinds, levels,
statuses, intake sources, reasons); ward codes and rule ids are not.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from routers.incidents.status import WARD_SETTABLE
from streams import metrics

PRIORITIES = ("P1", "P2", "P3", "P4")
BREACH_KINDS = ("ack", "resolve")
ESCALATION_LEVELS = ("agency", "city_ioc")
INTAKE_SOURCES = ("report", "camera", "sensor")
UNROUTABLE_REASONS = ("outside_boundaries", "unknown_device", "address_unresolved", "ambiguous_address", "no_location")
# Rejections of status updates, as docs/lifecycle.md lists them (source "status"), and the lifecycle's own.
STATUS_REASONS = (
    "bad_json", "bad_update", "unknown_status", "unknown_incident", "wrong_ward", "illegal_transition",
    "out_of_order", "already_in_status", "not_settable", "not_permitted",
)
LIFECYCLE_REASONS = ("malformed_routed", "lifecycle_error", "not_permitted")


def _zero(metric: Counter | Histogram, label_sets: Iterable[tuple[str, ...]]) -> None:
    for labels in label_sets:
        metric.labels(*labels)  # creating the child exposes it at 0


def start_at_zero() -> None:
    """Create the children of every counter whose label values are known (idempotent)."""
    _zero(metrics.sla_breaches, ((kind, p) for kind in BREACH_KINDS for p in PRIORITIES))
    _zero(metrics.escalations, ((level,) for level in ESCALATION_LEVELS))
    _zero(metrics.status_updates, ((status.value,) for status in sorted(WARD_SETTABLE)))
    _zero(metrics.time_to_acknowledge, ((p,) for p in PRIORITIES))
    _zero(metrics.time_to_resolve, ((p,) for p in PRIORITIES))
    _zero(metrics.ingested, ((source,) for source in INTAKE_SOURCES))
    _zero(metrics.unroutable, ((reason,) for reason in UNROUTABLE_REASONS))
    _zero(metrics.deadletter, ((reason, "status") for reason in STATUS_REASONS))
    _zero(metrics.deadletter, ((reason, "lifecycle") for reason in LIFECYCLE_REASONS))
