"""What the dashboard shows from the metrics, whatever answered them (Prometheus or the workers).

A :class:`MetricsView` always says *why* a number is missing: ``state`` is one of

* ``ok``: the source answered and the workers have reported data;
* ``partial``: some workers (scrape targets) do not answer; numbers cover the others;
* ``no_data``: the source answers but has no ioc-router series yet (nothing ingested);
* ``unreachable``: Prometheus or every worker failed to answer;
* ``no_source``: neither ``IOC_PROMETHEUS_URL`` nor ``IOC_WORKER_METRICS_URLS`` is set.

Numbers are ``None`` when unknown, never a made-up 0: the page renders ``None`` as "no data".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

State = Literal["ok", "partial", "no_data", "unreachable", "no_source"]
SourceKind = Literal["prometheus", "workers", "none"]


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-second rates over the last minute (Prometheus) or between the last two scrapes (workers)."""

    ingested: float | None = None
    routed: float | None = None
    unroutable: float | None = None
    deadletter: float | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    """Counter values summed over workers since they started."""

    ingested: float | None = None
    routed: float | None = None
    unroutable: float | None = None
    deadletter: float | None = None


@dataclass(frozen=True, slots=True)
class Latency:
    p50_s: float | None = None
    p95_s: float | None = None


@dataclass(frozen=True, slots=True)
class MetricsView:
    state: State
    message: str
    source: SourceKind
    source_url: str = ""
    targets_up: int = 0
    targets_down: int = 0
    rates: Rates = field(default_factory=Rates)
    totals: Totals = field(default_factory=Totals)
    latency: Latency = field(default_factory=Latency)
    deadletter_by_reason: dict[str, float] = field(default_factory=dict)
    unroutable_by_reason: dict[str, float] = field(default_factory=dict)
    open_by_ward: dict[str, float] = field(default_factory=dict)
    routed_by_ward: dict[str, float] = field(default_factory=dict)
    sla_breaches: dict[str, float] = field(default_factory=dict)  # kind (ack|resolve) -> count
    consumer_lag: dict[str, float] = field(default_factory=dict)  # topic -> messages
    rules_versions: list[dict[str, str]] = field(default_factory=list)
    boundary_generations: list[dict[str, str]] = field(default_factory=list)
    build: list[dict[str, str]] = field(default_factory=list)

    @property
    def has_numbers(self) -> bool:
        return self.state in ("ok", "partial")

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def classify(up: int, down: int, has_series: bool) -> tuple[State, str]:
    """The state and the plain sentence the page shows for it."""
    if up == 0 and down > 0:
        return "unreachable", f"no worker answers ({down} scrape target(s) down)"
    if not has_series:
        if up == 0:
            return "no_data", "no worker is being scraped yet"
        return "no_data", f"{up} worker(s) answer but have not ingested anything yet"
    if down:
        return "partial", f"{down} of {up + down} workers are not answering; numbers cover the other {up}"
    return "ok", f"{up} worker(s) reporting"


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative ``(le, count)`` pairs.

    Linear interpolation inside the bucket that holds the rank; the ``+Inf`` bucket answers with the
    upper bound of the last finite bucket, as Prometheus does. ``None`` when there are no observations.

    >>> histogram_quantile(0.5, [(0.1, 0.0), (0.2, 10.0), (float("inf"), 10.0)])
    0.15
    """
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return ordered[-2][0] if len(ordered) > 1 else None


def positive(values: Mapping[str, float]) -> dict[str, float]:
    """Drop zero series (a label seen once and now back to 0), sorted by value, largest first."""
    return dict(sorted(((k, v) for k, v in values.items() if v > 0), key=lambda kv: (-kv[1], kv[0])))
