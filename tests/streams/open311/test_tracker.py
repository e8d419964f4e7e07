"""The tracker on the real broker and Redis: outcomes are recorded for known requests only, and a
restarted tracker resumes from the positions it kept in Redis (what was published while it was
down is not skipped)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from routers import topics
from streams.settings import Settings

pytestmark = [pytest.mark.integration]


def record(request_id: str) -> dict[str, Any]:
    return {"service_request_id": request_id, "service_code": "waste", "jurisdiction_id": "hcmc", "client": "t",
            "requested_datetime": datetime.now(UTC).isoformat(), "description": None, "address": None,
            "lat": 10.78, "long": 106.69, "media_urls": []}


async def wait_state(store: Any, request_id: str, state: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = await store.get_many([request_id])
        if rows and rows[0][1].get("state") == state:
            return rows[0][1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{request_id} never became {state}: {await store.get_many([request_id])}")


def test_outcomes_for_known_requests_and_resume_after_a_restart(kafka_bootstrap: str, redis_url: str,
                                                                 topics_ready: Any) -> None:
    from aiokafka import AIOKafkaProducer

    from streams.open311.store import RequestStore
    from streams.open311.tracker import Tracker
    from streams.redis_retry import client as redis_client

    app_id = f"ioc-tracker-test-{uuid.uuid4().hex[:8]}"  # positions and records of its own
    settings = dataclasses.replace(Settings(), kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, app_id=app_id)
    first, second, stranger = (f"o311-t-{uuid.uuid4().hex[:10]}" for _ in range(3))

    async def scenario() -> None:
        redis = redis_client(redis_url)
        store = RequestStore(redis, app_id)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            tracker = Tracker(settings, store, lambda: datetime.now(UTC))
            await tracker.start()
            await store.add(record(first), datetime.now(UTC))
            unroutable = {"type": "vn.ioc.event.unroutable", "data": {
                "reason": "outside_boundaries", "event": {"id": first, "source": "report"}}}
            await producer.send_and_wait(topics.UNROUTABLE, orjson.dumps(unroutable), key=first.encode())
            await wait_state(store, first, "unroutable")
            await tracker.stop()

            # published while no tracker runs
            await store.add(record(second), datetime.now(UTC))
            state = {"type": "vn.ioc.incident.state", "data": {
                "id": "inc-t", "status": "routed", "ward": "27139", "ward_name": "Phường Xuân Hòa",
                "evidence": [{"event_id": second, "source": "report"}, {"event_id": stranger, "source": "report"},
                             {"event_id": first, "source": "report"}]}}
            await producer.send_and_wait(topics.INCIDENTS, orjson.dumps(state), key=b"inc-t")
            original = base64.b64encode(orjson.dumps({"id": first})).decode()
            letter = {"type": "vn.ioc.event.deadletter", "data": {"topic": topics.REPORTS, "reason": "missing_field",
                                                                   "original_base64": original}}
            await producer.send_and_wait(topics.DEADLETTER, orjson.dumps(letter))

            restarted = Tracker(settings, store, lambda: datetime.now(UTC))
            await restarted.start()
            try:
                tracking = await wait_state(store, second, "routed")
                assert tracking["incident"] == "inc-t" and tracking["ward"] == "27139"
                assert await store.get_many([stranger]) == []  # not a request of this API: nothing stored
                await asyncio.sleep(1.0)
                rows = await store.get_many([first])
                assert rows[0][1]["state"] in ("unroutable", "deadletter")  # terminal stays terminal, never routed
            finally:
                await restarted.stop()
        finally:
            await producer.stop()
            keys = [k async for k in redis.scan_iter(match=f"{app_id}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

    asyncio.run(scenario())
