"""Conservation: every intake message ends in exactly one place. Reads the outputs back (as any
consumer would) and compares them with what was produced."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from kafka import KafkaConsumer, TopicPartition

from routers import topics
from streams import kafka_clients

OUTCOME_TOPICS = (topics.ROUTED, topics.UNROUTABLE, topics.DEADLETTER, topics.FILTERED)


@dataclass
class Ledger:
    """``places[origin]`` = the outcome topics an intake message reached (one entry per delivery)."""

    places: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    deliveries: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (origin, topic, id) -> count
    read: int = 0

    def add(self, topic: str, value: bytes) -> None:
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError:  # not ours: e.g. a malformed message another producer wrote
            return
        origin = body.get("iocorigin") if isinstance(body, dict) else None
        if origin is None:  # not an intake outcome (e.g. a status update's dead-letter)
            return
        self.places[origin].append(topic)
        self.deliveries[(origin, topic, body["id"])] += 1
        self.read += 1


@dataclass(frozen=True)
class Verdict:
    produced: int
    lost: int
    duplicated: int  # redeliveries of the same output (same CloudEvents id), allowed at-least-once
    misplaced: int  # an origin that reached two different outcome kinds: never allowed
    lost_examples: tuple[str, ...]

    def line(self) -> str:
        return f"produced={self.produced} lost={self.lost} duplicated={self.duplicated} misplaced={self.misplaced}"


def read_topics(kafka: kafka_clients.KafkaTarget, names: Iterable[str], ledger: Ledger, idle_s: float = 3.0,
                max_s: float = 120.0) -> Ledger:
    """Read ``names`` from the beginning until nothing new arrives for ``idle_s``. ``kafka``: settings or a
    bootstrap string (see :func:`streams.kafka_clients.connection`)."""
    consumer = KafkaConsumer(**kafka_clients.kafka_python(
        kafka, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=int(idle_s * 1000),
        client_id="ioc-conservation"))
    try:
        partitions = []
        for name in names:
            for p in consumer.partitions_for_topic(name) or ():
                partitions.append(TopicPartition(name, p))
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        deadline = time.monotonic() + max_s
        for message in consumer:
            ledger.add(message.topic, message.value)
            if time.monotonic() > deadline:
                break
    finally:
        consumer.close()
    return ledger


def verdict(produced_origins: Iterable[str], ledger: Ledger) -> Verdict:
    produced = list(produced_origins)
    mine = set(produced)
    lost = [o for o in produced if not ledger.places.get(o)]
    misplaced = sum(1 for o in produced if len(set(ledger.places.get(o, ()))) > 1)
    duplicated = sum(n - 1 for (origin, _t, _i), n in ledger.deliveries.items() if n > 1 and origin in mine)
    return Verdict(len(produced), len(lost), duplicated, misplaced, tuple(lost[:5]))
