"""``ioc deliver``: each result on ``ioc.out.results`` POSTed to the portal endpoint(s).

For every result and endpoint: the exact bytes of the CloudEvent as it is on the topic, with
``Content-Type: application/cloudevents+json``, ``Idempotency-Key: <the result's id>`` and
``X-IOC-Signature: t=<unix>,v1=<HMAC-SHA256>`` (:mod:`routers.open311.portal`). A 2xx (or 409:
already there) is delivered; 408/425/429/5xx, timeouts and connection errors are tried again with
exponential backoff and jitter (``Retry-After`` honoured); another 4xx is final. After
``IOC_PORTAL_MAX_ATTEMPTS`` attempts, or on a final refusal, the result goes to ``ioc.deadletter``
(reason ``portal_unreachable`` / ``portal_rejected``, the original bytes inside) and is counted.

Consumer group ``<app id>-portal-delivery``; offsets are committed after every result of a batch
was delivered or dead-lettered (at-least-once: the portal dedupes on ``Idempotency-Key``).
Partitions are worked on concurrently, the results of one partition in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from routers import envelope, topics
from routers.binding import CLOUDEVENTS_HEADERS
from routers.incidents.timeutil import parse_time
from routers.open311 import portal
from routers.privacy import mask_personal_data
from streams import kafka_clients, metrics
from streams.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "ioc-router-portal-delivery/1"


@dataclass(frozen=True, slots=True)
class Attempt:
    status: int | None  # None: no HTTP answer (timeout, connection refused)
    result: str  # delivered | retry | rejected | error
    detail: str
    retry_after_s: float | None = None


def endpoints_of(settings: Settings) -> list[str]:
    return [u.strip() for u in (settings.portal_urls or "").split(",") if u.strip()]


class Deliverer:
    """POSTs one result to one endpoint until delivered, refused, or out of attempts."""

    def __init__(self, settings: Settings, session: Any, rng: random.Random | None = None) -> None:
        if not settings.portal_secret:
            raise ValueError("IOC_PORTAL_SECRET (or IOC_PORTAL_SECRET_FILE) is required to sign deliveries")
        self.settings = settings
        self.secret = settings.portal_secret
        self.session = session
        self.rng = rng or random.Random()

    async def attempt(self, url: str, body: bytes, result_id: str) -> Attempt:
        import aiohttp

        headers = {
            "Content-Type": "application/cloudevents+json; charset=utf-8",
            "User-Agent": USER_AGENT,
            portal.IDEMPOTENCY_HEADER: result_id,
            portal.SIGNATURE_HEADER: portal.sign(self.secret, body, int(time.time())),
        }
        try:
            timeout = aiohttp.ClientTimeout(total=self.settings.portal_timeout_s)
            async with self.session.post(url, data=body, headers=headers, timeout=timeout) as response:
                await response.read()
                retry_after = response.headers.get("Retry-After")
                seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
                return Attempt(response.status, portal.outcome(response.status), f"HTTP {response.status}", seconds)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Attempt(None, "error", f"{type(exc).__name__}: {exc}"[:300])

    async def deliver(self, url: str, body: bytes, result_id: str) -> Attempt:
        """The last attempt: delivered, rejected, or a retryable one when attempts ran out."""
        attempt = Attempt(None, "error", "not tried")
        for n in range(1, max(1, self.settings.portal_max_attempts) + 1):
            attempt = await self.attempt(url, body, result_id)
            metrics.portal_attempts.labels(attempt.result).inc()
            if attempt.result in ("delivered", "rejected"):
                return attempt
            if n < self.settings.portal_max_attempts:
                await asyncio.sleep(portal.backoff_s(n, self.settings.portal_backoff_s, self.rng, attempt.retry_after_s))
        return attempt


class DeliveryService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.urls = endpoints_of(settings)
        if not self.urls:
            raise ValueError("IOC_PORTAL_URLS is not set: there is nowhere to deliver results")
        self._task: asyncio.Task[None] | None = None
        self.consumer: Any = None
        self.producer: Any = None
        self.session: Any = None

    async def start(self) -> None:
        import aiohttp
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        self.session = aiohttp.ClientSession()
        self.deliverer = Deliverer(self.settings, self.session)
        self.producer = AIOKafkaProducer(**kafka_clients.aiokafka(self.settings, acks="all", client_id="ioc-portal-delivery"))
        await self.producer.start()
        # Tansu (the embedded broker) waits the rebalance timeout before a join completes: keep it short
        self.consumer = AIOKafkaConsumer(topics.RESULTS, **kafka_clients.aiokafka(
            self.settings, group_id=f"{self.settings.app_id}-portal-delivery", enable_auto_commit=False,
            auto_offset_reset="earliest", client_id="ioc-portal-delivery", session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000, rebalance_timeout_ms=5_000, max_poll_interval_ms=600_000))
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name="portal-delivery")

    async def _run(self) -> None:
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=500, max_records=200)
                if not batches:
                    continue
                await asyncio.gather(*(self._partition(tp, records) for tp, records in batches.items()))
                await self.consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker away: go back to the last commit and read again
                log.warning("portal delivery: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    for tp in self.consumer.assignment():
                        committed = await self.consumer.committed(tp)
                        if committed is not None:
                            self.consumer.seek(tp, committed)

    async def _partition(self, tp: Any, records: Sequence[Any]) -> None:
        for record in records:
            await self.handle(record.value or b"", record.key, tp.partition, record.offset)

    async def handle(self, body: bytes, key: bytes | None, partition: int, offset: int) -> None:
        try:
            result = orjson.loads(body)
            result_id = result["id"]
            if not isinstance(result_id, str) or not result_id:
                raise TypeError("id")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await self._deadletter(body, key, partition, offset, "bad_result", "not a CloudEvent with an id", "-")
            return
        attempts = await asyncio.gather(*(self.deliverer.deliver(url, body, result_id) for url in self.urls))
        for url, attempt in zip(self.urls, attempts, strict=True):
            if attempt.result == "delivered":
                metrics.portal_deliveries.labels("delivered").inc()
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    age = (datetime.now(UTC) - parse_time(result["time"])).total_seconds()
                    metrics.portal_delivery_seconds.observe(max(0.0, age))
            else:
                reason = "portal_rejected" if attempt.result == "rejected" else "portal_unreachable"
                await self._deadletter(body, key, partition, offset, reason, f"{url}: {attempt.detail}", url)

    async def _deadletter(self, body: bytes, key: bytes | None, partition: int, offset: int, reason: str,
                          error: str, url: str) -> None:
        letter = envelope.deadletter(body, reason, error, topics.RESULTS, partition, offset, datetime.now(UTC),
                                     mask_personal_data(body[:500].decode("utf-8", "replace")))
        letter["id"] = envelope.stable_id(topics.RESULTS, str(partition), str(offset), url)  # one per endpoint
        letter["source"] = f"{envelope.SOURCE}/portal-delivery"
        letter["iocorigin"] = f"{topics.RESULTS}/{partition}/{offset}"
        await self.producer.send_and_wait(topics.DEADLETTER, value=orjson.dumps(letter), key=key,
                                          headers=CLOUDEVENTS_HEADERS)  # every output is a structured CloudEvent
        metrics.portal_deliveries.labels("deadletter").inc()
        metrics.deadletter.labels(reason, "portal").inc()
        log.warning("result %s/%s dead-lettered: %s: %s", partition, offset, reason, error)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for part in (self.consumer, self.producer):
            if part is not None:
                with contextlib.suppress(Exception):
                    await part.stop()
        if self.session is not None:
            await self.session.close()
