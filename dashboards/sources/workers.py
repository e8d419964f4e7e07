"""Metrics straight from the workers' ``/metrics`` (no Prometheus): ``IOC_WORKER_METRICS_URLS``.

Scraping reuses :func:`streams.scrape.scrape` (prometheus-client's own exposition parser). Rates
and latency quantiles need two scrapes: they are computed between the last two and are ``None``
("measuring") until the second one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dashboards.overview import Latency, MetricsView, Rates, Totals, classify, histogram_quantile, positive
from streams.scrape import Totals as Scraped
from streams.scrape import scrape

_COUNTERS = {
    "ingested": "ioc_ingested_total",
    "routed": "ioc_routed_total",
    "unroutable": "ioc_unroutable_total",
    "deadletter": "ioc_deadletter_total",
}
_LATENCY_BUCKET = "ioc_routing_latency_seconds_bucket"


@dataclass(frozen=True, slots=True)
class Scrape:
    at: float  # time.monotonic()
    totals: Scraped


def _latency_buckets(totals: Scraped) -> dict[float, float]:
    out: dict[float, float] = {}
    for labels, value in totals.samples.get(_LATENCY_BUCKET, {}).items():
        le = dict(labels).get("le")
        if le is not None:
            bound = math.inf if le in ("+Inf", "Inf") else float(le)
            out[bound] = out.get(bound, 0.0) + value
    return out


def _info(totals: Scraped, name: str) -> list[dict[str, str]]:
    return [dict(labels) for labels, value in totals.samples.get(name, {}).items() if value]


def view_of(latest: Scrape, previous: Scrape | None, urls: Sequence[str]) -> MetricsView:
    """The view from the latest scrape, with rates against the previous one when there is one."""
    t = latest.totals
    has_series = t.total("ioc_ingested_total") > 0
    state, message = classify(t.reachable, t.unreachable, has_series)
    common = {"source": "workers", "source_url": ", ".join(urls), "targets_up": t.reachable,
              "targets_down": t.unreachable}
    if state in ("unreachable", "no_data"):
        return MetricsView(state=state, message=message, **common)  # type: ignore[arg-type]
    rates = Rates()
    latency = Latency()
    dt = None if previous is None else latest.at - previous.at
    if previous is not None and dt and dt > 0 and previous.totals.reachable == t.reachable:
        p = previous.totals
        rates = Rates(**{k: max(t.total(n) - p.total(n), 0.0) / dt for k, n in _COUNTERS.items()})
        now_b, then_b = _latency_buckets(t), _latency_buckets(p)
        window = [(le, max(c - then_b.get(le, 0.0), 0.0)) for le, c in now_b.items()]
        if not any(c for _, c in window):
            window = list(now_b.items())  # nothing new in the window: quantiles since start
        latency = Latency(histogram_quantile(0.5, window), histogram_quantile(0.95, window))
    elif _latency_buckets(t):
        buckets = list(_latency_buckets(t).items())
        latency = Latency(histogram_quantile(0.5, buckets), histogram_quantile(0.95, buckets))
    return MetricsView(
        state=state,
        message=message,
        rates=rates,
        totals=Totals(**{k: t.total(n) for k, n in _COUNTERS.items()}),
        latency=latency,
        deadletter_by_reason=positive(t.by_label("ioc_deadletter_total", "reason")),
        unroutable_by_reason=positive(t.by_label("ioc_unroutable_total", "reason")),
        open_by_ward=positive(t.by_label("ioc_open_incidents", "ward")),
        routed_by_ward=positive(t.by_label("ioc_routed_total", "ward")),
        sla_breaches=positive(t.by_label("ioc_sla_breaches_total", "kind")),
        consumer_lag=dict(t.by_label("ioc_consumer_lag_messages", "topic")),
        rules_versions=_info(t, "ioc_rules_info"),
        boundary_generations=_info(t, "ioc_boundary_generation_info"),
        build=_info(t, "ioc_build_info"),
        **common,  # type: ignore[arg-type]
    )


class WorkerMetrics:
    """Scrapes every ``interval_s`` in the background (started with the web app); ``view()`` is cheap."""

    kind = "workers"

    def __init__(self, urls: Sequence[str], interval_s: float = 3.0, timeout_s: float = 2.0) -> None:
        self.urls = list(urls)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._latest: Scrape | None = None
        self._latest_started = float("-inf")
        self._previous: Scrape | None = None
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> Scrape:
        """Scrape now. Two refreshes may overlap (the background loop and a caller); the one that
        started last is kept, so a slow older scrape never replaces a newer one."""
        started = time.monotonic()
        totals = await asyncio.to_thread(scrape, self.urls, self.timeout_s)
        latest = Scrape(time.monotonic(), totals)
        if started >= self._latest_started:
            self._previous, self._latest, self._latest_started = self._latest, latest, started
        return latest

    async def _loop(self) -> None:
        while True:  # start() scraped already
            await asyncio.sleep(self.interval_s)
            await self.refresh()

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="scrape-workers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def view(self) -> MetricsView:
        latest = self._latest if self._latest is not None else await self.refresh()
        return view_of(latest, self._previous, self.urls)
