"""Per-ward incident figures from the serving state (the lifecycle's Redis index), read through
``streams.lifecycle.serving.IncidentIndex`` so the Redis layout stays the lifecycle's business.

* open: incidents not yet resolved in the ward;
* overdue: open incidents past their acknowledge or resolve deadline (or already marked as a breach);
  a paused incident (waiting for the citizen) is not overdue while it waits;
* median time to acknowledge: over incidents of the ward acknowledged in the last 24 hours.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError

from routers import kpi
from routers.incidents.timeutil import parse_time
from streams.lifecycle.serving import IncidentIndex, Query

ACK_WINDOW = timedelta(hours=24)
CONCURRENCY = 16  # wards read at once: a few connections, not one per ward


@dataclass(frozen=True, slots=True)
class WardFigures:
    open: int = 0
    overdue: int = 0
    median_ack_s: float | None = None
    by_priority: dict[str, int] = field(default_factory=dict)
    at_risk: int = 0  # open, not overdue, past 3/4 of the time to the next deadline (routers.kpi.at_risk)

    def to_json(self) -> dict[str, Any]:
        return {"open": self.open, "overdue": self.overdue, "median_ack_s": self.median_ack_s,
                "by_priority": self.by_priority, "at_risk": self.at_risk}


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    state: str  # ok | unavailable | no_source
    message: str
    wards: dict[str, WardFigures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message,
                "wards": {code: f.to_json() for code, f in self.wards.items()}}


def _time(body: dict[str, Any], key: str) -> datetime | None:
    raw = body.get(key)
    return None if not raw else parse_time(raw)


def is_overdue(body: dict[str, Any], now: datetime) -> bool:
    if body.get("breaches"):
        return True
    if body.get("paused_since"):
        return False
    ack_due, resolve_due = _time(body, "ack_due"), _time(body, "resolve_due")
    if body.get("acknowledged_at") is None and ack_due is not None and ack_due < now:
        return True
    return resolve_due is not None and resolve_due < now


def time_to_ack_s(body: dict[str, Any]) -> float | None:
    acked, created = _time(body, "acknowledged_at"), _time(body, "created_at")
    if acked is None or created is None:
        return None
    return max((acked - created).total_seconds(), 0.0)


def figures(open_incidents: Sequence[dict[str, Any]], recent: Sequence[dict[str, Any]], now: datetime) -> WardFigures:
    by_priority: dict[str, int] = {}
    for body in open_incidents:
        by_priority[body.get("priority", "?")] = by_priority.get(body.get("priority", "?"), 0) + 1
    waits = [w for w in (time_to_ack_s(b) for b in recent) if w is not None]
    return WardFigures(
        open=len(open_incidents),
        overdue=sum(1 for b in open_incidents if is_overdue(b, now)),
        median_ack_s=statistics.median(waits) if waits else None,
        by_priority=dict(sorted(by_priority.items())),
        at_risk=sum(1 for b in open_incidents if _at_risk(b, now)),
    )


def _at_risk(body: dict[str, Any], now: datetime) -> bool:
    try:
        return kpi.at_risk(kpi.fact_of(body), now)
    except (KeyError, ValueError):
        return False


class IncidentSource:
    """Reads the serving index; ``summary(wards)`` is cached for ``cache_s`` (every screen polls)."""

    def __init__(self, redis_url: str | None, app_id: str, cache_s: float = 3.0) -> None:
        self.redis_url = redis_url
        self.app_id = app_id
        self.cache_s = cache_s
        self._client: Any = None
        self._index: IncidentIndex | None = None
        self._cached: tuple[float, tuple[str, ...], IncidentSummary] | None = None
        self._lock = asyncio.Lock()

    def index(self) -> IncidentIndex | None:
        if self._index is None and self.redis_url:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=3)
            self._index = IncidentIndex(self._client, self.app_id)
        return self._index

    def client(self) -> Any:
        """The Redis client of the serving index (``None`` without ``IOC_REDIS_URL``)."""
        self.index()
        return self._client

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def summary(self, wards: Sequence[str], now: datetime | None = None) -> IncidentSummary:
        key = tuple(wards)
        async with self._lock:
            cached = self._cached
            if cached is not None and cached[1] == key and time.monotonic() - cached[0] < self.cache_s:
                return cached[2]
            result = await self._summary(key, now or datetime.now(UTC))
            self._cached = (time.monotonic(), key, result)
            return result

    async def _summary(self, wards: tuple[str, ...], now: datetime) -> IncidentSummary:
        index = self.index()
        if index is None:
            return IncidentSummary("no_source", "IOC_REDIS_URL is not set: incident details are unavailable")
        since = now - ACK_WINDOW
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(ward: str) -> WardFigures:
            async with gate:
                open_list = await index.list(Query(ward=ward, statuses=frozenset({"open"}), limit=1000))
                recent = await index.list(Query(ward=ward, since=since, limit=500))
            return figures(open_list, recent, now)

        try:
            results = await asyncio.gather(*(one(w) for w in wards))
        except (RedisError, OSError) as exc:
            return IncidentSummary("unavailable", f"the incident store does not answer ({type(exc).__name__}: {exc})")
        return IncidentSummary("ok", f"{sum(f.open for f in results)} open incident(s) in {len(wards)} wards",
                               dict(zip(wards, results, strict=True)))

    async def recent(self, limit: int = 30) -> list[dict[str, Any]]:
        """The newest incidents in the index (any ward), for a freshly opened feed."""
        index = self.index()
        if index is None:
            return []
        return await index.list(Query(limit=limit))
