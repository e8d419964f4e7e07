"""The Redis serving index of incidents: open and recent incidents per ward, for the HTTP API and
the dashboard. Written by the lifecycle worker, read by anyone (``IncidentIndex(redis, app_id).list``).

Keys (``redis.asyncio``), under the app id (``<app>``, like Faust's own topics), so two apps on one
Redis never read or overwrite each other's incidents:

* ``<app>:incident:<id>``: the incident JSON with history, as the lifecycle keeps it (its evidence
  window); TTL ``open_ttl_s`` while open, ``recent_ttl_s`` once resolved/closed/moved (so resolved
  incidents age out on their own);
* ``<app>:incident:<id>:evidence``: the whole evidence list (one JSON item per entry, in order),
  each item written once, by its index (:class:`~routers.incidents.book.EvidenceWrite`), so a
  redelivered write lands where it landed before; same TTL as the document. :meth:`IncidentIndex.get`
  returns the document with this list as its ``evidence`` (what the API, ``ioc incidents show``
  and the dashboard's incident view show); :meth:`IncidentIndex.list` returns the documents as
  kept (the window and ``evidence_count``);
* ``<app>:ward:<ward>:open``: sorted set of open ids (score: creation time);
* ``<app>:ward:<ward>:recent`` and ``<app>:incidents:recent``: sorted sets of ids by last update;
* ``<app>:wards``: the wards that have entries (for housekeeping).

Writes are version-guarded in one Lua script: a redelivered older state never overwrites a newer
one, and set membership only changes together with the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from routers import json_bytes
from routers.incidents import Incident
from routers.incidents.book import EvidenceWrite
from routers.incidents.model import evidence_total
from routers.incidents.status import OPEN, Status
from routers.incidents.timeutil import fmt

OPEN_TTL_S = 30 * 24 * 3600
RECENT_TTL_S = 7 * 24 * 3600

# Every incident of a batch in one call, in order. ARGV[1]: the key prefix (the app id); ARGV[2]: one
# JSON array with an entry per incident, [id, version, open (1/0), created score, updated score (text), ttl,
# ward, created_at as the document writes it]; ARGV[2 + n]: incident n's document. The script builds
# the key names from the prefix (see IndexKeys): the per-incident scalars travel as one argument,
# because redis-py packs every argument in Python (~1 us each; 15 per incident cost ~5 % of the
# lifecycle worker's CPU). The keys are not declared in KEYS: the index lives on one Redis (its keys
# were never in one cluster slot anyway). Returns 1 (written) or 0 (a newer version was there) per
# incident.
_PUT = """
local prefix = ARGV[1]
local entries = cjson.decode(ARGV[2])
local results = {}
for n, e in ipairs(entries) do
  local id, version, open, created, updated, ttl, ward, created_at = e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]
  local doc = prefix .. ':incident:' .. id
  local ward_open = prefix .. ':ward:' .. ward .. ':open'
  local written = 1
  local current = redis.call('GET', doc)
  if current then
    local ok, parsed = pcall(cjson.decode, current)
    -- a newer version of the same incident wins; a document of another incident under this id (one
    -- created at another time: a source reused the first event's id) is replaced
    if ok and tonumber(parsed['version']) and tonumber(parsed['version']) > version
        and parsed['created_at'] == created_at then
      if parsed['ward'] ~= ward and open == 0 then
        redis.call('ZREM', ward_open, id)
      end
      written = 0
    end
  end
  if written == 1 then
    redis.call('SET', doc, ARGV[2 + n], 'EX', ttl)
    redis.call('EXPIRE', doc .. ':evidence', ttl)
    if open == 1 then
      redis.call('ZADD', ward_open, created, id)
    else
      redis.call('ZREM', ward_open, id)
    end
    redis.call('ZADD', prefix .. ':ward:' .. ward .. ':recent', updated, id)
    redis.call('ZADD', prefix .. ':incidents:recent', updated, id)
    redis.call('SADD', prefix .. ':wards', ward)
  end
  results[n] = written
end
return results
"""


# An evidence item at its index of the list: an append when the list is that long, a replacement
# (a tracked object's item updated) when it is longer; a list shorter than the index (items lost
# with a Redis restart) gets the item appended. The item that opens an incident (its ``opens``
# 1) starts the list afresh: an incident id used before (its first event id sent again by a source
# that reuses ids, after the first incident was forgotten) must not show the old incident's items.
# ARGV[1]: the key prefix, ARGV[2]: the TTL, ARGV[3]: one JSON array with [incident id, index,
# opens (1/0)] per write, ARGV[3 + i]: write i's item; every write of a batch in one call, in order
# (one argument per item, as for _PUT).
_PLACE = """
local prefix, ttl = ARGV[1], ARGV[2]
local writes = cjson.decode(ARGV[3])
for i, w in ipairs(writes) do
  local key = prefix .. ':incident:' .. w[1] .. ':evidence'
  if w[3] == 1 then
    redis.call('DEL', key)
  end
  local length = redis.call('LLEN', key)
  if w[2] < length then
    redis.call('LSET', key, w[2], ARGV[3 + i])
  else
    redis.call('RPUSH', key, ARGV[3 + i])
  end
  if length == 0 then
    redis.call('EXPIRE', key, ttl)
  end
end
return #writes
"""


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """The index's Redis key names under one app id."""

    app_id: str

    def doc(self, incident_id: str) -> str:
        return f"{self.app_id}:incident:{incident_id}"

    def evidence(self, incident_id: str) -> str:
        return f"{self.app_id}:incident:{incident_id}:evidence"

    def open(self, ward: str) -> str:
        return f"{self.app_id}:ward:{ward}:open"

    def recent(self, ward: str) -> str:
        return f"{self.app_id}:ward:{ward}:recent"

    @property
    def all_recent(self) -> str:
        return f"{self.app_id}:incidents:recent"

    @property
    def wards(self) -> str:
        return f"{self.app_id}:wards"


@dataclass(frozen=True, slots=True)
class Query:
    """``status`` is a set of statuses; the pseudo-status ``open`` stands for every open one."""

    ward: str | None = None
    statuses: frozenset[str] = frozenset()
    since: datetime | None = None
    limit: int = 200


class IncidentIndex:
    def __init__(self, redis: Any, app_id: str, open_ttl_s: int = OPEN_TTL_S, recent_ttl_s: int = RECENT_TTL_S) -> None:
        self.redis = redis
        self.keys = IndexKeys(app_id)
        self.open_ttl_s = open_ttl_s
        self.recent_ttl_s = recent_ttl_s
        self._put = redis.register_script(_PUT)
        self._place = redis.register_script(_PLACE)

    @staticmethod
    def _put_entry(incident: Incident, ttl: int) -> list[Any]:
        updated = incident.updated_at or incident.created_at
        # scores as text: a Lua number would reach ZADD with 14 significant digits only
        return [incident.id, incident.version, 1 if incident.is_open else 0, repr(incident.created_at.timestamp()),
                repr(updated.timestamp()), ttl, incident.ward,
                fmt(incident.created_at)]  # as the document writes it: tells this incident from another under its id

    async def put(self, incident: Incident) -> bool:
        """Index ``incident``; False when a newer version is already there."""
        return (await self.put_all([incident]))[0]

    async def put_all(self, incidents: Iterable[Incident], bodies: Iterable[bytes | None] | None = None,
                      evidence: Iterable[EvidenceWrite] = ()) -> list[bool]:
        """Index every incident in one round trip (in order; each write version-guarded), after
        placing the ``evidence`` items in their incidents' lists: two script calls, whatever the
        batch holds. ``bodies``: each incident's JSON when the caller has it serialized already
        (None: build it). Returns the documents' results."""
        batch = list(incidents)
        items = list(evidence)
        if not batch and not items:
            return []
        serialized = list(bodies) if bodies is not None else [None] * len(batch)
        prefix = self.keys.app_id
        pipe = self.redis.pipeline(transaction=False)
        if items:
            writes = orjson.dumps([[w.incident, w.index, int(w.opens)] for w in items])
            await self._place(keys=[], args=[prefix, self.open_ttl_s, writes, *(json_bytes.dumps(w.item) for w in items)],
                              client=pipe)
        if batch:
            entries = orjson.dumps([self._put_entry(i, self.open_ttl_s if i.is_open else self.recent_ttl_s)
                                    for i in batch])
            docs = [body if body is not None else orjson.dumps(incident.to_json())
                    for incident, body in zip(batch, serialized, strict=True)]
            await self._put(keys=[], args=[prefix, entries, *docs], client=pipe)
        results = await pipe.execute()
        return [bool(done) for done in results[-1]] if batch else []

    async def get(self, incident_id: str) -> dict[str, Any] | None:
        """The incident with its whole evidence list (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self.keys.doc(incident_id))
        pipe.lrange(self.keys.evidence(incident_id), 0, -1)
        raw, items = await pipe.execute()
        return None if raw is None else with_evidence(orjson.loads(raw), items)

    async def docs(self, incident_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """incident id -> its document as kept (evidence window), for those in the index (one round
        trip): what the lifecycle recalls for an update of a closed incident."""
        ids = list(dict.fromkeys(incident_ids))
        if not ids:
            return {}
        found = await self.redis.mget([self.keys.doc(i) for i in ids])
        return {i: orjson.loads(raw) for i, raw in zip(ids, found, strict=True) if raw is not None}

    async def owner_of(self, incident_id: str) -> str | None:
        return (await self.owners_of([incident_id])).get(incident_id)

    async def owners_of(self, incident_ids: Iterable[str]) -> dict[str, str]:
        """incident id -> its owner ward, for those in the index (one round trip)."""
        return {i: str(body["ward"]) for i, body in (await self.docs(incident_ids)).items()}

    async def list(self, query: Query) -> list[dict[str, Any]]:
        """Newest first. Documents that expired are skipped (and cleaned by :meth:`housekeep`)."""
        low = "-inf" if query.since is None else query.since.timestamp()
        only_open = bool(query.statuses) and query.statuses <= ({"open"} | {s.value for s in OPEN})
        if query.ward is not None and only_open and query.since is None:
            ids = await self.redis.zrevrange(self.keys.open(query.ward), 0, -1)
        else:
            source = self.keys.all_recent if query.ward is None else self.keys.recent(query.ward)
            ids = await self.redis.zrevrangebyscore(source, "+inf", low)
        wanted = set(query.statuses)
        if "open" in wanted:
            wanted |= {s.value for s in OPEN}
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            for raw in await self.redis.mget([self.keys.doc(i.decode() if isinstance(i, bytes) else i) for i in chunk]):
                if raw is None:
                    continue
                body = orjson.loads(raw)
                if query.ward is not None and body["ward"] != query.ward:
                    continue  # a moved incident: listed under its new ward only
                if wanted and body["status"] not in wanted:
                    continue
                found.append(body)
                if len(found) >= query.limit:
                    return found
        return found

    async def housekeep(self, now: datetime) -> int:
        """Drop index entries older than the recent TTL or whose document expired; returns how many."""
        horizon = now.timestamp() - self.recent_ttl_s
        k = self.keys
        removed = int(await self.redis.zremrangebyscore(k.all_recent, "-inf", horizon))
        for raw_ward in await self.redis.smembers(k.wards):
            ward = raw_ward.decode() if isinstance(raw_ward, bytes) else raw_ward
            removed += int(await self.redis.zremrangebyscore(k.recent(ward), "-inf", horizon))
            open_ids = await self.redis.zrange(k.open(ward), 0, -1)
            if open_ids:
                exists = await self.redis.mget([k.doc(i.decode()) for i in open_ids])
                gone = [i for i, body in zip(open_ids, exists, strict=True) if body is None]
                if gone:
                    removed += int(await self.redis.zrem(k.open(ward), *gone))
            if not await self.redis.exists(k.recent(ward), k.open(ward)):
                await self.redis.srem(k.wards, ward)
        return removed


def with_evidence(body: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    """``body`` with the whole evidence list read from the index (``items``: raw JSON entries). An
    incident indexed before the list existed, or whose list expired, keeps the window it has."""
    if len(items) < len(body.get("evidence") or ()):
        return body
    count = evidence_total(body)
    return {**body, "evidence": [orjson.loads(i) for i in items], "evidence_dropped": max(count - len(items), 0)}


STATUS_NAMES = frozenset({"open"} | {s.value for s in Status})
