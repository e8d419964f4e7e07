"""Portal delivery against a real receiving HTTP server that fails requests: retried with backoff
until accepted; refused for good or out of attempts -> ioc.deadletter with the original bytes."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from typing import Any

import orjson
import pytest

from routers.open311.portal import verify
from streams.settings import Settings
from tests.streams.open311.receiver import PortalReceiver

pytestmark = [pytest.mark.integration]

SECRET = "delivery-test-secret"
RESULT = {"specversion": "1.0", "id": "res-1", "type": "vn.ioc.report.result", "source": "urn:ioc-router/lifecycle",
          "time": "2026-06-12T09:00:00.000Z", "data": {"report_id": "r-1", "summary": "Đã xử lý"}}


def settings_for(kafka_bootstrap: str, urls: str, **extra: Any) -> Settings:
    return dataclasses.replace(Settings(), kafka_bootstrap=kafka_bootstrap, portal_urls=urls, portal_secret=SECRET,
                               portal_backoff_s=0.05, portal_max_attempts=4, portal_timeout_s=2.0, **extra)


def dead_letters(bootstrap: str, since_ms: int) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer, TopicPartition

    from routers import topics
    from tests.streams.cloudevents_check import parse_record

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topics.DEADLETTER, p) for p in consumer.partitions_for_topic(topics.DEADLETTER) or ()]
        consumer.assign(partitions)
        found = []
        for tp, offset in consumer.offsets_for_times({tp: since_ms for tp in partitions}).items():
            if offset is None:
                continue
            consumer.seek(tp, offset.offset)
        for _ in range(15):
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    value = orjson.loads(record.value)
                    if value.get("source", "").endswith("/portal-delivery"):
                        parse_record(record)  # a structured CloudEvent by the binding's header (issue 16)
                    found.append(value)
        return [d for d in found if d.get("source", "").endswith("/portal-delivery")]
    finally:
        consumer.close()


def handle_all(service: Any, kafka_bootstrap: str, messages: list[tuple[bytes, bytes | None, int, int]]) -> float:
    """Run ``service.handle`` on each (body, key, partition, offset) with a real session and producer;
    returns the seconds it took."""

    async def run() -> float:
        import aiohttp
        from aiokafka import AIOKafkaProducer

        from streams.open311.delivery import Deliverer

        service.session = aiohttp.ClientSession()
        service.deliverer = Deliverer(service.settings, service.session)
        service.producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await service.producer.start()
        started = time.monotonic()
        try:
            for message in messages:
                await service.handle(*message)
            return time.monotonic() - started
        finally:
            await service.producer.stop()
            await service.session.close()

    return asyncio.run(run())


def test_retries_until_the_portal_accepts_then_signed_and_idempotent(kafka_bootstrap: str, topics_ready) -> None:
    from streams.open311.delivery import DeliveryService

    receiver = PortalReceiver(fail_first=2)
    url = receiver.start()
    service = DeliveryService(settings_for(kafka_bootstrap, url))
    body = orjson.dumps(RESULT)

    try:
        handle_all(service, kafka_bootstrap, [(body, b"r-1", 0, 1), (body, b"r-1", 0, 1)])  # a redelivery: same key
    finally:
        receiver.stop()
    assert receiver.tries["res-1"] == 4 and len(receiver.refused) == 2 and len(receiver.accepted) == 2
    for item in receiver.accepted:
        assert item.body == body and item.headers["Idempotency-Key"] == "res-1"
        assert item.headers["Content-Type"].startswith("application/cloudevents+json")
        assert verify(SECRET, item.body, item.headers["X-IOC-Signature"], now=time.time())


def test_out_of_attempts_and_refused_results_are_dead_lettered(kafka_bootstrap: str, topics_ready) -> None:
    from streams.open311.delivery import DeliveryService

    down = PortalReceiver(always_fail=True)
    url = down.start()
    refusing = PortalReceiver(always_fail=True, fail_status=422)  # a final answer: not tried again
    refusing_url = refusing.start()
    since = int(time.time() * 1000) - 1000
    service = DeliveryService(settings_for(kafka_bootstrap, f"{url},http://127.0.0.1:9/nobody-listens,{refusing_url}"))
    body = orjson.dumps({**RESULT, "id": "res-dead"})

    try:
        took = handle_all(service, kafka_bootstrap, [(body, b"r-1", 2, 77)])
        assert took >= 0.05 * 0.5 + 0.1 * 0.5 + 0.2 * 0.5  # three backoffs were waited out
        handle_all(service, kafka_bootstrap, [(b"not json", None, 2, 78)])
    finally:
        down.stop()
        refusing.stop()
    assert down.tries["res-dead"] == 4 and refusing.tries["res-dead"] == 1
    letters = dead_letters(kafka_bootstrap, since)
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for letter in letters:
        by_reason.setdefault(letter["data"]["reason"], []).append(letter)
    unreachable = [d for d in by_reason.get("portal_unreachable", []) if d["data"]["offset"] == 77]
    assert len(unreachable) == 2 and len({d["id"] for d in unreachable}) == 2  # one per endpoint
    assert all(base64.b64decode(d["data"]["original_base64"]) == body for d in unreachable)
    assert {d["iocorigin"] for d in unreachable} == {"ioc.out.results/2/77"}
    assert any(d["data"]["offset"] == 78 for d in by_reason.get("bad_result", []))
    rejected = [d for d in by_reason.get("portal_rejected", []) if d["data"]["offset"] == 77]
    assert len(rejected) == 1 and "HTTP 422" in rejected[0]["data"]["error"]
