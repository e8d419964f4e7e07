"""The incident book of the wards one worker owns: state kept in two mappings, no I/O.

The streams side passes its Faust tables (changelog-backed) as the mappings and publishes the
returned :class:`Outbound` messages; tests pass plain dicts. Keys:

* ``incidents["<ward>/<incident id>"]`` -> the :class:`~routers.incidents.model.Incident` (decoded:
  correlation reads it for every event of its ward; its changelog record is its JSON, see
  :func:`~routers.incidents.model.table_json`; what a changelog restores is JSON, decoded on read). Keyed by owner ward because a ward's
  incidents live in that ward's partition: after a reassignment the old ward keeps a ``moved_to``
  stub and the new ward's partition holds the live copy, so a changelog replay can never let one
  overwrite the other.
* ``wards["<ward>"]`` -> ``{"open": [incident ids], "closed": [[incident id, epoch s], ...]}``:
  the open list makes correlation and SLA checks local; written when an incident opens or closes
  and when housekeeping forgot stubs;
* ``seen["<ward>|<path>|<intake topic>/<partition>"]`` -> the highest intake offset applied (see
  :mod:`~routers.incidents.marks`): a redelivered event is a no-op, with one small record per
  ward and intake partition instead of one per event.

What an entry holds (see docs/lifecycle.md, "Memory"):

* an open incident: its JSON with the evidence *window* (the first item and the latest
  :data:`~routers.incidents.lifecycle.EVIDENCE_WINDOW`), ``evidence_count``, every citizen report
  id and the latest device ids. Every evidence item is handed out once as an
  :class:`EvidenceWrite` (the agent appends it to the serving index's evidence list) and in the
  notice that adds it (``new_evidence``);
* a closed incident (resolved, closed or moved away): a *stub* (:func:`~routers.incidents.model.stub_of`:
  id, ward, status, version, time, ``moved_to``). A late update or a reopen needs the whole
  incident: the agent recalls it from the serving index (``recalled``, read in the batch's one
  round trip) and the book applies the update when the recalled copy is the stub's very version;
  otherwise it is rejected ``unknown_incident``, saying the state is gone. The incidents closed
  most recently stay decoded in memory (:data:`RECENT_CLOSED`), so a reopen right after a
  resolve needs no read.

Retention (:meth:`IncidentBook.on_housekeeping`, per ward, on the ward's partition), so the state
of a worker is bounded by its event rate, not by its uptime:

* stubs of incidents closed more than ``retention_s`` (1 h) ago are forgotten; their latest state
  stays on the compacted ``ioc.incidents`` topic and for 7 days in the serving index. A late update
  for one is dead-lettered ``unknown_incident``;
* open incidents stay, however old: they escalate until someone acts. Their size is bounded by
  their report ids and status history (the evidence is a window).

Example::

    book = IncidentBook({}, {})
    effects = book.on_routed(routed_from_envelope(envelope), now)
    for message in effects.outbound: ...
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from routers import json_bytes
from routers.exceptions import Rejected
from routers.incidents import messages
from routers.incidents.correlation import CorrelationPolicy, covering_incident, find_incident, incident_id
from routers.incidents.escalation import escalate_due, next_due
from routers.incidents.lifecycle import add_evidence, apply_update, open_incident, receive_handoff
from routers.incidents.marks import high_water_key, is_redelivery
from routers.incidents.model import Incident, evolve, incident_from_json, is_stub, stub_of
from routers.incidents.report_ids import CHUNK as REPORT_CHUNK
from routers.incidents.report_ids import ReportIds
from routers.incidents.routed import RoutedEvent
from routers.incidents.status import Status
from routers.incidents.timeutil import fmt
from routers.incidents.updates import StatusUpdate

# Closed incidents stay this long after closing: a reopen or a late update within the hour still
# finds them; after that the serving index (7 days) and ioc.incidents hold their history.
RETENTION_S = 3600
# Closed incidents kept decoded (whole) in memory, the latest ones: a reopen or a late update
# shortly after the close needs no read of the serving index. A constant, so bounded by design.
RECENT_CLOSED = 1000
# An open incident's citizen report ids go to the changelog in chunks of REPORT_CHUNK: each full
# (sealed) chunk once, in a table of its own (key "<ward>/<incident>#<n>", see IncidentBook.reports),
# and the open chunk, the ids since the last full one, in the incident's own record (report_tail).
# A change then writes fewer than REPORT_CHUNK ids, not every id so far, and no record besides the
# incident's unless a chunk fills. The record says how many ids there are (report_count) and that
# they are chunked (report_chunks). Before, an incident with 600 reports wrote ~24 kB of ids per
# change, and the soak's worker slowed as incidents grew; until the open chunk moved into the record,
# every change wrote it as a second changelog record (records without report_tail still restore).
# The table holds the very chunk objects of the incident's ReportIds (shared, compact).
# A rung fires this long after its deadline, not at it: an acknowledgement a ward sent just before
# the deadline is still on its way through the status path (its p99 target is 2 s), and must win.
ESCALATION_GRACE_S = 2.0


class SavedVersion:
    """One saved version of an incident, turned into JSON when something first needs it, and then
    only once: its audit state, its notice, its changelog record and its serving-index document all
    read this one body. A batch coalesces the states and ``updated`` notices of versions a later one
    supersedes (:func:`routers.incidents.batch.coalesce`), so those are never built at all.
    ``new_reports``: see :meth:`IncidentBook._save`."""

    __slots__ = ("incident", "new_reports", "_body", "_json")

    def __init__(self, incident: Incident, new_reports: tuple[str, ...] | None = None) -> None:
        self.incident = incident
        self.new_reports = new_reports
        self._body: dict[str, Any] | None = None
        self._json: bytes | None = None

    def body_json(self) -> bytes:
        """:meth:`body` serialized, once: the audit state embeds these bytes
        (:meth:`PendingMessage.payload`) and the serving index stores them (so does the changelog
        record of a book without a chunk table, when the body names every report)."""
        raw = self._json
        if raw is None:
            raw = self._json = json_bytes.dumps(self.body())
        return raw

    def body(self) -> dict[str, Any]:
        body = self._body
        if body is None:
            # the incident is frozen: built now or at the save, the JSON is the same
            body = self.incident.to_json(reports=self.new_reports is None)
            if self.new_reports is not None:
                body["new_report_ids"] = list(self.new_reports)
            self._body = body
        return body


_CHUNKED_TAIL = b',"report_chunks":%d,"report_tail":' % REPORT_CHUNK


def _chunked_record_json(version: SavedVersion) -> bytes | None:
    """The changelog record of an open incident whose report ids are in chunks, made from the JSON
    its messages already carry: that JSON with its last member, the report ids, replaced by
    ``report_chunks`` and the open chunk's ids (``report_tail``). Building and serializing the
    record anew (~1.8 kB, once per changed incident per batch) took ~3.6 % of the lifecycle
    worker's samples under ``make bench``. None when the JSON does not end in the ids (then the
    caller builds the record)."""
    body = version.body()
    name = "new_report_ids" if "new_report_ids" in body else "report_ids"
    if next(reversed(body), None) != name:
        return None
    tail = b',"' + name.encode() + b'":' + orjson.dumps(body[name]) + b"}"
    raw = version.body_json()
    if not raw.endswith(tail):
        return None
    return raw[:-len(tail)] + _CHUNKED_TAIL + version.incident.report_ids.tail_json() + b"}"


class _OpenList(NamedTuple):
    """A ward's open incidents as decoded, valid while the ward's book and each stored body are the
    very objects read (any write, also a changelog restored after a rebalance, stores new ones)."""

    book: Any
    incidents: list[Incident]
    bodies: list[tuple[str, Any]]  # (table key, stored body) of every incident the book lists open
    places: dict[str, tuple[int, int]]  # table key -> its index in incidents (-1: not open) and in bodies
    # what correlation matches on (routers.incidents.correlation.find_incident): the indexes in
    # ``incidents`` of each category family, and each rule group's family (MIXED: several). Neither
    # changes with an incident's versions, so a new version takes its place without touching them.
    families: dict[str, list[int]]
    groups: dict[str, str]

    def matching(self, family: str, group_key: str | None) -> list[Incident]:
        """The open incidents of ``family`` or of the rule group ``group_key``: the only ones an
        event of them can correlate with. Each routed event scanned every open incident of its
        ward for them: the list grows while nothing resolves (dozens in a bench round, more in a
        soak's first minutes), and the scan with it (docs/performance.md, session 18)."""
        incidents = self.incidents
        found = [incidents[i] for i in self.families.get(family, ())]
        if group_key is not None and self.groups.get(group_key, family) != family:  # rare: a group across families
            found.extend(i for i in incidents if i.group_key == group_key and i.family != family)
        return found


MIXED = "*"  # a rule group whose open incidents are of several families


def _group_family(groups: dict[str, str], group_key: str, family: str) -> str:
    """What ``groups`` says of ``group_key`` once an incident of ``family`` joins it."""
    return family if groups.get(group_key, family) == family else MIXED


class PendingMessage(NamedTuple):
    """The audit state (``change`` None) or the notice of ``version``, as of ``now``, not built yet."""

    version: SavedVersion
    change: str | None
    now: datetime
    added: tuple[dict[str, Any], ...] = ()  # the notice's ``new_evidence``

    def build(self) -> dict[str, Any]:
        incident, body = self.version.incident, self.version.body()
        if self.change is None:
            return messages.state(incident, self.now, body)
        return messages.notice(incident, self.change, self.now, body=body, added=list(self.added))

    def payload(self) -> bytes:
        """:meth:`build` serialized; an audit state embeds its version's :meth:`SavedVersion.body_json`
        instead of serializing the incident again (the same bytes orjson makes of the dict)."""
        if self.change is None:
            version = self.version
            return json_bytes.dumps(messages.state(version.incident, self.now, orjson.Fragment(version.body_json())))
        return json_bytes.dumps(self.build())


class Outbound:
    """A message to publish: ``channel`` ``ward`` (key = ward code), ``incidents``, ``escalations``,
    ``results`` or ``handoff`` (to the new owner ward's partition, key = ward code); ``value`` its
    envelope. A save's audit state and notice are :class:`PendingMessage` s, built when ``value`` is
    first read; what coalescing reads of a notice (:attr:`incident`, :attr:`kind`,
    :attr:`new_evidence`) needs no building."""

    __slots__ = ("channel", "key", "_value", "_pending")

    def __init__(self, channel: str, key: str, value: dict[str, Any] | None = None,
                 pending: PendingMessage | None = None) -> None:
        if (value is None) == (pending is None):
            raise ValueError("an Outbound has either a value or a pending message")
        self.channel = channel
        self.key = key
        self._value = value
        self._pending = pending

    @property
    def value(self) -> dict[str, Any]:
        value = self._value
        if value is None:
            assert self._pending is not None
            value = self._value = self._pending.build()
        return value

    def payload(self) -> bytes:
        """:attr:`value` as the JSON bytes published (for a pending message, without building the dict)."""
        if self._value is None and self._pending is not None:
            return self._pending.payload()
        return json_bytes.dumps(self.value)

    @property
    def saved(self) -> SavedVersion | None:
        """The saved version a pending audit state or notice is of; None for a built value."""
        pending = self._pending
        return pending.version if pending is not None else None

    @property
    def incident(self) -> Any:
        """The incident id the message is about (``iocincident``)."""
        pending = self._pending
        return pending.version.incident.id if pending is not None else self.value.get("iocincident")

    @property
    def kind(self) -> Any:
        """The CloudEvents ``type``."""
        pending = self._pending
        if pending is None:
            return self.value.get("type")
        return messages.TYPE_STATE if pending.change is None else messages.TYPE_PREFIX + pending.change

    @property
    def new_evidence(self) -> list[Any]:
        """A notice's ``new_evidence`` items."""
        pending = self._pending
        if pending is not None:
            return list(pending.added)
        data = self.value.get("data")
        return list(data.get("new_evidence") or ()) if isinstance(data, dict) else []

    def with_new_evidence(self, items: list[Any]) -> Outbound:
        """This notice carrying ``items`` as its ``new_evidence``."""
        pending = self._pending
        if pending is not None:
            return Outbound(self.channel, self.key, pending=pending._replace(added=tuple(items)))
        value = self.value
        return Outbound(self.channel, self.key, {**value, "data": {**value["data"], "new_evidence": items}})

    @property
    def reports_added(self) -> tuple[str, ...] | None:
        """The citizen report ids an audit state of an evidence-only change names
        (``new_report_ids``); None when it names every report of its incident (``report_ids``)."""
        pending = self._pending
        if pending is not None:
            return pending.version.new_reports
        data = self.value.get("data")
        if not isinstance(data, dict) or "new_report_ids" not in data:
            return None
        return tuple(data["new_report_ids"])

    def naming_earlier_reports(self, earlier: tuple[str, ...] | None) -> Outbound:
        """This audit state also naming the reports of the states of its incident a batch coalesced
        away before it (``earlier``; None: one of those named every report, so this one does too).
        Without this, a report that joined an incident in the same batch as a later one would never
        reach ``ioc.incidents`` (the Open311 tracker marks a request routed from it). The version
        is shared with its notice and serving-index document while unbuilt: they name the same."""
        own = self.reports_added
        if own is None:
            return self
        merged = None if earlier is None else tuple(dict.fromkeys((*earlier, *own)))
        pending = self._pending
        if pending is None:  # built already (not by the book): only ids it knows can be added
            value = self.value
            ids = list(merged if merged is not None else own)
            return Outbound(self.channel, self.key, {**value, "data": {**value["data"], "new_report_ids": ids}})
        version = pending.version
        if version._body is None:
            version.new_reports = merged
            return self
        return Outbound(self.channel, self.key, pending=pending._replace(version=SavedVersion(version.incident, merged)))

    def __repr__(self) -> str:
        return f"Outbound({self.channel!r}, {self.key!r}, {self.kind!r})"


@dataclass(frozen=True, slots=True)
class Signal:
    """A metric observation: ``opened``, ``status``, ``acknowledged``, ``resolved``, ``breach``, ``escalation``."""

    name: str
    labels: tuple[str, ...] = ()
    value: float = 1.0


@dataclass(slots=True)
class Housekeeping:
    """What one ward's housekeeping did: stubs of closed incidents forgotten."""

    incidents: int = 0


@dataclass(frozen=True, slots=True)
class EvidenceWrite:
    """An evidence item for the serving index's evidence list of ``incident``, at ``index`` (an
    append when the list is that long, else a replacement: a tracked object's item updated).
    Placing by index makes a redelivered write land where it landed the first time."""

    incident: str
    index: int
    item: dict[str, Any]
    opens: bool = False  # the incident's first item: its list starts afresh (an id used before keeps nothing)


@dataclass(slots=True)
class Effects:
    outbound: list[Outbound] = field(default_factory=list)
    changed: list[Incident] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    evidence: list[EvidenceWrite] = field(default_factory=list)
    duplicate: bool = False

    def extend(self, other: Effects) -> None:
        self.outbound.extend(other.outbound)
        self.changed.extend(other.changed)
        self.signals.extend(other.signals)
        self.evidence.extend(other.evidence)


def table_key(ward: str, incident: str) -> str:
    return f"{ward}/{incident}"


def report_chunk_key(key: str, n: int) -> str:
    """The ``n``-th chunk of report ids of the incident at table key ``key``."""
    return f"{key}#{n}"


def _chunks(count: int) -> int:
    return (count + REPORT_CHUNK - 1) // REPORT_CHUNK


class IncidentBook:
    def __init__(
        self,
        incidents: MutableMapping[str, Any],
        wards: MutableMapping[str, Any],
        seen: MutableMapping[str, Any],
        policy: CorrelationPolicy | None = None,
        retention_s: float = RETENTION_S,
        grace_s: float = 0.0,
        reports: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.incidents = incidents
        self.wards = wards
        self.seen = seen
        # report id chunks of open incidents (REPORT_CHUNK); None: the incident's record carries them all
        self.reports = reports
        self.policy = policy or CorrelationPolicy()
        self.retention_s = retention_s
        self.grace_s = grace_s  # the worker uses ESCALATION_GRACE_S; 0 climbs a rung at its deadline
        # Decoded copies of incidents the table holds as JSON (restored from the changelog, e.g.
        # after a restart or on a standby), by table key and version: a stored version never
        # changes, so the cache cannot go stale. What this book writes it stores decoded.
        self._decoded: dict[str, tuple[int, Incident]] = {}
        # The JSON built by this batch's saves, by table key: the changelog encoder reuses it
        # (:meth:`encode`) instead of building it again. Cleared by :meth:`begin_batch`.
        self._bodies: dict[str, tuple[Incident, SavedVersion]] = {}
        # Wards whose cached open list was checked against the tables in this batch (None: outside
        # a batch, check on every read). Inside a batch only this book writes the tables (the
        # batch is applied without an await) and :meth:`_save` keeps the cache current, so one
        # check per ward and batch is enough; the timers between batches check on every read.
        self._checked: set[str] | None = None
        # The latest RECENT_CLOSED closed incidents, whole, by table key (their table entry is a stub).
        self._closed: OrderedDict[str, Incident] = OrderedDict()
        # ward -> the earliest SLA moment of its open incidents (None: none pending), or a moment
        # earlier than that: saves only ever pull it earlier, a tick recomputes it exactly. So the
        # 1 s timer reads one entry per ward instead of every open incident.
        self._due: dict[str, datetime | None] = {}
        # ward -> its open incidents decoded, with what they were read from: correlation reads
        # them for every event of the ward. Kept current by :meth:`_save`.
        self._open: dict[str, _OpenList] = {}

    # -- reading -----------------------------------------------------------------------------------
    def get(self, ward: str, incident: str) -> Incident | None:
        """The incident as the table holds it; None when unknown or a stub (see :meth:`for_update`)."""
        key = table_key(ward, incident)
        body = self.incidents.get(key)
        if body is None or is_stub(body):
            return None
        if isinstance(body, Incident):
            return body
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == body["version"]:
            return cached[1]
        decoded = self.decode(key, body)
        if len(self._decoded) > 50_000:
            self._decoded.clear()
        self._decoded[key] = (decoded.version, decoded)
        return decoded

    def decode(self, key: str, body: Mapping[str, Any]) -> Incident:
        """An incident the table holds as JSON (restored from its changelog), with its report ids
        from their chunks when its record names them so."""
        if body.get("report_chunks") and self.reports is not None:
            count, tail = int(body.get("report_count") or 0), body.get("report_tail")
            if tail is None:  # a record from before the open chunk moved into it: that chunk is in the table
                chunks = [self.reports.get(report_chunk_key(key, n)) for n in range(_chunks(count))]
            else:
                chunks = [*(self.reports.get(report_chunk_key(key, n)) for n in range(count // REPORT_CHUNK)), tail]
            incident = incident_from_json({k: v for k, v in body.items() if k != "report_ids"})
            return evolve(incident, report_ids=ReportIds.from_chunks(c for c in chunks if c))
        return incident_from_json(dict(body))

    def version_of(self, ward: str, incident: str) -> int | None:
        """The version the table holds (of an incident or its stub); None when unknown."""
        body = self.incidents.get(table_key(ward, incident))
        if isinstance(body, Incident):
            return body.version
        return None if body is None else int(body["version"])

    def needs_recall(self, ward: str, incident: str) -> bool:
        """Whether an update for this incident needs its whole state from the serving index: its
        entry is a stub, and not one of the incidents closed most recently (kept decoded)."""
        key = table_key(ward, incident)
        body = self._stub(key)
        if body is None:
            return False
        recent = self._closed.get(key)
        return recent is None or recent.version != body["version"]

    def _stub(self, key: str) -> Mapping[str, Any] | None:
        body = self.incidents.get(key)
        return body if is_stub(body) else None

    def for_update(self, ward: str, incident: str, recalled: Mapping[str, Any] | None = None) -> Incident | None:
        """The whole incident an update applies to: the table's, or for a stub the recent closed
        copy or the ``recalled`` one (incident id -> the serving index's JSON) of the stub's version.
        None when unknown; :class:`Rejected` when a stub's state is no longer to be had."""
        key = table_key(ward, incident)
        body = self._stub(key)
        if body is None:
            return self.get(ward, incident)
        recent = self._closed.get(key)
        if recent is not None and recent.version == body["version"]:
            return recent
        full = (recalled or {}).get(incident)
        if isinstance(full, dict) and full.get("ward") == ward and full.get("version") == body["version"]:
            return incident_from_json(full)
        found = "not there" if not isinstance(full, dict) else f"version {full.get('version')}"
        raise Rejected("unknown_incident", f"incident {incident} was closed in ward {ward} (version "
                       f"{body['version']}, {body['status']}) and its state is no longer in the serving index "
                       f"({found})")

    @staticmethod
    def _editable(book: Any) -> dict[str, Any]:
        """A copy of a ward's stored book (None: none yet) to change and store anew."""
        if not book:
            return {"open": [], "closed": []}
        return {"open": list(book["open"]), "closed": list(book["closed"])}

    def open_in(self, ward: str) -> list[Incident]:
        """The ward's open incidents (a list shared with the cache: do not edit it)."""
        book = self.wards.get(ward)
        if not book:
            return []
        cached = self._open.get(ward)
        checked = self._checked
        if cached is not None and cached.book is book:
            if checked is not None and ward in checked:
                return cached.incidents
            if all(self.incidents.get(key) is body for key, body in cached.bodies):
                if checked is not None:
                    checked.add(ward)
                return cached.incidents
        bodies: list[tuple[str, Any]] = []
        open_now: list[Incident] = []
        places: dict[str, tuple[int, int]] = {}
        families: dict[str, list[int]] = {}
        groups: dict[str, str] = {}
        for listed_id in book["open"]:
            key = table_key(ward, listed_id)
            found = self.get(ward, listed_id)
            if found is not None and found.is_open:
                places[key] = (len(open_now), len(bodies))
                families.setdefault(found.family, []).append(len(open_now))
                if found.group_key is not None:
                    groups[found.group_key] = _group_family(groups, found.group_key, found.family)
                open_now.append(found)
            else:
                places[key] = (-1, len(bodies))
            bodies.append((key, self.incidents.get(key)))
        self._open[ward] = _OpenList(book, open_now, bodies, places, families, groups)
        if checked is not None:
            checked.add(ward)
        return open_now

    def _matching(self, event: RoutedEvent) -> list[Incident]:
        """The open incidents of ``event``'s ward it may correlate with (its family or rule group)."""
        incidents = self.open_in(event.ward)
        cached = self._open.get(event.ward)
        if cached is None or cached.incidents is not incidents:  # no open incident: no list kept
            return incidents
        return cached.matching(event.family, event.group_key)

    def forget_derived(self) -> None:
        """Drop what is derived from the tables (open lists, SLA due times): call when the tables
        changed other than through this book, e.g. after a rebalance restored partitions."""
        self._open.clear()
        self._due.clear()
        self._bodies.clear()
        if self._checked is not None:
            self._checked.clear()

    def begin_batch(self) -> None:
        """A new batch: the JSON the last one built for its changelog is not needed any more."""
        self._bodies.clear()
        self._checked = set()

    def end_batch(self) -> None:
        """The batch is applied: the tables may change between batches (a rebalance restoring a
        changelog), so reads check the cached open lists again."""
        self._checked = None

    def encode(self, value: Any) -> Any:
        """A table value as its changelog record carries it (:func:`~routers.incidents.model.table_json`),
        reusing the JSON this batch's save built for the very incident object."""
        if isinstance(value, Incident):
            built = self._bodies.get(table_key(value.ward, value.id))
            version = built[1] if built is not None and built[0] is value else None  # saved in this batch
            if self.reports is not None and value.is_open:  # its report ids are in their chunks
                spliced = _chunked_record_json(version) if version is not None else None
                if spliced is not None:
                    return orjson.Fragment(spliced)
                body = version.body() if version is not None else value.to_json(reports=False)
                record = {k: v for k, v in body.items() if k != "report_ids" and k != "new_report_ids"}
                record["report_chunks"] = REPORT_CHUNK
                record["report_tail"] = orjson.loads(value.report_ids.tail_json())
                return record
            if version is None:
                return value.to_json()
            body = version.body()
            if "report_ids" in body:
                return orjson.Fragment(version.body_json())  # orjson (Faust's json codec) copies it as is
            # the messages carried only the new report ids; the changelog restores the table: all
            full = {k: v for k, v in body.items() if k != "new_report_ids"}
            full["report_ids"] = list(value.report_ids)
            return full
        return value

    def open_counts(self, ward: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for incident in self.open_in(ward):
            counts[incident.priority] = counts.get(incident.priority, 0) + 1
        return counts

    def due_wards(self, now: datetime) -> list[str]:
        """Wards with an SLA rung due at ``now`` (the timer ticks only those)."""
        due: list[str] = []
        grace = timedelta(seconds=self.grace_s)
        for ward in list(self.wards.keys()):
            moment = self._due[ward] if ward in self._due else self._ward_due(ward)
            if moment is not None and moment + grace <= now:
                due.append(ward)
        return due

    def _ward_due(self, ward: str) -> datetime | None:
        moments = [m for m in (next_due(i) for i in self.open_in(ward)) if m is not None]
        self._due[ward] = min(moments) if moments else None
        return self._due[ward]

    # -- writing -----------------------------------------------------------------------------------
    def _save(self, incident: Incident, effects: Effects, change: str | None, now: datetime,
              added: tuple[EvidenceWrite, ...] = (), new_reports: tuple[str, ...] | None = None) -> None:
        """Store ``incident`` (a stub once closed) and emit its audit state, its notice (with the
        evidence ``added``) and the evidence writes for the serving index. ``new_reports`` (a
        change that only added evidence): the messages and the index carry the report ids this
        change added (``new_report_ids``) instead of all of them, so what each change writes does
        not grow with the incident's reports; every other change (and the changelog) carries all."""
        key = table_key(incident.ward, incident.id)
        if self.reports is not None:
            self._write_reports(key, incident)
        # for the messages, built when one of them is first read; the table keeps the incident decoded
        version = SavedVersion(incident, new_reports)
        if incident.is_open:
            self.incidents[key] = incident
            self._bodies[key] = (incident, version)
            self._decoded.pop(key, None)
            self._closed.pop(key, None)
        else:
            self.incidents[key] = stub_of(incident)
            self._decoded.pop(key, None)
            self._closed.pop(key, None)
            self._closed[key] = incident
            if len(self._closed) > RECENT_CLOSED:
                self._closed.popitem(last=False)
        cached = self._open.get(incident.ward)
        place = None if cached is None else cached.places.get(key)  # None: not listed, nothing to update
        if cached is not None and place is not None:
            earlier = cached.incidents[place[0]] if place[0] >= 0 and incident.is_open else None
            if earlier is not None and (earlier.family, earlier.group_key) == (incident.family, incident.group_key):
                # new lists, not edits: a caller may be iterating the old ones
                listed, bodies = cached.incidents.copy(), cached.bodies.copy()
                listed[place[0]], bodies[place[1]] = incident, (key, self.incidents[key])
                self._open[incident.ward] = _OpenList(cached.book, listed, bodies, cached.places, cached.families,
                                                      cached.groups)
            else:  # closed, open again, or matched differently: read anew when next asked
                del self._open[incident.ward]
        if incident.ward in self._due:
            moment, known = next_due(incident), self._due[incident.ward]
            if moment is not None and (known is None or moment < known):
                self._due[incident.ward] = moment
        effects.changed.append(incident)
        effects.evidence.extend(added)
        effects.outbound.append(Outbound("incidents", incident.id, pending=PendingMessage(version, None, now)))
        if change is not None:
            notice = PendingMessage(version, change, now, tuple(w.item for w in added))
            effects.outbound.append(Outbound("ward", incident.ward, pending=notice))

    def _write_reports(self, key: str, incident: Incident) -> None:
        """The full report id chunks of ``incident`` (about to be stored at ``key``) not in the table
        yet, for an open incident (its open chunk goes in its own record); none, for a closed one
        (its stub needs none: its last state, on ioc.incidents and in the serving index, names every
        report)."""
        chunks = self.reports
        assert chunks is not None
        ids = incident.report_ids
        if not incident.is_open:
            for n in range(_chunks(len(ids))):
                chunk = report_chunk_key(key, n)
                if chunk in chunks:
                    del chunks[chunk]
            return
        start = self._reports_stored(key, incident) // REPORT_CHUNK
        for n in range(start, ids.sealed_count):
            chunks[report_chunk_key(key, n)] = ids.chunk(n)

    def _reports_stored(self, key: str, incident: Incident) -> int:
        """How many of ``incident``'s report ids the chunks already hold: those of the copy stored
        at ``key``, if it is the same incident (an id used again for another one starts afresh)."""
        stored = self.incidents.get(key)
        if isinstance(stored, Incident):
            same = stored.created_at == incident.created_at and stored.is_open
            return len(stored.report_ids) if same else 0
        if isinstance(stored, Mapping) and stored.get("report_chunks") and not is_stub(stored):
            same = stored.get("created_at") == fmt(incident.created_at)
            return int(stored.get("report_count") or 0) if same else 0
        return 0

    def _set_open(self, incident: Incident, now: datetime) -> None:
        """Keep the ward's open/closed lists in step with ``incident`` (written only on a change)."""
        before = self.wards.get(incident.ward)
        book = self._editable(before)
        listed = incident.id in book["open"]
        if incident.is_open and not listed:
            book["open"].append(incident.id)
            book["closed"] = [c for c in book["closed"] if c[0] != incident.id]
        elif not incident.is_open and listed:
            book["open"].remove(incident.id)
            book["closed"].append([incident.id, now.timestamp()])
        else:
            return
        self.wards[incident.ward] = book
        if incident.is_open:
            self._list_opened(incident, before, book)

    def _list_opened(self, incident: Incident, before: Any, after: Any) -> None:
        """Append an incident just listed open to its ward's cached open list, which was read from
        ``before`` (the ward's book), so that it stays valid for ``after``. Without this, the next
        event of the ward read every open incident of it anew: O(open incidents) per incident
        opened, which grew with the ward's open list (docs/performance.md, session 17)."""
        ward = incident.ward
        cached = self._open.get(ward)
        if cached is None or before is None or cached.book is not before:
            return  # read anew when next asked, as before
        key = table_key(ward, incident.id)  # not in cached.places: those are the ids ``before`` lists
        places = dict(cached.places)  # new containers, not edits: a caller may be iterating the old ones
        position = len(cached.incidents)
        places[key] = (position, len(cached.bodies))
        families = dict(cached.families)
        families[incident.family] = [*cached.families.get(incident.family, ()), position]
        groups, group_key = cached.groups, incident.group_key
        if group_key is not None:
            groups = {**groups, group_key: _group_family(groups, group_key, incident.family)}
        self._open[ward] = _OpenList(after, [*cached.incidents, incident], [*cached.bodies, (key, self.incidents.get(key))],
                                     places, families, groups)

    def on_routed(self, event: RoutedEvent, now: datetime, path: str = "routed") -> Effects:
        """Fold a routed event into an open incident or open one; a redelivery changes nothing.
        ``path``: how it reached the ward's partition (``routed`` or ``forwarded``, see marks)."""
        effects = Effects()
        high = high_water_key(event.ward, path, event.origin)
        if high is not None:
            if is_redelivery(self.seen.get(high[0]), high[1]):
                effects.duplicate = True
                return effects
            self.seen[high[0]] = high[1]
        candidates = self._matching(event)
        match = find_incident(event, candidates, self.policy) or covering_incident(event, candidates)
        if match is not None:
            updated = add_evidence(match, event, now, marked=high is not None)
            # an event already folded in (one without an origin, redelivered while in the window;
            # add_evidence checks), or a tracked object's message that changes nothing
            if updated is match:
                effects.duplicate = True
                return effects
            # add_evidence adds a report id only by appending the event's own
            added = (event.event_id,) if len(updated.report_ids) > len(match.report_ids) else ()
            self._save(updated, effects, "updated", now, _written(updated, event), added)
        elif event.suppressed:
            return effects  # held back by the rules and nothing open to attach it to
        else:
            if table_key(event.ward, incident_id(event.event_id)) in self.incidents:
                effects.duplicate = True  # redelivered first event: the deterministic id still tells
                return effects
            incident = open_incident(event, now)
            self._save(incident, effects, "opened", now, _written(incident, event, opens=True))
            effects.signals.append(Signal("opened", (incident.ward, incident.priority)))
            self._set_open(incident, now)
        return effects

    def on_update(self, update: StatusUpdate, now: datetime, recalled: Mapping[str, Any] | None = None) -> Effects:
        """Apply a ward's update; :class:`Rejected` (state untouched) when it must not apply.
        ``recalled``: closed incidents' JSON from the serving index, see :meth:`for_update`."""
        incident = self.for_update(update.ward, update.incident_id, recalled)
        if incident is None:
            raise Rejected("unknown_incident", f"no incident {update.incident_id} in ward {update.ward}")
        effects = Effects()
        if incident.has_update(update.update_id):
            effects.duplicate = True
            return effects
        updated = apply_update(incident, update, now)
        effects.signals.append(Signal("status", (update.status.value,)))
        seconds = (now - incident.created_at).total_seconds()
        if incident.acknowledged_at is None and updated.acknowledged_at is not None:
            effects.signals.append(Signal("acknowledged", (updated.priority,), seconds))
        change = "updated"
        if update.status == Status.RESOLVED:
            change = "resolved"
            effects.signals.append(Signal("resolved", (updated.priority,), seconds))
        elif update.status == Status.REASSIGNED and updated.moved_to is not None:
            change = "reassigned"  # (a hand-back to the same ward is an update)
        self._save(updated, effects, change, now)
        if update.status == Status.RESOLVED:
            for report_id in updated.report_ids:
                effects.outbound.append(Outbound("results", report_id, messages.result(updated, report_id, now)))
        if update.status == Status.REASSIGNED and updated.moved_to is not None:
            effects.outbound.append(Outbound("handoff", updated.moved_to, updated.to_json()))
        self._set_open(updated, now)
        return effects

    def on_handoff(self, moved_json: dict[str, Any], now: datetime) -> Effects:
        """Take over a reassigned incident in its new ward (idempotent on redelivery)."""
        moved = incident_from_json(moved_json)
        owned = receive_handoff(moved, now)
        effects = Effects()
        existing = self.version_of(owned.ward, owned.id)
        if existing is not None and existing >= owned.version:
            effects.duplicate = True
            return effects
        self._save(owned, effects, "opened", now)
        effects.signals.append(Signal("opened", (owned.ward, owned.priority)))
        self._set_open(owned, now)
        return effects

    def on_tick(self, ward: str, now: datetime) -> Effects:
        """Climb every SLA rung due in ``ward`` at ``now``; each rung fires once (marked in state)."""
        effects = Effects()
        for incident in self.open_in(ward):
            updated, steps, breaches = escalate_due(incident, now, self.grace_s)
            if not steps:
                continue
            self._save(updated, effects, "escalated", now)
            first_index = len(updated.escalations) - len(steps)
            for offset, step in enumerate(steps):
                envelope = messages.escalation(updated, step, first_index + offset, now)
                effects.outbound.append(Outbound("escalations", updated.id, envelope))
                effects.signals.append(Signal("escalation", (messages.LEVEL_NAMES[step.level],)))
            for kind in breaches:
                effects.signals.append(Signal("breach", (kind, updated.priority)))
        self._ward_due(ward)
        return effects

    def trim_cache(self) -> int:
        """Drop decoded copies of incidents no longer in the table; returns how many went. The
        owner drops its own on forgetting, but a worker holding a standby copy of the table sees
        forgotten incidents vanish through the changelog only, and would keep their decoded copies
        (up to the cache's 50,000 cap)."""
        stale = [key for key in list(self._decoded) if key not in self.incidents]
        for key in stale:
            self._decoded.pop(key, None)
        return len(stale)

    def wards_to_housekeep(self, now: datetime) -> list[str]:
        """Wards with a closed incident past retention."""
        horizon = now.timestamp() - self.retention_s
        return [ward for ward, book in list(self.wards.items())
                if book and any(c[1] < horizon for c in book["closed"])]

    def on_housekeeping(self, ward: str, now: datetime) -> Housekeeping:
        """Forget the stubs of ``ward``'s incidents closed more than ``retention_s`` ago."""
        book = self._editable(self.wards.get(ward))
        horizon = now.timestamp() - self.retention_s
        done = Housekeeping()
        for incident_id_, closed_at in book["closed"]:
            if closed_at >= horizon:
                continue
            key = table_key(ward, incident_id_)
            body = self.incidents.get(key)
            whole = self.get(ward, incident_id_)  # a whole closed copy, as an earlier version kept it
            legacy = whole is not None and not whole.is_open
            if body is not None and (is_stub(body) or legacy):
                del self.incidents[key]
                self._decoded.pop(key, None)
                self._closed.pop(key, None)
                done.incidents += 1
        kept = [c for c in book["closed"] if c[1] >= horizon]
        if len(kept) != len(book["closed"]):
            book["closed"] = kept
            self.wards[ward] = book
        return done


def _written(incident: Incident, event: RoutedEvent, opens: bool = False) -> tuple[EvidenceWrite, ...]:
    """The serving index's write for ``event``'s item in ``incident`` (just added or folded;
    ``opens``: the item that opened it)."""
    for position in range(len(incident.evidence) - 1, -1, -1):
        item = incident.evidence[position]
        if item.event_id == event.event_id or (event.track is not None and item.track == event.track):
            return (EvidenceWrite(incident.id, incident.evidence_index(position), item.to_json(), opens),)
    return ()
