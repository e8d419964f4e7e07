"""Metrics from Prometheus: instant PromQL queries over its HTTP API (``IOC_PROMETHEUS_URL``).

Every panel is one query below; the same expressions work in Grafana and in alert rules.
Worker health comes from ``up`` of the scrape job (``IOC_PROMETHEUS_WORKER_JOB``, default
``ioc-worker`` as in ``deploy/prometheus/prometheus.yml``).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import aiohttp

from dashboards.overview import Latency, MetricsView, Rates, Totals, classify, positive

COUNTERS = {
    "ingested": "ioc_ingested_total",
    "routed": "ioc_routed_total",
    "unroutable": "ioc_unroutable_total",
    "deadletter": "ioc_deadletter_total",
}
RATE_WINDOW = "1m"
LATENCY_WINDOW = "5m"


def queries(worker_job: str) -> dict[str, str]:
    """Panel name -> PromQL."""
    q = {f"total_{k}": f"sum({name})" for k, name in COUNTERS.items()}
    q |= {f"rate_{k}": f"sum(rate({name}[{RATE_WINDOW}]))" for k, name in COUNTERS.items()}
    for label, quantile in (("p50", 0.5), ("p95", 0.95)):
        q[label] = (f"histogram_quantile({quantile}, sum by (le) "
                    f"(rate(ioc_routing_latency_seconds_bucket[{LATENCY_WINDOW}])))")
    q |= {
        "deadletter_by_reason": "sum by (reason) (ioc_deadletter_total)",
        "unroutable_by_reason": "sum by (reason) (ioc_unroutable_total)",
        "open_by_ward": "sum by (ward) (ioc_open_incidents)",
        "routed_by_ward": "sum by (ward) (ioc_routed_total)",
        "sla_breaches": "sum by (kind) (ioc_sla_breaches_total)",
        "consumer_lag": "sum by (topic) (ioc_consumer_lag_messages)",
        "rules": "count by (version, source) (ioc_rules_info)",
        "boundaries": "count by (generation, source) (ioc_boundary_generation_info)",
        "build": "count by (version) (ioc_build_info)",
        "up": f'up{{job="{worker_job}"}}',
    }
    return q


class PrometheusError(Exception):
    """Prometheus did not answer, or answered with an error."""


def _number(raw: str) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


class PrometheusMetrics:
    kind = "prometheus"

    def __init__(self, url: str, worker_job: str = "ioc-worker", timeout_s: float = 3.0, cache_s: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.worker_job = worker_job
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.cache_s = cache_s
        self._session: aiohttp.ClientSession | None = None
        self._cached: tuple[float, MetricsView] | None = None
        self._lock = asyncio.Lock()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def start(self) -> None:
        self._client()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """``data.result`` of an instant query (a vector of ``{"metric": {...}, "value": [t, "v"]}``)."""
        try:
            async with self._client().get(f"{self.url}/api/v1/query", params={"query": promql}) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PrometheusError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType', 'error')}: {body.get('error', 'unknown error')}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else []

    async def view(self) -> MetricsView:
        async with self._lock:  # several wall screens polling share one round of queries
            if self._cached is not None and time.monotonic() - self._cached[0] < self.cache_s:
                return self._cached[1]
            view = await self._fetch()
            self._cached = (time.monotonic(), view)
            return view

    async def _fetch(self) -> MetricsView:
        names = queries(self.worker_job)
        try:
            answers = await asyncio.gather(*(self.query(q) for q in names.values()))
        except PrometheusError as exc:
            return MetricsView(state="unreachable", message=f"Prometheus at {self.url} does not answer ({exc})",
                               source="prometheus", source_url=self.url)
        r = dict(zip(names, answers, strict=True))

        def scalar(name: str) -> float | None:
            return _number(r[name][0]["value"][1]) if r[name] else None

        def by(name: str, label: str) -> dict[str, float]:
            out: dict[str, float] = {}
            for series in r[name]:
                value = _number(series["value"][1])
                if value is not None:
                    out[series["metric"].get(label, "")] = value
            return out

        up = sum(1 for s in r["up"] if s["value"][1] == "1")
        down = len(r["up"]) - up
        has_series = (scalar("total_ingested") or 0) > 0
        state, message = classify(up, down, has_series)
        if has_series and not r["up"]:
            message = f"Prometheus has ioc-router data, but no scrape job named {self.worker_job!r}"
        if state == "no_data" and up == 0 and down == 0:
            message = f"Prometheus answers but scrapes no worker yet (job {self.worker_job!r} has no targets)"
        common: dict[str, Any] = {"source": "prometheus", "source_url": self.url, "targets_up": up,
                                  "targets_down": down}
        if state in ("unreachable", "no_data"):
            return MetricsView(state=state, message=message, **common)
        return MetricsView(
            state=state,
            message=message,
            rates=Rates(**{k: scalar(f"rate_{k}") for k in COUNTERS}),
            totals=Totals(**{k: scalar(f"total_{k}") for k in COUNTERS}),
            latency=Latency(scalar("p50"), scalar("p95")),
            deadletter_by_reason=positive(by("deadletter_by_reason", "reason")),
            unroutable_by_reason=positive(by("unroutable_by_reason", "reason")),
            open_by_ward=positive(by("open_by_ward", "ward")),
            routed_by_ward=positive(by("routed_by_ward", "ward")),
            sla_breaches=positive(by("sla_breaches", "kind")),
            consumer_lag=by("consumer_lag", "topic"),
            rules_versions=[{k: v for k, v in s["metric"].items() if k != "__name__"} for s in r["rules"]],
            boundary_generations=[{k: v for k, v in s["metric"].items() if k != "__name__"} for s in r["boundaries"]],
            build=[{k: v for k, v in s["metric"].items() if k != "__name__"} for s in r["build"]],
            **common,
        )
