"""Publish a rules version to ``ioc.config.rules`` (what ``ioc rules apply`` does after validating)."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaProducer

from routers import topics
from routers.rules import Ruleset
from streams import kafka_clients
from streams.rules_live.follow import APPLIED_BY, KEY


@dataclass(frozen=True, slots=True)
class Published:
    topic: str
    partition: int
    offset: int
    version: str
    applied_by: str


def who_applies() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def publish_rules(kafka: kafka_clients.KafkaTarget, ruleset: Ruleset, applied_by: str | None = None,
                  topic: str = topics.CONFIG_RULES, timeout_s: float = 30.0) -> Published:
    """Send the validated ruleset's text under key ``active``; wait for the broker's ack."""
    by = applied_by or who_applies()
    producer = KafkaProducer(**kafka_clients.kafka_python(kafka, acks="all", client_id="ioc-rules-apply",
                                                          max_block_ms=int(timeout_s * 1000)))
    try:
        headers = [
            (APPLIED_BY, by.encode()),
            ("applied-at", datetime.now(UTC).isoformat(timespec="seconds").encode()),
            ("rules-version", ruleset.version.encode()),
        ]
        future = producer.send(topic, key=KEY, value=ruleset.text.encode("utf-8"), headers=headers)
        metadata = future.get(timeout=timeout_s)
        producer.flush(timeout=timeout_s)
    finally:
        producer.close(timeout=5)
    return Published(topic, metadata.partition, metadata.offset, ruleset.version, by)
