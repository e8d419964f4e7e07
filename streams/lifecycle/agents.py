"""Faust wiring of the incident lifecycle: two batched agents own the incident tables, keyed by ward.

Topics in, keyed by ward code, so one worker owns a ward's open incidents, and correlation, updates
and SLA checks for that ward happen in order on one partition number:

* ``ioc.routed`` (from the pipeline) and ``<app id>-lifecycle-commands`` (internal: hand-overs,
  SLA ticks, housekeeping, and inputs that arrived on another ward's partition) -> :func:`lifecycle`;
* ``ioc.status`` (ward systems) -> :func:`status_intake`, a second agent with its own stream
  buffer, so a ward's update never queues behind routine traffic: an update keyed by its ward (as
  the contract asks) is applied where it is read, one hop; only an update keyed otherwise is
  forwarded to its ward's partition through the commands topic first.

Both agents do the same per batch: decode each message once, look up device positions (one Redis
round trip) and, for updates of closed incidents (kept as stubs), their whole state from the serving
index (one round trip, after the previous batch's index write finished), call the pure
:func:`routers.incidents.batch.decide_batch` per partition, write the Redis serving index (changed
incidents and their new evidence items) in one pipelined round trip, and return the messages to
:func:`streams.delivery.forward_batches`, which publishes them without a per-message await and
lets the batch's offsets be committed only once the broker acknowledged every one of them
(at-least-once; every output has a stable CloudEvents id, so consumers dedupe redeliveries).

Routed copies of routine telemetry (the pipeline marks them with the ``ioc-lifecycle: skip`` header:
a sensor reading suppressed by the rules that neither opened nor closed a threshold) are acknowledged
without being decoded: they can open no incident and change none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from routers import envelope, json_bytes, topics
from routers.binding import CLOUDEVENTS_HEADERS
from routers.exceptions import Rejected
from routers.incidents import Effects, IncidentBook, Outbound
from routers.incidents.batch import (
    BatchResult,
    Forward,
    LifecycleInput,
    MalformedInput,
    Origin,
    Received,
    Rejection,
    RoutedInput,
    SkippedInput,
    UpdateInput,
    command_input,
    decide_batch,
    housekeep_command,
    recall_wanted,
    refine_unknown,
    tick_command,
)
from routers.incidents.book import ESCALATION_GRACE_S
from routers.incidents.model import Incident, is_stub, table_json
from routers.incidents.report_ids import chunk_record
from routers.incidents.routed import routed_from_envelope
from streams import metrics
from streams.app import app, caller_wards
from streams.delivery import Handled, Outgoing, forward_batches, partition_for_key
from streams.lifecycle import actors, queries
from streams.lifecycle.clock import Clock, clock_for
from streams.lifecycle.contract import decode_json, parse_status_update
from streams.lifecycle.serving import IncidentIndex
from streams.lifecycle.staged import StagedTable
from streams.settings import Settings

log = logging.getLogger(__name__)


def commands_topic_name(app_id: str) -> str:
    """Internal to one app (like Faust's changelogs): two apps on one cluster never act on each
    other's ticks, hand-overs or re-keyed updates."""
    return f"{app_id}-lifecycle-commands"


TICK_INTERVAL_S = 1.0
TICK_RESEND_S = 5.0  # a ward whose tick is still in flight is not ticked again before this
HOUSEKEEPING_INTERVAL_S = 60.0
GAUGE_INTERVAL_S = 2.0  # ioc_open_incidents is refreshed this often (Prometheus scrapes every 15 s)
PRIORITIES = ("P1", "P2", "P3", "P4")
# Batches flushed after 200 ms at low rates (then they hold ~200 inputs at 1,000 events/s). Up to
# 8,000 when behind: a batch coalesces what a later change of the same incident supersedes. At
# 4,000 the bench's catch-up had 43 % fewer output bytes and 8 % less CPU per input than at 1,000;
# at 8,000, 29 % fewer output messages than at 4,000 and 4 % less CPU per input in the worker
# (docs/performance.md, session 18). 200 ms, not 50: a camera or gauge feeding its incident several times a
# second, and the redelivery mark of each ward, are then written once per batch instead of per
# event, and a routed event reaching its incident 150 ms later matters to nobody. Status updates
# are few; their batches are flushed after 10 ms, so a ward's update waits for nothing.
BATCH_MAX = 8000
BATCH_WITHIN_S = 0.2
STATUS_BATCH_WITHIN_S = 0.01
# What a lifecycle behind its input holds in memory, bounded by design: the stream buffer pauses
# fetching at 80 % of this (so a full next batch is ready when one is done) and the rest of a
# backlog waits on the broker; and while one batch is decided, only the previous one may wait for
# its broker acks (its pinned inputs and outputs). Before, 4 batches of 4,000 could wait and the
# app's 16,384-event buffer fill: a soak worker's RSS followed its backlog, ~9 MB per 1,000 behind.
BUFFER_MAX = 2 * BATCH_MAX
EVENTS_IN_FLIGHT_MAX = BATCH_MAX

# The topics' names are set at worker start, from the worker's settings (nothing is read from the
# environment on import): each actor's own status topic (the topic says who acts) by
# streams.lifecycle.actors.subscribe, which reads the broker's ioc.status.* topics; the commands topic
# by bind_topics, with the app id. Declared here with the defaults' names.
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Settings)}  # not Settings(): no environment read
status_topic = app.topic(*actors.status_topic_names(topics.fixed_status_topics(), _DEFAULTS["legacy_status_topic"]),
                         key_serializer="raw", value_serializer="raw")
commands_topic = app.topic(commands_topic_name(_DEFAULTS["app_id"]), key_serializer="raw", value_serializer="raw",
                           internal=True)
lifecycle_topic = app.topic(topics.ROUTED, commands_topic_name(_DEFAULTS["app_id"]), key_serializer="raw",
                            value_serializer="raw", internal=True)
lifecycle_topic.maxsize = BUFFER_MAX  # faust.App.topic() takes maxsize but does not pass it on


def bind_topics(settings: Settings) -> None:
    """Name the commands topic for ``settings.app_id``; before the worker starts (the composition
    root, :func:`streams.services.attach`, calls it)."""
    name = commands_topic_name(settings.app_id)
    commands_topic.topics = [name]
    lifecycle_topic.topics = [topics.ROUTED, name]


def commands_topic_of_app() -> str:
    """The commands topic's name in this worker (see :func:`bind_topics`)."""
    return commands_topic.get_topic_name()

incidents_table = app.Table("lifecycle-incidents", default=None, help="ward/incident id -> incident JSON")
wards_table = app.Table("lifecycle-wards", default=None, help="ward -> open and recently closed incident ids")
reports_table = app.Table("lifecycle-reports", default=None,
                          help="ward/incident#n -> the n-th chunk of an open incident's citizen report ids")
seen_table = app.Table("lifecycle-seen", default=None,
                       help="ward|path|intake partition -> highest intake offset applied (redelivery guard)")


@dataclass
class LifecycleWorker:
    """What the lifecycle agents share in one worker: settings, clock, the book over the tables,
    Redis (serving index, device registry), and the SLA ticks in flight. Built once per worker by
    :func:`build_lifecycle`, part of the worker's services (:mod:`streams.services`), which own the
    Redis client both read through."""

    settings: Settings
    clock: Clock
    book: IncidentBook
    tables: tuple[StagedTable, ...]  # the book's view of the tables: writes staged per partition
    index: IncidentIndex | None = None  # the serving index; None without Redis
    devices: Any = None  # the worker's DeviceCache (cameras and gauges carry no point); None without Redis
    ticked: dict[str, float] = field(default_factory=dict)
    # serving-index writes still running (both agents' batches): a recall waits for them
    index_writes: set[asyncio.Future[None]] = field(default_factory=set)
    gauge_due: set[str] = field(default_factory=set)  # wards whose open-incident gauge is out of date
    partition_counts: dict[str, int] = field(default_factory=dict)  # topic -> partitions (producer metadata)
    # both agents decide on the same tables: each batch is decided and queued for the broker in
    # turn, so an incident's states, notices and changelog records go out in version order
    decide_turn: asyncio.Lock = field(default_factory=asyncio.Lock)


def build_lifecycle(settings: Settings, clock: Clock | None = None, devices: Any = None,
                    redis: Any = None) -> LifecycleWorker:
    """The lifecycle's worker state over this module's tables (the composition root,
    :func:`streams.services.build_services`, calls this); ``devices``: the worker's device cache,
    ``redis``: the worker's asyncio Redis client, which the serving index writes and reads through."""
    tables = (StagedTable(incidents_table, table_json), StagedTable(wards_table), StagedTable(seen_table),
              StagedTable(reports_table, chunk_record))
    book = IncidentBook(*tables[:3], grace_s=ESCALATION_GRACE_S, reports=tables[3])
    tables[0].encode = book.encode  # the JSON the batch's saves built, reused for the changelog
    index = IncidentIndex(redis, settings.app_id) if redis is not None else None
    return LifecycleWorker(settings, clock or clock_for(settings.clock_offset_file), book, tables,
                           index=index, devices=devices)


@app.on_rebalance_complete.connect  # type: ignore[arg-type]  # Faust types receivers as taking *args and a signal= keyword
async def _tables_moved(sender: Any = None, **kwargs: Any) -> None:
    """Partitions were assigned or restored from their changelogs: the book's derived views are stale."""
    services = app.attached
    if services is not None and services.lifecycle is not None:
        services.lifecycle.book.forget_derived()


def lifecycle_worker() -> LifecycleWorker:
    return app.services.require_lifecycle()


# -- decoding: each message once ---------------------------------------------------------------------
def _received(event: Any) -> Received:
    message = event.message
    return Received(event.value or b"", message.key, Origin(message.topic, message.partition, message.offset))


def _skipped_by_pipeline(message: Any) -> bool:
    # aiokafka gives the headers as (name, value) tuples: one containment test in C, where a
    # generator over the ~10 CloudEvents headers every routed copy carries cost ~2 % of the worker
    headers = message.headers
    if not headers:
        return False
    if isinstance(headers, Mapping):
        return bool(headers.get(topics.LIFECYCLE_HEADER) == topics.LIFECYCLE_SKIP)
    return topics.LIFECYCLE_SKIP_HEADER in headers


def decode_lifecycle(event: Any) -> LifecycleInput:
    """A message of ``ioc.routed`` or the commands topic -> its input (never raises)."""
    received = _received(event)
    try:
        if received.origin.topic != topics.ROUTED:
            return command_input(decode_json(received.value), received)
        if _skipped_by_pipeline(event.message):
            return SkippedInput("telemetry")
        body = decode_json(received.value)
        routed = routed_from_envelope(body)
    except Rejected as rejected:
        return MalformedInput(received, rejected)
    return RoutedInput(routed, orjson.Fragment(received.value), received,
                       keyed_by_owner=received.key == routed.ward.encode())


def decode_status(event: Any, counts: dict[str, int]) -> LifecycleInput:
    """A message of a status topic -> an update (in place when read on its ward's partition)."""
    received = _received(event)
    try:
        update, body = parse_status_update(received.value)
    except Rejected as rejected:
        return MalformedInput(received, rejected)
    origin = received.origin
    return UpdateInput(update, body, received, on_ward_partition(origin, update.ward, counts), source=origin,
                       actor=topics.actor_of_status_topic(origin.topic))


def on_ward_partition(origin: Origin, ward: str, counts: dict[str, int]) -> bool:
    """Whether a message read at ``origin`` is on the partition its ward's tables live in: its topic
    has as many partitions as the commands topic (and so the changelogs), and ``ward`` hashes there.
    ``counts``: partition counts by topic."""
    count = counts.get(origin.topic)
    if not count or count != counts.get(commands_topic_of_app()):
        return False
    return partition_for_key(ward.encode(), count) == origin.partition


async def _partition_counts(topics_: Iterable[str], state: LifecycleWorker) -> dict[str, int]:
    """Partition counts from the producer's metadata, remembered (a topic's count does not change
    under a running worker without a rebalance of everything anyway)."""
    known = state.partition_counts
    missing = [t for t in {*topics_, commands_topic_of_app()} if t not in known]
    if missing:
        producer = (await app.maybe_start_producer())._ensure_producer()  # type: ignore[attr-defined]
        for topic in missing:
            known[topic] = len(await producer.partitions_for(topic))
    return known


async def _place_devices(inputs: list[LifecycleInput], state: LifecycleWorker) -> None:
    """A camera or sensor event is placed by its device: correlate it at the device's position."""
    wanted = [i for i, item in enumerate(inputs)
              if isinstance(item, RoutedInput) and item.event.lat is None and item.event.device_id is not None]
    devices = state.devices if wanted else None
    if devices is None:
        return
    try:
        await devices.ensure({inputs[i].event.device_id for i in wanted})  # type: ignore[union-attr]
    except Exception as exc:  # no position: they still correlate by group and by device
        log.warning("device lookup failed: %s", exc)
        return
    for i in wanted:
        item = inputs[i]
        assert isinstance(item, RoutedInput) and item.event.device_id is not None
        point = devices.get(item.event.device_id)
        if point is not None:
            inputs[i] = dataclasses.replace(item, event=dataclasses.replace(item.event, lat=point.lat, lon=point.lon))


# -- deciding -----------------------------------------------------------------------------------------
@dataclass
class Decided:
    result: BatchResult
    changelog: list[Outgoing]  # the table writes of the batch, one record per key and partition


async def recall(inputs: Sequence[LifecycleInput], state: LifecycleWorker) -> dict[str, Any]:
    """The whole state of the closed incidents the batch's updates apply to (their table entry is a
    stub): read from the serving index in one round trip, once the previous batch's index write is
    done (it may hold the very version the stub names). Nothing when the index cannot be read: the
    update is then dead-lettered ``unknown_incident`` with the reason."""
    wanted = recall_wanted(state.book, inputs)
    index = state.index if wanted else None
    if index is None:
        return {}
    try:
        if state.index_writes:
            await asyncio.wait(list(state.index_writes))
        return await index.docs(wanted)
    except Exception as exc:
        log.warning("serving index read (recall of closed incidents) failed: %s", exc)
        return {}


def decide(events: Sequence[Any], inputs: Sequence[LifecycleInput], state: LifecycleWorker,
           recalled: dict[str, Any] | None = None) -> Decided:
    """The batch's inputs applied per partition (a ward's inputs share one), in order; the table
    writes of each partition staged and turned into its changelog records."""
    now = state.clock.now()
    groups: dict[int, list[int]] = {}
    for index, event in enumerate(events):
        groups.setdefault(event.message.partition, []).append(index)
    merged = BatchResult()
    changelog: list[Outgoing] = []
    for partition, indexes in groups.items():
        try:
            part = decide_batch(state.book, [inputs[i] for i in indexes], now, recalled)
        except BaseException:
            for table in state.tables:
                table.discard()
            raise
        for table in state.tables:
            changelog.extend(table.flush(partition))
        merged.effects.extend(part.effects)
        merged.forwards.extend(part.forwards)
        merged.rejections.extend(part.rejections)
        merged.ticked.extend(part.ticked)
        merged.housekept.extend(part.housekept)
        merged.applied.extend(part.applied)
        merged.errors.extend(part.errors)
        for kind, count in part.counts.items():
            merged.counts[kind] = merged.counts.get(kind, 0) + count
    return Decided(merged, changelog)


# -- output -------------------------------------------------------------------------------------------
_CHANNEL_TOPICS = {"incidents": topics.INCIDENTS, "escalations": topics.ESCALATIONS, "results": topics.RESULTS}


def _outgoing(out: Outbound) -> Outgoing:
    topic = topics.ward_topic(out.key) if out.channel == "ward" else _CHANNEL_TOPICS[out.channel]
    return Outgoing(topic, out.key.encode(), out.payload(), CLOUDEVENTS_HEADERS)


def _escalation_copies(outbound: Iterable[Outbound]) -> list[Outgoing]:
    """Escalations also on the agency and city-IOC topics they name (what reaches an actor)."""
    return [Outgoing(topic, key, json_bytes.dumps(value), CLOUDEVENTS_HEADERS)
            for topic, key, value in actors.escalation_copies(outbound)]


def _command(forward: Forward) -> Outgoing:
    return Outgoing(commands_topic_of_app(), forward.ward.encode(), json_bytes.dumps(forward.command))


def dead_letter(rejection: Rejection, now: datetime) -> Outgoing:
    received, rejected = rejection.received, rejection.rejected
    topic, partition, offset = received.origin
    # the preview is cut from the raw bytes and masked (before it is cut) by envelope.deadletter
    body = envelope.deadletter(received.value, rejected.reason, rejected.detail, topic, partition, offset, now)
    body["source"] = f"{envelope.SOURCE}/lifecycle"
    key = received.key
    if rejection.ward is not None:
        body["iocward"] = rejection.ward
        key = rejection.ward.encode()
    if rejection.incident is not None:
        body["iocincident"] = rejection.incident
    if rejection.update_id is not None:
        body["iocupdate"] = rejection.update_id  # the sender (ioc incidents ...) finds its verdict by it
    metrics.deadletter.labels(rejected.reason, "status" if topic.startswith(topics.STATUS) else "lifecycle").inc()
    return Outgoing(topics.DEADLETTER, key, json_bytes.dumps(body), CLOUDEVENTS_HEADERS)


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


def _gauge(book: IncidentBook, wards: Iterable[str]) -> None:
    for ward in set(wards):
        counts = book.open_counts(ward)
        for priority in PRIORITIES:
            metrics.open_incidents.labels(ward, priority).set(counts.get(priority, 0))


def _index_bodies(effects: Effects) -> list[bytes | None]:
    """Each changed incident's JSON for the serving index: its audit state's body, serialized once
    by the book for this version (:meth:`~routers.incidents.book.SavedVersion.body_json`, the bytes
    the state embeds); None: ``put_all`` builds it."""
    saved = {o.key: o.saved for o in effects.outbound if o.channel == "incidents"}
    bodies: list[bytes | None] = []
    for incident in effects.changed:
        version = saved.get(incident.id)
        if version is not None and (version.incident.version, version.incident.ward) == (incident.version, incident.ward):
            bodies.append(version.body_json())
        else:
            bodies.append(None)
    return bodies


async def _refined(rejections: list[Rejection], state: LifecycleWorker) -> list[Rejection]:
    """Tell "not your incident" from "no such incident" with the serving index (one round trip)."""
    unknown = [r.incident for r in rejections if r.rejected.reason == "unknown_incident" and r.incident]
    index = state.index if unknown else None
    if index is None:
        return rejections
    try:
        owners = await index.owners_of(i for i in unknown if i is not None)
    except Exception as exc:
        log.warning("serving index read failed: %s", exc)
        return rejections
    return [refine_unknown(r, owners.get(r.incident or "")) for r in rejections]


async def finish(decided: Decided, events: Sequence[Any], state: LifecycleWorker) -> Handled:
    """What a decided batch sends, after its serving-index write (one pipelined round trip)."""
    result = decided.result
    for item, error in result.errors:
        log.error("lifecycle: %s failed: %s", type(item).__name__, error)
    for ward in result.ticked:
        state.ticked.pop(ward, None)
    now = state.clock.now()
    effects = result.effects
    messages = list(decided.changelog)
    messages.extend(_outgoing(o) for o in effects.outbound)
    messages.extend(_escalation_copies(effects.outbound))
    messages.extend(_command(f) for f in result.forwards)
    messages.extend(dead_letter(r, now) for r in await _refined(result.rejections, state))
    _observe(effects)
    state.gauge_due.update(i.ward for i in effects.changed)
    for kind, count in result.counts.items():
        metrics.lifecycle_inputs.labels(kind).inc(count)
    pending: list[Awaitable[None]] = []
    index = state.index
    if index is not None and (effects.changed or effects.evidence):
        # Written while the next batch is decided; the batch's offsets wait for it too.
        bodies = _index_bodies(effects)
        write = asyncio.ensure_future(_write_index(index, effects.changed, bodies, effects.evidence))
        state.index_writes.add(write)
        write.add_done_callback(state.index_writes.discard)
        pending.append(write)
    if result.applied:
        wall = time.time()
        stamps = {e.message.offset: e.message.timestamp for e in events if e.message.topic.startswith(topics.STATUS)}
        for item in result.applied:
            stamp = stamps.get(item.source.offset) if item.source.topic.startswith(topics.STATUS) else None
            if stamp:
                metrics.status_apply_latency.observe(max(wall - stamp, 0.0))
    return Handled(messages, pending)


async def _write_index(index: IncidentIndex, changed: list[Any], bodies: list[bytes | None],
                       evidence: list[Any]) -> None:
    try:
        await index.put_all(changed, bodies, evidence)
    except Exception as exc:  # the serving index is rebuilt by later writes; the stream must go on
        log.warning("serving index write failed: %s", exc)


async def handle_lifecycle_batch(events: Sequence[Any]) -> Handled:
    state = lifecycle_worker()
    inputs = [decode_lifecycle(e) for e in events]
    await _place_devices(inputs, state)
    return await finish(decide(events, inputs, state, await recall(inputs, state)), events, state)


async def handle_status_batch(events: Sequence[Any]) -> Handled:
    state = lifecycle_worker()
    counts = await _partition_counts({e.message.topic for e in events}, state)
    inputs = [decode_status(e, counts) for e in events]
    return await finish(decide(events, inputs, state, await recall(inputs, state)), events, state)


@app.agent(lifecycle_topic)
async def lifecycle(stream: Any) -> None:
    """The incident tables' writer for routed events and commands (partition = the ward's partition)."""
    await forward_batches(stream, handle_lifecycle_batch, max_batch=BATCH_MAX, within=BATCH_WITHIN_S,
                          max_events_in_flight=EVENTS_IN_FLIGHT_MAX, turn=lifecycle_worker().decide_turn)


@app.agent(status_topic)
async def status_intake(stream: Any) -> None:
    """Ward updates, apart from routine traffic: applied on the ward's partition, or forwarded there."""
    await forward_batches(stream, handle_status_batch, max_batch=BATCH_MAX, within=STATUS_BATCH_WITHIN_S,
                          turn=lifecycle_worker().decide_turn)


# -- timers -------------------------------------------------------------------------------------------
async def _send_commands(forwards: Iterable[Forward]) -> None:
    producer = app.producer
    commands = commands_topic_of_app()
    pending = [await producer.send(commands, f.ward.encode(), orjson.dumps(f.command), None, None, None)
               for f in forwards]
    for future in pending:
        await future


@app.timer(interval=TICK_INTERVAL_S)
async def sla_timer() -> None:
    """Tick each ward with an SLA rung due; the agent climbs it (once: the rung is marked in state)."""
    state = lifecycle_worker()
    now = state.clock.now()
    wall = time.monotonic()
    due = [w for w in state.book.due_wards(now) if wall - state.ticked.get(w, -1e9) >= TICK_RESEND_S]
    for ward in due:
        state.ticked[ward] = wall
    if due:
        await _send_commands(tick_command(w) for w in due)


@app.timer(interval=GAUGE_INTERVAL_S)
async def open_incidents_gauge() -> None:
    """``ioc_open_incidents`` of the wards changed since the last run (off the batches' path)."""
    state = lifecycle_worker()
    wards, state.gauge_due = state.gauge_due, set()
    _gauge(state.book, wards)


@app.timer(interval=HOUSEKEEPING_INTERVAL_S)
async def housekeeping() -> None:
    """Forget long-closed incidents in the tables (via the owning partition), age out the index."""
    state = lifecycle_worker()
    now = state.clock.now()
    state.book.trim_cache()  # in-process only: no table write, so it needs no partition
    wards = state.book.wards_to_housekeep(now)
    if wards:
        await _send_commands(housekeep_command(w) for w in wards)
    index = state.index
    if index is not None:
        try:
            await index.housekeep(state.clock.now())
        except Exception as exc:
            log.warning("serving index housekeeping failed: %s", exc)


# -- HTTP ---------------------------------------------------------------------------------------------
def _json(web: Any, status: int, body: dict[str, Any]) -> Any:
    return web.bytes(orjson.dumps(body), content_type="application/json", status=status)


@app.page("/api/incidents")
async def incidents_page(web: Any, request: Any) -> Any:
    state = lifecycle_worker()
    index = state.index
    if index is None:
        return _json(web, 503, {"error": "no_redis", "message": "IOC_REDIS_URL is not set"})
    status, body = await queries.scoped_list_response(index, request.query, caller_wards(request))
    return _json(web, status, body)


@app.page("/api/incidents/{incident_id}")
async def incident_page(web: Any, request: Any, incident_id: str) -> Any:
    state = lifecycle_worker()
    index = state.index
    if index is None:
        return _json(web, 503, {"error": "no_redis", "message": "IOC_REDIS_URL is not set"})
    status, body = await queries.scoped_detail_response(index, incident_id, caller_wards(request))
    return _json(web, status, body)


def stored_incidents() -> list[Any]:
    """Every incident copy in this worker's tables (for tests and diagnostics)."""
    book = lifecycle_worker().book
    return [v if isinstance(v, Incident) else book.decode(k, v) for k, v in incidents_table.items()
            if v is not None and not is_stub(v)]
