"""Follow ``ioc.config.rules`` on every worker and switch the active ruleset atomically.

Each worker reads the single partition itself, without a consumer group (so every worker sees
every version), from the beginning (so a restarted worker gets the latest applied version).
During catch-up the newest valid version wins: newer invalid versions are logged and counted
(``ioc_rules_rejected_total``), the older ones are not even parsed. After catch-up each new
record is validated; an invalid one is logged and counted and the running version stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from routers import topics
from routers.exceptions import RulesError
from routers.rules import Ruleset, load_ruleset
from streams import kafka_clients, metrics
from streams.rules_live.active import ActiveRules

log = logging.getLogger(__name__)

KEY = b"active"
APPLIED_BY = "applied-by"


@dataclass(frozen=True, slots=True)
class RulesRecord:
    """One record of the rules topic, as the follower sees it."""

    offset: int
    key: bytes | None
    value: bytes | None
    applied_by: str = ""


def parse_record(record: RulesRecord, topic: str = topics.CONFIG_RULES, running: ActiveRules | None = None,
                 ) -> Ruleset | None:
    """The ruleset in ``record``, or None (logged and counted) when it is not a valid version.
    ``running``: the worker's rules, named in the log line of a refusal."""
    if record.key != KEY or record.value is None:
        log.info("rules: ignoring %s@%d (key %r, %s)", topic, record.offset, record.key,
                 "tombstone" if record.value is None else "not the active key")
        return None
    source = f"{topic}@{record.offset}"
    try:
        return load_ruleset(record.value.decode("utf-8"), source)
    except (RulesError, UnicodeDecodeError) as exc:
        metrics.rules_rejected.inc()
        log.error("rules: refused %s applied by %s; still routing with %s:\n%s", source, record.applied_by or "?",
                  running.current().version if running is not None else "the running version", exc)
        return None


def apply_latest(rules: ActiveRules, records: list[RulesRecord], topic: str = topics.CONFIG_RULES) -> Ruleset | None:
    """Catch-up: switch ``rules`` to the newest valid version of ``records``; return it (None: none valid)."""
    for record in reversed(records):
        ruleset = parse_record(record, topic, rules)
        if ruleset is not None:
            rules.switch(ruleset, record.applied_by)
            return ruleset
    return None


def apply_record(rules: ActiveRules, record: RulesRecord, topic: str = topics.CONFIG_RULES) -> Ruleset | None:
    ruleset = parse_record(record, topic, rules)
    if ruleset is not None:
        rules.switch(ruleset, record.applied_by)
    return ruleset


def _to_record(message: object) -> RulesRecord:
    headers = dict(getattr(message, "headers", None) or ())
    by = headers.get(APPLIED_BY, b"")
    return RulesRecord(
        offset=int(message.offset),  # type: ignore[attr-defined]
        key=message.key,  # type: ignore[attr-defined]
        value=message.value,  # type: ignore[attr-defined]
        applied_by=by.decode("utf-8", "replace") if isinstance(by, bytes) else str(by),
    )


class CompactedFollower(ABC):
    """Follow one single-partition compacted topic from its beginning, without a consumer group
    (every worker sees every record). :meth:`catch_up` gets the records up to the end seen at the
    start, at once; :meth:`take` each later record. ``kafka`` is settings or a bootstrap string
    (see :func:`streams.kafka_clients.connection`); ``client_options`` (aiokafka keyword arguments,
    e.g. from the worker's Faust app) replace it."""

    name = "config"

    def __init__(self, kafka: kafka_clients.KafkaTarget, topic: str, retry_s: float = 2.0,
                 client_options: Mapping[str, Any] | None = None) -> None:
        self.kafka = kafka
        self.client_options = dict(client_options) if client_options is not None else None
        self.topic = topic
        self.retry_s = retry_s
        self.caught_up = asyncio.Event()
        self._stopping = asyncio.Event()

    @abstractmethod
    def catch_up(self, records: list[RulesRecord]) -> None:
        """Apply the records present when following started, at once."""

    @abstractmethod
    def take(self, record: RulesRecord) -> None:
        """Apply one record that arrived later."""

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone or topic missing: keep what we have, retry
                log.warning("%s: following %s failed (%s); retrying in %.0fs", self.name, self.topic, exc,
                            self.retry_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.retry_s)

    async def _follow(self) -> None:
        options = self.client_options if self.client_options is not None else kafka_clients.aiokafka(self.kafka)
        consumer = AIOKafkaConsumer(
            **options, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            client_id=f"ioc-{self.name}-follower",
        )
        await consumer.start()
        try:
            partition = TopicPartition(self.topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            pending: list[RulesRecord] = []
            while not self._stopping.is_set():
                batches = await consumer.getmany(partition, timeout_ms=500)
                records = [_to_record(message) for message in batches.get(partition, [])]
                if not self.caught_up.is_set():
                    pending.extend(records)
                    if await consumer.position(partition) >= end:
                        self.catch_up(pending)
                        pending.clear()
                        self.caught_up.set()
                    continue
                for record in records:
                    self.take(record)
        finally:
            await consumer.stop()


class RulesFollower(CompactedFollower):
    """``await RulesFollower(rules, "127.0.0.1:9092").run()`` follows ``ioc.config.rules`` into
    ``rules`` until :meth:`stop`."""

    name = "rules"

    def __init__(self, rules: ActiveRules, kafka: kafka_clients.KafkaTarget, topic: str = topics.CONFIG_RULES,
                 retry_s: float = 2.0, client_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(kafka, topic, retry_s, client_options)
        self.rules = rules

    def catch_up(self, records: list[RulesRecord]) -> None:
        apply_latest(self.rules, records, self.topic)

    def take(self, record: RulesRecord) -> None:
        apply_record(self.rules, record, self.topic)
