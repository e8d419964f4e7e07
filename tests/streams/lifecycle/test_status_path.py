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
