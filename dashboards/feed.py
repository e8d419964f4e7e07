"""The live feed: what reaches the city's ward topics, as short items for the page.

:class:`KafkaFeed` reads ``ioc.ward.<code>`` for every ward of the city (no consumer group, from
the latest offsets: the dashboard never moves anyone's offsets). A ward topic carries the routed
events addressed to that ward (with the reporter's name and phone, which only the owning ward
receives) and the lifecycle's incident notices (opened, updated, escalated, resolved, reassigned).
:class:`FeedHub` keeps the last items and fans them out to the page's server-sent-event streams;
personal data is masked per viewer when an item is sent (``dashboards.access.for_viewer``), never
stored masked, so an authorized viewer and a wall screen can share one hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from dashboards import selfmetrics
from routers import topics
from routers.envelope import TYPE_ROUTED
from routers.incidents.model import evidence_total

log = logging.getLogger(__name__)

INCIDENT_PREFIX = "vn.ioc.incident."
QUEUE_SIZE = 500


def item_from_envelope(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """A CloudEvents envelope from a ward topic -> a feed item, ``None`` for what the feed skips."""
    kind = str(body.get("type", ""))
    data = body.get("data")
    if not isinstance(data, Mapping):
        return None
    if kind == TYPE_ROUTED:
        event = data.get("event") or {}
        location = data.get("location") or {}
        decision = data.get("decision") or {}
        ward = location.get("ward") or {}
        # an ambiguous place goes to every candidate ward: this copy belongs to the ward it was sent to
        target = str(body.get("ioctarget", ""))
        code = body.get("iocward") or ward.get("code") or (target[5:] if target.startswith("ward:") else None)
        name = ward.get("name") or next(
            (c.get("name") for c in location.get("candidates", []) if c.get("code") == code), None
        )
        return {
            # one item per intake event, however many ward topics it reached
            "id": f"event:{body.get('subject') or body.get('id')}",
            "type": "event",
            "time": body.get("time"),
            "ward": code,
            "ward_name": name,
            "ambiguous": location.get("status") == "ambiguous",
            "priority": body.get("iocpriority") or decision.get("priority"),
            "category": event.get("kind"),
            "source": event.get("source"),
            "description": event.get("description"),
            "address": event.get("address"),
            "reporter": event.get("reporter"),
            "rule": body.get("iocrule"),
            "targets": decision.get("targets", []),
            "suppressed": body.get("iocsuppressed"),
        }
    if kind.startswith(INCIDENT_PREFIX) and kind != INCIDENT_PREFIX + "state":
        return {
            "id": body.get("id"),
            "type": "incident",
            "change": kind.removeprefix(INCIDENT_PREFIX),
            "time": body.get("time"),
            "ward": body.get("iocward") or data.get("ward"),
            "ward_name": data.get("ward_name"),
            "priority": data.get("priority"),
            "category": data.get("kind"),
            "family": data.get("family"),
            "status": data.get("status"),
            "incident_id": data.get("id") or body.get("iocincident"),
            "evidence_count": data.get("evidence_count"),
            "breaches": data.get("breaches", []),
            **_evidence_keys(data),
        }
    return None


def item_from_incident(incident: Mapping[str, Any]) -> dict[str, Any]:
    """An incident from the serving index as a feed item (fills the feed of a freshly opened page)."""
    return {
        "id": f"{incident.get('id')}@{incident.get('version')}",
        "type": "incident",
        "change": "current",
        "time": incident.get("updated_at") or incident.get("created_at"),
        "ward": incident.get("ward"),
        "ward_name": incident.get("ward_name"),
        "priority": incident.get("priority"),
        "category": incident.get("kind"),
        "family": incident.get("family"),
        "status": incident.get("status"),
        "incident_id": incident.get("id"),
        "evidence_count": evidence_total(incident),
        "breaches": incident.get("breaches", []),
        **_evidence_keys(incident),
    }


def _evidence_keys(incident: Mapping[str, Any]) -> dict[str, Any]:
    """The feed items (``event:<id>``) an incident folds in, and the sources of its evidence: its
    evidence window and, in a notice, the items the change added (``new_evidence``)."""
    items = [*(incident.get("evidence") or ()), *(incident.get("new_evidence") or ())]
    evidence = list({e.get("event_id"): e for e in items if isinstance(e, Mapping)}.values())
    return {"event_ids": [f"event:{e.get('event_id')}" for e in evidence],
            "sources": sorted({str(e.get("source")) for e in evidence if e.get("source")})}


class FeedHub:
    def __init__(self, backlog: int = 100) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=backlog)
        self.status: dict[str, str] = {"state": "off", "message": "no broker configured (IOC_KAFKA_BOOTSTRAP)"}
        self.received = 0
        self._recent_ids: deque[str] = deque(maxlen=5000)
        self._known: set[str] = set()
        self._subscribers: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> asyncio.Queue[tuple[str, dict[str, Any]]]:
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        self._subscribers.discard(queue)

    def _fan_out(self, kind: str, payload: dict[str, Any]) -> None:
        for queue in self._subscribers:
            if queue.full():  # a slow screen loses its oldest item, never blocks the feed
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait((kind, payload))

    def publish(self, item: dict[str, Any]) -> bool:
        """Add an item; ``False`` (and nothing sent) when an item with its id was seen recently."""
        item_id = str(item.get("id"))
        if item_id in self._known:
            return False
        if len(self._recent_ids) == self._recent_ids.maxlen:
            self._known.discard(self._recent_ids[0])
        self._recent_ids.append(item_id)
        self._known.add(item_id)
        self.received += 1
        self.items.append(item)
        self._fan_out("item", item)
        return True

    def seed(self, items: list[dict[str, Any]]) -> None:
        """Older items (oldest first) put behind whatever is already there."""
        fresh = [i for i in items if str(i.get("id")) not in self._known]
        for item in fresh:
            self._recent_ids.append(str(item.get("id")))
            self._known.add(str(item.get("id")))
        current = list(self.items)
        self.items.clear()
        self.items.extend([*fresh, *current][-(self.items.maxlen or 100):])

    def close_all(self) -> None:
        """Ask every open stream to end (the server is shutting down)."""
        self._fan_out("close", {})

    def set_status(self, state: str, message: str) -> None:
        if self.status == {"state": state, "message": message}:
            return
        self.status = {"state": state, "message": message}
        self._fan_out("status", dict(self.status))


class KafkaFeed:
    """Consumes the ward topics into a :class:`FeedHub`; reconnects every ``retry_s`` on failure."""

    def __init__(self, bootstrap: str, ward_codes: Callable[[], tuple[str, ...]], hub: FeedHub,
                 retry_s: float = 3.0,
                 on_envelopes: Callable[[list[dict[str, Any]]], Awaitable[object]] | None = None) -> None:
        self.bootstrap = bootstrap
        self.on_envelopes = on_envelopes
        self.ward_codes = ward_codes
        self.hub = hub
        self.retry_s = retry_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.hub.set_status("connecting", f"connecting to the broker at {self.bootstrap}")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kafka-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any broker trouble: say so on the page and try again
                self.hub.set_status("unavailable", f"the broker at {self.bootstrap} does not answer ({type(exc).__name__}: {exc})")
                log.warning("feed: %s", exc)
            await asyncio.sleep(self.retry_s)

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="latest", client_id="ioc-dashboard", request_timeout_ms=15000,
            metadata_max_age_ms=30000,
        )
        await consumer.start()
        try:
            wanted = {topics.ward_topic(code) for code in self.ward_codes()}
            existing = wanted & await consumer.topics()
            if not existing:
                self.hub.set_status("waiting", "the ward topics do not exist yet (start `ioc up` or `ioc topics create`)")
                return
            partitions = [TopicPartition(t, p) for t in sorted(existing) for p in consumer.partitions_for_topic(t) or ()]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            self.hub.set_status("live", f"reading {len(existing)} ward topics")
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                bodies = [b for records in batches.values() for b in map(self._take, (r.value for r in records)) if b]
                if bodies and self.on_envelopes is not None:
                    try:
                        await self.on_envelopes(bodies)
                    except Exception as exc:  # the evidence store is optional: the feed goes on
                        log.warning("feed: evidence details not kept: %s", exc)
        finally:
            await consumer.stop()

    def _take(self, raw: bytes | None) -> dict[str, Any] | None:
        """Publish the feed item of one record; returns the decoded envelope."""
        if not raw:
            return None
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None  # not ours to judge: ward topics are written by ioc-router only
        if not isinstance(body, dict):
            return None
        item = item_from_envelope(body)
        if item is not None and self.hub.publish(item):
            selfmetrics.feed_items.labels(item["type"]).inc()
        return body
