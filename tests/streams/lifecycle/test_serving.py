"""The Redis serving index on the embedded Valkey: version guard, moves, queries, housekeeping."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from routers.incidents.book import IncidentBook
from routers.incidents.correlation import incident_id
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from streams.lifecycle.serving import IncidentIndex, IndexKeys, Query
from tests.routers.incidents.factories import BEN_THANH, T0, minutes, offset, routed_event

pytestmark = pytest.mark.integration
KEYS = IndexKeys("ioc-test")


def run(redis_url: str, body) -> None:
    redis_url = redis_url.rsplit("/", 1)[0] + "/15"  # its own database: flushed here, shared by nobody
    async def main() -> None:
        client = aioredis.from_url(redis_url)
        try:
            await client.flushdb()
            await body(IncidentIndex(client, KEYS.app_id, recent_ttl_s=3600), client)
        finally:
            await client.aclose()

    asyncio.run(main())


def scenario():
    """An incident in 27142 at three versions, and one in 26740."""
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("a1"), T0)
    v1 = book.open_in("27142")[0]
    book.on_routed(routed_event("a2", point=offset(20, 0)), T0 + minutes(1))
    v2 = book.open_in("27142")[0]
    book.on_update(StatusUpdate("u1", v2.id, "27142", Status.ACKNOWLEDGED, "o"), T0 + minutes(2))
    book.on_update(StatusUpdate("u2", v2.id, "27142", Status.RESOLVED, "o"), T0 + minutes(3))
    v4 = book.for_update("27142", v2.id)  # resolved: a stub in the table, the latest closed stay decoded
    book.on_routed(routed_event("b1", ward=BEN_THANH), T0)
    other = book.open_in(BEN_THANH.code)[0]
    return v1, v2, v4, other


def test_newer_version_wins_and_sets_follow(redis_url: str) -> None:
    v1, v2, v4, other = scenario()

    async def body(index: IncidentIndex, client) -> None:
        assert await index.put(v2)
        assert not await index.put(v1)  # a redelivered older state changes nothing
        assert (await index.get(v1.id))["version"] == v2.version
        assert await client.zscore(KEYS.open("27142"), v1.id) is not None
        assert await index.put(v4)
        assert await client.zscore(KEYS.open("27142"), v1.id) is None  # resolved: no longer open
        assert not await index.put(v2)  # late open state does not re-open it
        assert await client.zscore(KEYS.open("27142"), v1.id) is None
        await index.put(other)
        assert [b["id"] for b in await index.list(Query(ward="27142"))] == [v1.id]
        assert [b["id"] for b in await index.list(Query(ward="27142", statuses=frozenset({"open"})))] == []
        assert [b["id"] for b in await index.list(Query(statuses=frozenset({"open"})))] == [other.id]
        assert {b["id"] for b in await index.list(Query())} == {v1.id, other.id}
        assert await index.list(Query(since=T0 + minutes(10))) == []
        assert [b["id"] for b in await index.list(Query(since=T0 + minutes(2)))] == [v1.id]
        assert await index.owner_of(other.id) == BEN_THANH.code
        assert await index.owner_of("inc-nope") is None
        assert await client.ttl(KEYS.doc(v1.id)) <= 3600  # resolved: ages out with the recent TTL

    run(redis_url, body)


def test_one_call_indexes_a_batch_in_order_each_version_guarded(redis_url: str) -> None:
    """put_all writes many incidents in one script call: each gets the guard and sets put gives it."""
    v1, v2, v4, other = scenario()

    async def body(index: IncidentIndex, client) -> None:
        # v2 then the older v1 (a redelivery within the batch), the other ward's, then the resolved v4
        assert await index.put_all([v2, v1, other]) == [True, False, True]
        assert (await index.get(v1.id))["version"] == v2.version
        assert await client.zscore(KEYS.open("27142"), v1.id) is not None
        assert await client.zscore(KEYS.open(BEN_THANH.code), other.id) is not None
        assert await index.put_all([v4, v2]) == [True, False]  # resolved, then a late open state
        assert await client.zscore(KEYS.open("27142"), v1.id) is None
        assert (await index.get(v1.id))["status"] == "resolved"
        assert await client.smembers(KEYS.wards) == {b"27142", BEN_THANH.code.encode()}

    run(redis_url, body)


def test_the_whole_evidence_list_is_kept_by_index_and_read_with_the_incident(redis_url: str) -> None:
    """Each item is written once at its index; the document carries the window; ``get`` returns the
    whole list, ``list`` the window; a redelivered write lands where it landed; the list's TTL
    follows the document's."""
    book = IncidentBook({}, {}, {})
    writes = []
    for n in range(12):
        effects = book.on_routed(routed_event(f"s-{n}", source="sensor", kind="water_level", device_id="g1",
                                              value=0.5, at=T0 + minutes(n), point=None), T0 + minutes(n))
        writes.extend(effects.evidence)
    [incident] = book.open_in("27142")

    async def body(index: IncidentIndex, client) -> None:
        await index.put_all([incident], None, writes[:7])
        await index.put_all([incident], None, writes[5:])  # 5 and 6 again: a redelivered batch
        full = await index.get(incident.id)
        assert [e["event_id"] for e in full["evidence"]] == [f"s-{n}" for n in range(12)]
        assert full["evidence_dropped"] == 0 and full["evidence_count"] == 12
        [listed] = await index.list(Query(ward="27142"))
        assert len(listed["evidence"]) == len(incident.evidence) < 12 and listed["evidence_count"] == 12
        # a tracked object's item updated in place (its index is below the list's length)
        await index.put_all([], None, [replace(writes[3], item={**writes[3].item, "value": 9.0})])
        assert [e.get("value") for e in (await index.get(incident.id))["evidence"]][3] == 9.0
        assert len((await index.get(incident.id))["evidence"]) == 12
        closed = replace(incident, status=Status.RESOLVED, version=incident.version + 1)
        await index.put(closed)
        assert 0 < await client.ttl(KEYS.evidence(incident.id)) <= 3600  # resolved: ages out with the doc

    run(redis_url, body)


def test_an_incident_id_used_again_replaces_the_old_incident_and_its_list(redis_url: str) -> None:
    """A source that reuses event ids (a simulator restarted, a portal's counter reset) makes a new
    incident under an id an old, forgotten one had: the new one's document and items replace the old
    ones, though the old document's version is higher; the same incident's older version still loses."""
    old_book, new_book = IncidentBook({}, {}, {}), IncidentBook({}, {}, {})
    old_writes = []
    for n in range(4):
        old_writes.extend(old_book.on_routed(routed_event("a1" if n == 0 else f"a{n + 1}", point=offset(10 * n, 0)),
                                             T0 + minutes(n)).evidence)
    [old] = old_book.open_in("27142")
    new_writes = list(new_book.on_routed(routed_event("a1", kind="noise"), T0 + timedelta(hours=5)).evidence)
    [new] = new_book.open_in("27142")
    assert new.id == old.id and new.version < old.version and new_writes[0].opens

    async def body(index: IncidentIndex, client) -> None:
        await index.put_all([old], None, old_writes)
        assert len((await index.get(old.id))["evidence"]) == 4
        await index.put_all([new], None, new_writes)
        again = await index.get(new.id)
        assert again["kind"] == "noise" and again["version"] == new.version
        assert [e["event_id"] for e in again["evidence"]] == ["a1"] and again["evidence"][0]["kind"] == "noise"
        newer = replace(new, version=new.version + 1)
        assert await index.put(newer) and not await index.put(new)  # the same incident: the version guard holds

    run(redis_url, body)


def test_moved_incident_listed_under_its_new_ward_only(redis_url: str) -> None:
    old = IncidentBook({}, {}, {})
    old.on_routed(routed_event("m1"), T0)
    inc = incident_id("m1")
    effects = old.on_update(StatusUpdate("u1", inc, "27142", Status.REASSIGNED, "o", to_ward="26740"), T0)
    stub = old.for_update("27142", inc)  # its table entry is a stub; the latest closed stay decoded
    handoff = next(o for o in effects.outbound if o.channel == "handoff")
    new = IncidentBook({}, {}, {})
    new.on_handoff(handoff.value, T0)
    live = new.get("26740", inc)

    async def body(index: IncidentIndex, client) -> None:
        await index.put(replace(stub, version=stub.version - 1, status=Status.ROUTED, moved_to=None))  # opened
        await index.put(live)
        await index.put(stub)  # the old partition's stub arrives last: stale, but leaves the old open set
        assert await client.zscore(KEYS.open("27142"), inc) is None
        assert [b["id"] for b in await index.list(Query(ward="26740", statuses=frozenset({"open"})))] == [inc]
        assert await index.list(Query(ward="27142")) == []
        assert (await index.get(inc))["ward"] == "26740"

    run(redis_url, body)


def test_housekeeping_drops_aged_and_expired_entries(redis_url: str) -> None:
    v1, _, v4, other = scenario()

    async def body(index: IncidentIndex, client) -> None:
        await index.put(v4)
        await index.put(other)
        await client.delete(KEYS.doc(other.id))  # as if its TTL ran out
        removed = await index.housekeep(T0 + timedelta(hours=2))  # recent TTL is one hour here
        assert removed >= 3
        assert await index.list(Query()) == []
        assert await client.zcard(KEYS.open(BEN_THANH.code)) == 0

    run(redis_url, body)


def test_scores_and_ttls_are_written_exactly(redis_url: str) -> None:
    """The script takes each incident's scalars in one JSON argument: its scores must not lose
    digits on the way (Lua numbers print with 14), and the TTLs must follow the status."""
    v1, v2, v4, other = scenario()
    stamped = replace(other, created_at=T0 + timedelta(microseconds=123_457), updated_at=T0 + timedelta(seconds=1.654321))

    async def body(index: IncidentIndex, client) -> None:
        assert await index.put_all([stamped, v4]) == [True, True]
        assert await client.zscore(KEYS.open(BEN_THANH.code), other.id) == stamped.created_at.timestamp()
        assert await client.zscore(KEYS.all_recent, other.id) == stamped.updated_at.timestamp()
        assert 3600 < await client.ttl(KEYS.doc(other.id)) <= index.open_ttl_s  # open: the long TTL
        assert 0 < await client.ttl(KEYS.doc(v4.id)) <= 3600  # resolved: the recent TTL

    run(redis_url, body)
