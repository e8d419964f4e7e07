"""Which status updates apply where they are read: the ward's partition by Kafka's own partitioner."""

from __future__ import annotations

import pytest
from kafka.partitioner.default import murmur2

from routers.incidents.batch import Origin
from streams.lifecycle.agents import commands_topic_of_app, on_ward_partition

WARDS = ["27142", "26740", "00004", "31633", "99999"]


@pytest.mark.parametrize("ward", WARDS)
def test_an_update_keyed_by_its_ward_is_on_the_wards_partition(ward: str) -> None:
    # what kafka-python's DefaultPartitioner (the CLI, the soak's ward responder) does with key = the ward code
    partition = (murmur2(ward.encode()) & 0x7FFFFFFF) % 4
    counts = {"ioc.status": 4, commands_topic_of_app(): 4}
    assert on_ward_partition(Origin("ioc.status", partition, 7), ward, counts)
    assert not on_ward_partition(Origin("ioc.status", (partition + 1) % 4, 7), ward, counts)


def test_a_topic_with_another_partition_count_is_never_in_place() -> None:
    partition = (murmur2(b"27142") & 0x7FFFFFFF) % 8
    assert not on_ward_partition(Origin("ioc.status", partition, 1), "27142", {"ioc.status": 8, commands_topic_of_app(): 4})
    assert not on_ward_partition(Origin("ioc.status", 0, 1), "27142", {commands_topic_of_app(): 4})  # count unknown


def test_an_update_of_a_stub_recalls_the_incident_after_the_running_index_writes() -> None:
    """The agent reads a stub's whole incident from the serving index in one round trip, after the
    index writes still running (one may carry the very version the stub names)."""
    import asyncio
    import dataclasses
    from typing import Any

    from routers.incidents.batch import Received, UpdateInput
    from routers.incidents.book import IncidentBook
    from routers.incidents.correlation import incident_id
    from routers.incidents.status import Status
    from routers.incidents.updates import StatusUpdate
    from streams.lifecycle.agents import LifecycleWorker, recall
    from streams.lifecycle.clock import SystemClock
    from streams.settings import load_settings
    from tests.routers.incidents.factories import T0, routed_event

    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    book.on_update(StatusUpdate("u1", inc, "27142", Status.ACKNOWLEDGED, "o"), T0)
    resolved = book.on_update(StatusUpdate("u2", inc, "27142", Status.RESOLVED, "o"), T0).changed[-1].to_json()
    book = IncidentBook(book.incidents, book.wards, book.seen)  # restarted: nothing decoded

    class Index:
        def __init__(self) -> None:
            self.docs_held: dict[str, Any] = {}
            self.reads: list[list[str]] = []

        async def docs(self, ids: Any) -> dict[str, Any]:
            wanted = list(ids)
            self.reads.append(wanted)
            return {i: self.docs_held[i] for i in wanted if i in self.docs_held}

    index = Index()

    async def main() -> dict[str, Any]:
        async def late_write() -> None:  # the batch that resolved it is still writing the index
            await asyncio.sleep(0.05)
            index.docs_held[inc] = resolved

        state = LifecycleWorker(dataclasses.replace(load_settings(), redis_url=None), SystemClock(), book, ())
        state.index = index  # type: ignore[assignment]
        write = asyncio.ensure_future(late_write())
        state.index_writes.add(write)
        origin = Origin("ioc.status", 0, 1)
        update = StatusUpdate("u3", inc, "27142", Status.REOPENED, "o")
        item = UpdateInput(update, {}, Received(b"{}", b"27142", origin), True, origin)
        return await recall([item], state)

    assert asyncio.run(main()) == {inc: resolved}
    assert index.reads == [[inc]]
