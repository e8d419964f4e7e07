"""KPI facts kept per month in Redis, so the monthly ranking outlives the serving index.

The lifecycle's serving index keeps a resolved incident for 7 days; the city ranks its wards per
month. :class:`KpiStore` copies the small :class:`routers.kpi.Fact` of every incident it finds in
the index into ``<app>:kpi:month:<YYYY-MM>`` (a hash: incident id -> fact JSON; month of creation,
Vietnam time; kept ``RETENTION_S``), newest state wins. It syncs on demand (at most every
``min_interval_s``) from ``<app>:kpi:synced`` (the last sync time) minus a margin, so a restart of
the dashboard loses nothing the index still holds. The figures are computed by ``routers.kpi``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import orjson

from routers.kpi import Fact, fact_of, month_of, months_between
from streams.lifecycle.serving import IncidentIndex, Query

RETENTION_S = 400 * 24 * 3600
SYNC_MARGIN = timedelta(minutes=2)
SYNC_BATCH = 10**7  # Query.limit: every incident updated since the last sync


class KpiStore:
    def __init__(self, redis: Any, index: IncidentIndex, app_id: str, min_interval_s: float = 5.0) -> None:
        self.redis = redis
        self.index = index
        self.app_id = app_id
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._lock = asyncio.Lock()

    def month_key(self, month: str) -> str:
        return f"{self.app_id}:kpi:month:{month}"

    @property
    def synced_key(self) -> str:
        return f"{self.app_id}:kpi:synced"

    async def sync(self, now: datetime, force: bool = False) -> int:
        """Copy the facts of incidents updated since the last sync; returns how many were written."""
        async with self._lock:
            if not force and time.monotonic() - self._last < self.min_interval_s:
                return 0
            raw = await self.redis.get(self.synced_key)
            since = None if raw is None else datetime.fromisoformat(raw.decode()) - SYNC_MARGIN
            incidents = await self.index.list(Query(since=since, limit=SYNC_BATCH))
            pipe = self.redis.pipeline(transaction=False)
            months = set()
            for body in incidents:
                fact = fact_of(body)
                month = month_of(fact.created_at)
                months.add(month)
                pipe.hset(self.month_key(month), fact.id, orjson.dumps(fact.to_json()))
            for month in months:
                pipe.expire(self.month_key(month), RETENTION_S)
            pipe.set(self.synced_key, now.isoformat())
            await pipe.execute()
            self._last = time.monotonic()
            return len(incidents)

    async def facts(self, start: datetime, end: datetime) -> list[Fact]:
        """Facts of incidents created in ``[start, end)``."""
        months = months_between(start, end)
        pipe = self.redis.pipeline(transaction=False)
        for month in months:
            pipe.hvals(self.month_key(month))
        found = []
        for values in await pipe.execute():
            for raw in values:
                fact = fact_of(orjson.loads(raw))
                if start <= fact.created_at < end:
                    found.append(fact)
        return found
