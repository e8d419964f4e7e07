"""The lifecycle's answer to one status update: applied (the incident's state on ``ioc.incidents``
lists the update in its history) or refused (a dead letter on ``ioc.deadletter`` names the update
in ``iocupdate``).

``Watch`` takes the end offsets of both topics *before* the update is sent, so only answers
produced after it are read; no consumer group is joined (no rebalance wait on the embedded broker).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from routers import topics


@dataclass(frozen=True, slots=True)
class Verdict:
    applied: bool
    reason: str | None = None  # the rejection reason (``not_permitted``, ``illegal_transition``, ...)
    detail: str | None = None
    status: str | None = None  # the incident's status once applied
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"applied": self.applied}
        if self.applied:
            body.update(status=self.status, version=self.version)
        else:
            body.update(reason=self.reason, detail=self.detail)
        return body


def verdict_of(topic: str, value: Any, update_id: str) -> Verdict | None:
    """The verdict ``value`` (a decoded message of ``topic``) gives on ``update_id``, if any."""
    if not isinstance(value, dict):
        return None
    data = value.get("data")
    if not isinstance(data, dict):
        return None
    if topic == topics.DEADLETTER and value.get("iocupdate") == update_id:
        return Verdict(False, reason=str(data.get("reason")), detail=str(data.get("error")))
    if topic == topics.INCIDENTS and any(entry.get("update_id") == update_id for entry in data.get("history") or ()):
        return Verdict(True, status=data.get("status"), version=data.get("version"))
    return None


class Watch:
    """``with Watch(options) as watch: send(); verdict = watch.wait(update_id, timeout_s)``."""

    def __init__(self, kafka_options: dict[str, Any]) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **kafka_options)
        assigned = [
            TopicPartition(topic, p)
            for topic in (topics.INCIDENTS, topics.DEADLETTER)
            for p in sorted(self.consumer.partitions_for_topic(topic) or {0})
        ]
        self.consumer.assign(assigned)
        self.consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the end offsets now, before the update is sent
            self.consumer.position(tp)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.close()

    def wait(self, update_id: str, timeout_s: float) -> Verdict | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = self.consumer.poll(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    try:
                        value = orjson.loads(record.value) if record.value else None
                    except orjson.JSONDecodeError:
                        continue
                    found = verdict_of(tp.topic, value, update_id)
                    if found is not None:
                        return found
        return None
