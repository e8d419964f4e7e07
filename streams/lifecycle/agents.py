"""Faust wiring of the incident lifecycle: one agent owns the incident tables, keyed by ward.

Topics in, all keyed by ward code, so one worker owns a ward's open incidents and correlation,
updates and SLA checks for that ward happen in order on one partition:

* ``ioc.routed`` (from the pipeline): routed events -> :meth:`IncidentBook.on_routed`;
* ``<app id>-lifecycle-commands`` (internal): status updates re-keyed by their ward, hand-overs of
  reassigned incidents, and SLA ticks.

The actors' status topics (``ioc.status.<ward>``, ``ioc.status.agency.<name>``,
``ioc.status.city-ioc``; the deprecated shared ``ioc.status`` while enabled) are read by a second
agent that checks the message against the contract, takes the actor from the topic, refuses what
the actor may not claim and re-keys the rest by the update's ward; the owning partition then asks
``routers.incidents.permissions`` whether the actor may act on the incident.

Out: ward notices on ``ioc.ward.<code>``, the state on ``ioc.incidents`` (compacted), escalations
on ``ioc.escalations``, results on ``ioc.out.results``, and the Redis serving index. Every output of
an input is delivered before the next input is taken (at-least-once; output ids are stable).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from routers import envelope
from routers.exceptions import Rejected
from routers.incidents import (
    Effects,
    IncidentBook,
    Outbound,
    RoutedEvent,
    permissions,
    routed_from_envelope,
    update_from_json,
)
from routers.incidents.model import incident_from_json
from routers.privacy import mask_personal_data
from streams import metrics, topics
from streams.app import app
from streams.binding import CLOUDEVENTS_HEADERS
from streams.lifecycle import actors, queries
from streams.lifecycle.clock import Clock, clock_for
from streams.lifecycle.contract import decode_json, parse_status_update
from streams.lifecycle.serving import IncidentIndex
from streams.settings import Settings, load_settings

log = logging.getLogger(__name__)

# Internal to one app (like Faust's changelogs): two apps on one cluster never act on each other's
# ticks, hand-overs or re-keyed updates. The worker's environment names the app, as for configure().
COMMANDS = f"{load_settings().app_id}-lifecycle-commands"
TICK_INTERVAL_S = 1.0
TICK_RESEND_S = 5.0  # a ward whose tick is still in flight is not ticked again before this
HOUSEKEEPING_INTERVAL_S = 60.0
PRIORITIES = ("P1", "P2", "P3", "P4")

# Each actor's own status topic (the topic says who acts); the full list is set at worker start by
# streams.lifecycle.actors.subscribe, which reads the broker's ioc.status.* topics.
status_topic = app.topic(*actors.status_topic_names(topics.fixed_status_topics(), load_settings().legacy_status_topic),
                         key_serializer="raw", value_serializer="raw")
commands_topic = app.topic(COMMANDS, key_serializer="raw", value_serializer="raw", internal=True)
lifecycle_topic = app.topic(topics.ROUTED, COMMANDS, key_serializer="raw", value_serializer="raw", internal=True)

incidents_table = app.Table("lifecycle-incidents", default=None, help="ward/incident id -> incident JSON")
wards_table = app.Table("lifecycle-wards", default=None, help="ward -> open and recently closed incident ids")
seen_table = app.Table("lifecycle-seen", default=None, help="event id -> incident id (redelivery guard)")
_BOOK = IncidentBook(incidents_table, wards_table, seen_table)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    redis_client: Any = None
    index_: IncidentIndex | None = None
    devices_: Any = None
    ticked: dict[str, float] = field(default_factory=dict)

    def devices(self) -> Any:
        """The device registry cache (cameras and gauges carry no point of their own)."""
        if self.devices_ is None and self.settings.redis_url:
            from streams.devices import DeviceCache

            self.devices_ = DeviceCache(self.settings.redis_url)
        return self.devices_

    def index(self) -> IncidentIndex | None:
        if self.index_ is None and self.settings.redis_url:
            import redis.asyncio as aioredis

            self.redis_client = aioredis.from_url(self.settings.redis_url)
            self.index_ = IncidentIndex(self.redis_client, self.settings.app_id)
        return self.index_


_services: Services | None = None


def install(settings: Settings, clock: Clock | None = None) -> Services:
    """Set the settings and clock the agents use (the worker reads them from the environment)."""
    global _services
    _services = Services(settings, clock or clock_for(settings.clock_offset_file))
    return _services


def services() -> Services:
    return _services if _services is not None else install(load_settings())


def book() -> IncidentBook:
    return _BOOK


# -- output ---------------------------------------------------------------------------------------
def _topic_of(out: Outbound) -> str:
    if out.channel == "ward":
        return topics.ward_topic(out.key)
    if out.channel == "handoff":
        return COMMANDS
    return {"incidents": topics.INCIDENTS, "escalations": topics.ESCALATIONS, "results": topics.RESULTS}[out.channel]


def _value_of(out: Outbound) -> dict[str, Any]:
    return {"kind": "handoff", "incident": out.value} if out.channel == "handoff" else out.value


async def _deliver(messages: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    producer = app.producer
    pending = [await producer.send(topic, key, value, None, None, headers_for(topic)) for topic, key, value in messages]
    await asyncio.gather(*pending)


def headers_for(topic: str) -> Any:
    """CloudEvents binding headers on every published event; none on the internal commands."""
    return None if topic == COMMANDS else CLOUDEVENTS_HEADERS


def _observe(effects: Effects) -> None:
    for signal in effects.signals:
        if signal.name == "status":
            metrics.status_updates.labels(*signal.labels).inc()
        elif signal.name == "acknowledged":
            metrics.time_to_acknowledge.labels(*signal.labels).observe(signal.value)
        elif signal.name == "resolved":
            metrics.time_to_resolve.labels(*signal.labels).observe(signal.value)
        elif signal.name == "breach":
            metrics.sla_breaches.labels(*signal.labels).inc()
        elif signal.name == "escalation":
            metrics.escalations.labels(*signal.labels).inc()


def _gauge(the_book: IncidentBook, wards: Iterable[str]) -> None:
    for ward in set(wards):
        counts = the_book.open_counts(ward)
        for priority in PRIORITIES:
            metrics.open_incidents.labels(ward, priority).set(counts.get(priority, 0))


async def publish(effects: Effects, the_book: IncidentBook) -> None:
    await _deliver([
        *((_topic_of(o), o.key.encode(), orjson.dumps(_value_of(o))) for o in effects.outbound),
        *((topic, key, orjson.dumps(value)) for topic, key, value in actors.escalation_copies(effects.outbound)),
    ])
    _observe(effects)
    _gauge(the_book, (i.ward for i in effects.changed))
    index = services().index()
    if index is not None and effects.changed:
        try:
            await index.put_all(effects.changed)
        except Exception as exc:  # the serving index is rebuilt by later writes; the stream must go on
            log.warning("serving index write failed: %s", exc)


async def dead_letter(raw: bytes, rejected: Rejected, origin: tuple[str, int, int], key: bytes | None,
                      extra: dict[str, str] | None = None) -> None:
    topic, partition, offset = origin
    preview = mask_personal_data(raw[:300].decode("utf-8", "replace"))
    body = envelope.deadletter(raw, rejected.reason, rejected.detail, topic, partition, offset,
                               services().clock.now(), preview)
    body["source"] = f"{envelope.SOURCE}/lifecycle"
    body.update(extra or {})
    metrics.deadletter.labels(rejected.reason, "status" if topics.is_status_topic(topic) else "lifecycle").inc()
    await _deliver([(topics.DEADLETTER, key, orjson.dumps(body))])


async def _survive(raw: bytes, exc: Exception, origin: tuple[str, int, int], key: bytes | None) -> None:
    """Park the input on dead-letter (``lifecycle_error``) so the partition moves on."""
    try:
        await dead_letter(raw, Rejected("lifecycle_error", f"{type(exc).__name__}: {exc}"), origin, key)
    except Exception:
        log.exception("lifecycle: could not dead-letter %s/%s/%s", *origin)


# -- inputs ---------------------------------------------------------------------------------------
async def _with_device_point(event: RoutedEvent) -> RoutedEvent:
    """A camera or sensor event is placed by its device: correlate it at the device's position."""
    if event.lat is not None or event.device_id is None:
        return event
    devices = services().devices()
    if devices is None:
        return event
    try:
        await devices.ensure([event.device_id])
    except Exception as exc:  # no position: it still correlates by group and by device
        log.warning("device lookup failed: %s", exc)
        return event
    point = devices.get(event.device_id)
    return event if point is None else dataclasses.replace(event, lat=point.lat, lon=point.lon)


async def handle_routed(raw: bytes, origin: tuple[str, int, int], key: bytes | None) -> None:
    the_book = book()
    try:
        event = routed_from_envelope(decode_json(raw))
    except Rejected as rejected:
        await dead_letter(raw, rejected, origin, key)
        return
    event = await _with_device_point(event)
    if key != event.ward.encode():
        # Not keyed by its owner (an ambiguous location is keyed "city"): move it to the owner's partition.
        command = {"kind": "routed", "envelope": orjson.loads(raw), "origin": list(origin)}
        await _deliver([(COMMANDS, event.ward.encode(), orjson.dumps(command))])
        return
    await publish(the_book.on_routed(event, services().clock.now()), the_book)


def about(update: Any) -> dict[str, str]:
    """Extension attributes of a refused update's dead letter (``iocupdate`` lets the sender find its verdict)."""
    return {"iocward": update.ward, "iocincident": update.incident_id, "iocupdate": update.update_id}


async def _refine_unknown(rejected: Rejected, incident_id: str, ward: str) -> Rejected:
    """Tell "not your incident" from "no such incident" with the serving index (global view)."""
    if rejected.reason != "unknown_incident":
        return rejected
    index = services().index()
    owner = None
    if index is not None:
        try:
            owner = await index.owner_of(incident_id)
        except Exception as exc:
            log.warning("serving index read failed: %s", exc)
    if owner is not None and owner != ward:
        return Rejected("wrong_ward", f"incident {incident_id} belongs to ward {owner}, not {ward}")
    return rejected


async def handle_command(raw: bytes, key: bytes | None) -> None:
    the_book = book()
    command = orjson.loads(raw)
    now = services().clock.now()
    kind = command.get("kind")
    if kind == "tick":
        await publish(the_book.on_tick(command["ward"], now), the_book)
        services().ticked.pop(command["ward"], None)
    elif kind == "routed":
        event = await _with_device_point(routed_from_envelope(command["envelope"]))
        await publish(the_book.on_routed(event, now), the_book)
    elif kind == "housekeep":
        the_book.on_housekeeping(command["ward"], now)
    elif kind == "handoff":
        await publish(the_book.on_handoff(command["incident"], now), the_book)
    elif kind == "update":
        original = command["raw"].encode()
        origin = (command["origin"]["topic"], command["origin"]["partition"], command["origin"]["offset"])
        update = update_from_json(command["update"])
        actor = command.get("actor") or permissions.legacy_actor(update)
        try:
            incident = the_book.get(update.ward, update.incident_id)
            if incident is not None:
                permissions.check_permitted(actor, incident)
            effects = the_book.on_update(permissions.as_actor(actor, update), now)
        except Rejected as rejected:
            refined = await _refine_unknown(rejected, update.incident_id, update.ward)
            await dead_letter(original, refined, origin, update.ward.encode(), about(update))
            return
        await publish(effects, the_book)
    else:
        log.warning("unknown lifecycle command %r", kind)


@app.agent(lifecycle_topic)
async def lifecycle(stream: Any) -> None:
    """The only writer of the incident tables (partition = the ward's partition)."""
    async for event in stream.events():
        message = event.message
        origin = (message.topic, message.partition, message.offset)
        try:
            if message.topic == COMMANDS:
                await handle_command(event.value, message.key)
            else:
                await handle_routed(event.value, origin, message.key)
        except Exception as exc:  # a bug or an unreachable topic must not stop every ward's lifecycle
            log.exception("lifecycle: %s/%s/%s failed", *origin)
            await _survive(event.value or b"", exc, origin, message.key)


@app.agent(status_topic)
async def status_intake(stream: Any) -> None:
    """Check ward updates against the contract; re-key the good ones by ward, dead-letter the rest."""
    async for event in stream.events():
        message = event.message
        origin = (message.topic, message.partition, message.offset)
        raw: bytes = event.value or b""
        update = None
        try:
            update, body = parse_status_update(raw)
            actor = topics.actor_of_status_topic(message.topic) or permissions.legacy_actor(update)
            permissions.check_claim(actor, update)
        except Rejected as rejected:
            await dead_letter(raw, rejected, origin, message.key, None if update is None else about(update))
            continue
        command = {
            "kind": "update", "update": body, "raw": raw.decode("utf-8"), "actor": actor,
            "origin": {"topic": origin[0], "partition": origin[1], "offset": origin[2]},
        }
        try:
            await _deliver([(COMMANDS, update.ward.encode(), orjson.dumps(command))])
        except Exception as exc:
            log.exception("status intake: %s/%s/%s failed", *origin)
            await _survive(raw, exc, origin, message.key)


# -- timers ---------------------------------------------------------------------------------------
@app.timer(interval=TICK_INTERVAL_S)
async def sla_timer() -> None:
    """Tick each ward with an SLA rung due; the agent climbs it (once: the rung is marked in state)."""
    the_services = services()
    now = the_services.clock.now()
    wall = time.monotonic()
    due = [w for w in book().due_wards(now) if wall - the_services.ticked.get(w, -1e9) >= TICK_RESEND_S]
    for ward in due:
        the_services.ticked[ward] = wall
    if due:
        await _deliver((COMMANDS, w.encode(), orjson.dumps({"kind": "tick", "ward": w})) for w in due)


@app.timer(interval=HOUSEKEEPING_INTERVAL_S)
async def housekeeping() -> None:
    """Forget long-closed incidents in the tables (via the owning partition), age out the index."""
    now = services().clock.now()
    book().trim_cache()  # in-process only: no table write, so it needs no partition
    wards = book().wards_to_housekeep(now)
    if wards:
        await _deliver((COMMANDS, w.encode(), orjson.dumps({"kind": "housekeep", "ward": w})) for w in wards)
    index = services().index()
    if index is not None:
        try:
            await index.housekeep(services().clock.now())
        except Exception as exc:
            log.warning("serving index housekeeping failed: %s", exc)


# -- HTTP -----------------------------------------------------------------------------------------
def _json(web: Any, status: int, body: dict[str, Any]) -> Any:
    return web.bytes(orjson.dumps(body), content_type="application/json", status=status)


@app.page("/api/incidents")
async def incidents_page(web: Any, request: Any) -> Any:
    if not queries.authorized(request.headers, services().settings.dashboard_token):
        return _json(web, 401, {"error": "unauthorized", "message": "bearer token required"})
    index = services().index()
    if index is None:
        return _json(web, 503, {"error": "no_redis", "message": "IOC_REDIS_URL is not set"})
    status, body = await queries.list_response(index, request.query)
    return _json(web, status, body)


@app.page("/api/incidents/{incident_id}")
async def incident_page(web: Any, request: Any, incident_id: str) -> Any:
    if not queries.authorized(request.headers, services().settings.dashboard_token):
        return _json(web, 401, {"error": "unauthorized", "message": "bearer token required"})
    index = services().index()
    if index is None:
        return _json(web, 503, {"error": "no_redis", "message": "IOC_REDIS_URL is not set"})
    status, body = await queries.detail_response(index, incident_id)
    return _json(web, status, body)


def stored_incidents() -> list[Any]:
    """Every incident copy in this worker's tables (for tests and diagnostics)."""
    return [incident_from_json(v) for v in incidents_table.values() if v is not None]
