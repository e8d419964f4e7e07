"""Reading topics from the command line with kafka-python, without a consumer group.

Groups take seconds to join (and are not needed to read): every partition is assigned directly,
positioned by time (``offsets_for_times``) or at the beginning, and read up to the end offsets
taken at the start (or followed until a deadline).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from routers import topics
from routers.rules import Ruleset
from streams import kafka_clients
from streams.rules_live.follow import RulesRecord, parse_record


def _consumer(kafka: kafka_clients.KafkaTarget) -> KafkaConsumer:
    return KafkaConsumer(**kafka_clients.kafka_python(
        kafka, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", client_id="ioc-cli-reader",
        request_timeout_ms=15000, consumer_timeout_ms=1000))


def _partitions(consumer: KafkaConsumer, topic: str, wait_s: float = 10.0) -> list[TopicPartition]:
    deadline = time.monotonic() + wait_s
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() > deadline:
            raise LookupError(f"topic {topic!r} does not exist on the broker")
        consumer.poll(timeout_ms=200)  # refreshes metadata


def read_topic(kafka: kafka_clients.KafkaTarget, topic: str, since_s: float | None, follow_s: float | None = None,
               limit: int | None = None) -> Iterator[Any]:
    """Messages of ``topic`` from ``since_s`` seconds ago (None: from now), in per-partition order.

    Without ``follow_s`` it stops at the end offsets seen at the start; with it, it keeps
    reading new messages for that many seconds. ``limit`` caps the count.
    """
    consumer = _consumer(kafka)
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        end = consumer.end_offsets(partitions)
        if since_s is None:
            for tp in partitions:
                consumer.seek(tp, end[tp])
        else:
            start_ms = int((time.time() - since_s) * 1000)
            found = consumer.offsets_for_times({tp: start_ms for tp in partitions})
            for tp in partitions:
                offset = found.get(tp)
                consumer.seek(tp, offset.offset if offset is not None else end[tp])
        deadline = None if follow_s is None else time.monotonic() + follow_s
        count = 0
        while True:
            if deadline is None and all(consumer.position(tp) >= end[tp] for tp in partitions):
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            for records in consumer.poll(timeout_ms=500).values():
                for message in records:
                    yield message
                    count += 1
                    if limit is not None and count >= limit:
                        return
    finally:
        consumer.close()


def read_compacted(kafka: kafka_clients.KafkaTarget, topic: str) -> list[RulesRecord]:
    """Every record of a single-partition config topic, from its beginning to its current end."""
    consumer = _consumer(kafka)
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[RulesRecord] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                for message in batch:
                    headers = dict(message.headers or ())
                    by = headers.get("applied-by", b"")
                    records.append(RulesRecord(message.offset, message.key, message.value,
                                               by.decode("utf-8", "replace") if isinstance(by, bytes) else ""))
        return records
    finally:
        consumer.close()


def fetch_applied(kafka: kafka_clients.KafkaTarget) -> tuple[Ruleset, str] | None:
    """The newest valid version on ``ioc.config.rules`` and who applied it (None: nothing applied)."""
    for record in reversed(read_compacted(kafka, topics.CONFIG_RULES)):
        ruleset = parse_record(record)
        if ruleset is not None:
            return ruleset, record.applied_by
    return None
