"""The requests the API accepted, in Redis, next to the incident index (same app-id prefix).

* ``<app>:open311:request:<id>``: a hash, ``record`` (JSON: what GET shows, no personal data) and
  the tracking fields ``state`` (received|routed|unroutable|deadletter), ``incident``, ``reason``,
  ``updated_at`` and the incident's last known ``incident_status``, ``ward``, ``ward_name``,
  ``summary``; it expires :data:`TTL_S` after the last change.
* ``<app>:open311:requests``: sorted set of ids by request time, for ``GET requests.json``.

A tracking update only touches a request that exists (one Lua script), so following the
pipeline's outputs for every report in the city stores nothing about reports that did not come
through this API. ``routed`` never overwrites ``unroutable``/``deadletter`` and a terminal state never
turns back into ``routed`` (a redelivered message cannot reopen a closed request).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from routers.envelope import iso
from routers.open311.tracking import Outcome
from routers.open311.view import RECEIVED

TTL_S = 30 * 24 * 3600  # like an open incident's document

_TRACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
if (state == 'unroutable' or state == 'deadletter') and ARGV[1] == 'routed' then return 0 end
local known = redis.call('HMGET', KEYS[1], 'incident', 'incident_status', 'summary', 'ward')
if state == ARGV[1] and known[1] == ARGV[2] and known[2] == ARGV[6] and known[3] == ARGV[9] and known[4] == ARGV[7] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'incident', ARGV[2], 'reason', ARGV[3], 'updated_at', ARGV[4],
           'incident_status', ARGV[6], 'ward', ARGV[7], 'ward_name', ARGV[8], 'summary', ARGV[9])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class RequestStore:
    def __init__(self, redis: Any, app_id: str, ttl_s: int = TTL_S) -> None:
        self.redis = redis
        self.prefix = f"{app_id}:open311"
        self.ttl_s = ttl_s
        self._track = redis.register_script(_TRACK)

    def key(self, request_id: str) -> str:
        return f"{self.prefix}:request:{request_id}"

    @property
    def by_time(self) -> str:
        return f"{self.prefix}:requests"

    async def add(self, record: dict[str, Any], requested_at: datetime) -> None:
        """Before the report is produced: the tracker may see the pipeline's answer right after."""
        key = self.key(record["service_request_id"])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"record": orjson.dumps(record), "state": RECEIVED, "incident": "", "reason": "",
                                    "updated_at": iso(requested_at)})
            pipe.expire(key, self.ttl_s)
            pipe.zadd(self.by_time, {record["service_request_id"]: requested_at.timestamp()})
            await pipe.execute()

    async def discard(self, request_id: str) -> None:
        """The report could not be produced: the client got an error, nothing was accepted."""
        await self.redis.delete(self.key(request_id))
        await self.redis.zrem(self.by_time, request_id)

    async def track(self, outcomes: Sequence[Outcome], now: datetime) -> list[Outcome]:
        """Record what the pipeline made of reports; returns the outcomes that changed a request."""
        if not outcomes:
            return []
        stamp = iso(now)
        async with self.redis.pipeline(transaction=False) as pipe:
            for o in outcomes:
                await self._track(keys=[self.key(o.report_id)],
                                  args=[o.state, o.incident_id or "", o.reason or "", stamp, self.ttl_s,
                                        o.incident_status or "", o.ward or "", o.ward_name or "", o.summary or ""],
                                  client=pipe)
            results = await pipe.execute()
        return [o for o, changed in zip(outcomes, results, strict=True) if int(changed)]

    async def get_many(self, ids: Sequence[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(record, tracking) of each id that exists, in order."""
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hgetall(self.key(request_id))
            rows = await pipe.execute()
        found = []
        for row in rows:
            if not row:
                continue
            fields = {_text(k) or "": v for k, v in row.items()}
            record: dict[str, Any] = orjson.loads(fields.pop("record"))
            found.append((record, {k: _text(v) or None for k, v in fields.items()}))
        return found

    async def ids_between(self, start: datetime, end: datetime, limit: int) -> list[str]:
        """Newest first, requested between ``start`` and ``end``."""
        raw = await self.redis.zrevrangebyscore(self.by_time, end.timestamp(), start.timestamp(), start=0, num=limit)
        return [_text(r) or "" for r in raw]

    async def housekeep(self, now: datetime) -> int:
        """Drop ids older than the TTL from the time index."""
        return int(await self.redis.zremrangebyscore(self.by_time, "-inf", now.timestamp() - self.ttl_s))
