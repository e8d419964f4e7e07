"""Silences on ``ioc.config.silences``: publish (``ioc silence add|expire``), read them all (``ioc
silence list``, the dashboard) and follow them on every worker.

The topic is compacted, one partition, keyed by silence id; each value is the silence's JSON
(:meth:`routers.rules.silences.Silence.to_json`). Adding publishes a new id; expiring publishes
the same id with ``ends_at`` set to now, so the latest record of an id is the silence. Every worker
reads the topic from the beginning without a consumer group (like ``ioc.config.rules``) into its
:class:`~routers.rules.silences.SilenceBook`; a record that is not a valid silence is logged,
counted (``ioc_silences_rejected_total``) and skipped. Expiry needs no record: the book's index
drops a silence once its end has passed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
from kafka import KafkaProducer

from routers import topics
from routers.rules.silences import Silence, SilenceBook, SilenceError
from streams import kafka_clients, metrics
from streams.rules_live.follow import CompactedFollower, RulesRecord
from streams.rules_live.kafka_read import read_compacted

log = logging.getLogger(__name__)


def silence_of(record: RulesRecord) -> Silence | None:
    """The silence in a record (None: a tombstone or not a valid silence, logged and counted)."""
    if record.value is None or record.key is None:
        return None
    try:
        data = orjson.loads(record.value)
        if not isinstance(data, dict):
            raise SilenceError(["not a JSON object"])
        return Silence.from_json(data)
    except (orjson.JSONDecodeError, SilenceError) as exc:
        metrics.silences_rejected.inc()
        log.error("silences: refused %s@%d: %s", topics.CONFIG_SILENCES, record.offset, exc)
        return None


def apply_to(book: SilenceBook, record: RulesRecord) -> None:
    if record.value is None and record.key is not None:
        book.forget(record.key.decode("utf-8", "replace"))
        return
    silence = silence_of(record)
    if silence is not None:
        book.apply(silence)


class SilencesFollower(CompactedFollower):
    """Keeps ``book`` equal to the topic: ``await SilencesFollower(book, bootstrap).run()``."""

    name = "silences"

    def __init__(self, book: SilenceBook, kafka: kafka_clients.KafkaTarget, topic: str = topics.CONFIG_SILENCES,
                 retry_s: float = 2.0, client_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(kafka, topic, retry_s, client_options)
        self.book = book

    def catch_up(self, records: list[RulesRecord]) -> None:
        for record in records:
            apply_to(self.book, record)
        log.info("silences: %d known after catch-up", len(self.book.all()))

    def take(self, record: RulesRecord) -> None:
        apply_to(self.book, record)


def read_silences(kafka: kafka_clients.KafkaTarget, topic: str = topics.CONFIG_SILENCES) -> SilenceBook:
    """Every silence on the topic now (the CLI and the dashboard)."""
    book = SilenceBook()
    for record in read_compacted(kafka, topic):
        apply_to(book, record)
    book.index(time.time())  # drops silences expired longer ago than the retention, as the workers do
    return book


def publish_silence(kafka: kafka_clients.KafkaTarget, silence: Silence, topic: str = topics.CONFIG_SILENCES,
                    timeout_s: float = 30.0) -> int:
    """Send ``silence`` under its id; wait for the broker's ack; return its offset."""
    producer = KafkaProducer(**kafka_clients.kafka_python(kafka, acks="all", client_id="ioc-silence",
                                                          max_block_ms=int(timeout_s * 1000)))
    try:
        future = producer.send(topic, key=silence.id.encode(), value=orjson.dumps(silence.to_json()),
                               headers=[("applied-by", silence.created_by.encode())])
        metadata = future.get(timeout=timeout_s)
        producer.flush(timeout=timeout_s)
    finally:
        producer.close(timeout=5)
    return int(metadata.offset)
