"""The incident: correlated evidence, its status history, SLA deadlines and escalations.

Plain frozen data. ``to_json``/``incident_from_json`` are the one storage and wire form
(the Faust tables' changelogs, ``ioc.incidents``, the Redis serving index, the HTTP API), so a
stored incident read back is equal to the one written. The worker's incidents table holds open
incidents decoded (:class:`Incident`), closed ones as stubs (:func:`stub_of`); JSON is built when
written out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from routers.decision import Sla, shared_sla
from routers.incidents.report_ids import NO_REPORTS, ReportIds
from routers.incidents.status import OPEN, Status
from routers.incidents.timeutil import fmt, parse_time

# ``status.value`` is an enum property (~0.3 us); an incident's JSON names its status and two per
# history entry, every version
STATUS_TEXT: Mapping[Status, str] = {status: status.value for status in Status}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One routed event folded into an incident. No personal data."""

    event_id: str
    source: str
    kind: str
    occurred_at: datetime
    lat: float | None = None
    lon: float | None = None
    device_id: str | None = None
    value: float | None = None
    suppressed: str | None = None
    track: str | None = None  # a tracked object (Frigate): one item per object, see routers.incidents.tracked
    details: dict[str, Any] | None = None  # what the camera said of it (labels, zones, scores, snapshot)
    media: tuple[str, ...] = ()  # photo/video URLs of a citizen report (shown in the incident view)

    # Built on each write, not kept: the worker's table holds incidents decoded, and a JSON copy
    # kept per item would double what an open incident costs (see docs/lifecycle.md, "Memory").
    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_id": self.event_id, "source": self.source, "kind": self.kind,
            "occurred_at": fmt(self.occurred_at),
        }
        if self.lat is not None and self.lon is not None:
            body["point"] = {"lat": self.lat, "lon": self.lon}
        # each optional field by name, not in a loop of getattr: built for every item of every version
        if self.device_id is not None:
            body["device_id"] = self.device_id
        if self.value is not None:
            body["value"] = self.value
        if self.suppressed is not None:
            body["suppressed"] = self.suppressed
        if self.track is not None:
            body["track"] = self.track
        if self.details is not None:
            body["details"] = self.details
        if self.media:
            body["media"] = list(self.media)
        return body

    @staticmethod
    def from_json(body: dict[str, Any]) -> Evidence:
        point = body.get("point") or {}
        return Evidence(
            event_id=body["event_id"], source=body["source"], kind=body["kind"],
            occurred_at=parse_time(body["occurred_at"]), lat=point.get("lat"), lon=point.get("lon"),
            device_id=body.get("device_id"), value=body.get("value"), suppressed=body.get("suppressed"),
            track=body.get("track"), details=body.get("details"),
            media=tuple(body.get("media") or ()),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One transition: the audit trail keeps every one, in order (``seq`` from 1)."""

    seq: int
    at: datetime
    status: Status
    previous: Status | None
    ward: str
    actor: str  # "ioc-router" or the ward system's actor id
    note: str | None = None
    update_id: str | None = None

    def to_json(self) -> dict[str, Any]:  # built on each write, as Evidence's
        return {
            "seq": self.seq, "at": fmt(self.at), "status": STATUS_TEXT[self.status],
            "previous": None if self.previous is None else STATUS_TEXT[self.previous],
            "ward": self.ward, "actor": self.actor, "note": self.note, "update_id": self.update_id,
        }

    @staticmethod
    def from_json(body: dict[str, Any]) -> HistoryEntry:
        return HistoryEntry(
            seq=body["seq"], at=parse_time(body["at"]), status=Status(body["status"]),
            previous=None if body.get("previous") is None else Status(body["previous"]),
            ward=body["ward"], actor=body["actor"], note=body.get("note"), update_id=body.get("update_id"),
        )


@dataclass(frozen=True, slots=True)
class Escalation:
    """A step up the ladder: level 1 = agency or city department, level 2 = city IOC duty officer."""

    level: int
    kind: str  # "ack" or "resolve": which deadline was missed
    at: datetime
    due: datetime
    targets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "kind": self.kind, "at": fmt(self.at), "due": fmt(self.due),
                "targets": list(self.targets)}

    @staticmethod
    def from_json(body: dict[str, Any]) -> Escalation:
        return Escalation(body["level"], body["kind"], parse_time(body["at"]), parse_time(body["due"]),
                          tuple(body["targets"]))


@dataclass(frozen=True, slots=True)
class Incident:
    """``ward`` is the current owner; ``moved_to`` is set on the old copy after a reassignment.

    Deadlines are absolute instants already shifted by any time spent in ``waiting_citizen``;
    ``paused_since`` is set while the clocks are paused.
    """

    id: str
    ward: str
    ward_name: str
    province_code: str
    family: str
    kind: str
    priority: str
    status: Status
    targets: tuple[str, ...]
    sla: Sla
    created_at: datetime
    first_seen: datetime
    last_seen: datetime
    lat: float | None
    lon: float | None
    group_key: str | None = None
    evidence: tuple[Evidence, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    ack_due: datetime | None = None
    resolve_due: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_since: datetime | None = None
    breaches: tuple[str, ...] = ()
    escalation_level: int = 0
    escalations: tuple[Escalation, ...] = ()
    moved_to: str | None = None
    result: dict[str, Any] | None = None
    resolutions: int = 0
    version: int = 0
    updated_at: datetime | None = field(default=None)
    # Items folded in but not in ``evidence`` (the window: the first item and the latest
    # ``lifecycle.EVIDENCE_WINDOW``; the whole list is in the serving index, see docs/lifecycle.md).
    evidence_dropped: int = 0
    # Every citizen report folded in, in order (the keys results go back under; never trimmed),
    # compactly: they are most of what an open incident holds (routers.incidents.report_ids).
    report_ids: ReportIds = NO_REPORTS
    # The devices whose readings correlate with this incident (the latest ``lifecycle.MAX_DEVICES``).
    device_ids: tuple[str, ...] = ()

    @property
    def evidence_count(self) -> int:
        """Every event folded in, including those outside the window."""
        return len(self.evidence) + self.evidence_dropped

    @property
    def is_open(self) -> bool:
        return self.status in OPEN and self.moved_to is None

    def has_event(self, event_id: str, reports: bool = True) -> bool:
        """Whether ``event_id`` is in the window or (``reports``) among the reports (older machine
        items are not known here: their redelivery is recognised by its origin offset, see
        :mod:`routers.incidents.marks`)."""
        for item in self.evidence:  # a loop, not any(<generator>): called for every routed event
            if item.event_id == event_id:
                return True
        return reports and event_id in self.report_ids

    def evidence_index(self, position: int) -> int:
        """The index in the whole evidence list of the window's item at ``position``: the window is
        the first item, then a contiguous run ending with the latest."""
        return 0 if position == 0 else self.evidence_count - (len(self.evidence) - position)

    def has_update(self, update_id: str) -> bool:
        return any(h.update_id == update_id for h in self.history)

    def to_json(self, reports: bool = True) -> dict[str, Any]:
        """The storage and wire form. ``reports=False``: without ``report_ids`` (``report_count``
        still says how many): what a change that only added evidence writes, so that per-change
        JSON stays the same size however many reports join (see docs/lifecycle.md, "Memory")."""
        body = {
            "id": self.id, "ward": self.ward, "ward_name": self.ward_name, "province_code": self.province_code,
            "family": self.family, "kind": self.kind, "priority": self.priority, "status": STATUS_TEXT[self.status],
            "targets": list(self.targets), "sla": {"ack_s": self.sla.ack_s, "resolve_s": self.sla.resolve_s},
            "created_at": fmt(self.created_at), "first_seen": fmt(self.first_seen),
            "last_seen": fmt(self.last_seen),
            "point": None if self.lat is None or self.lon is None else {"lat": self.lat, "lon": self.lon},
            "group_key": self.group_key,
            "evidence": [e.to_json() for e in self.evidence],
            "history": [h.to_json() for h in self.history],
            "ack_due": fmt(self.ack_due), "resolve_due": fmt(self.resolve_due),
            "acknowledged_at": fmt(self.acknowledged_at), "resolved_at": fmt(self.resolved_at),
            "paused_since": fmt(self.paused_since),
            "breaches": list(self.breaches), "escalation_level": self.escalation_level,
            "escalations": [e.to_json() for e in self.escalations],
            "moved_to": self.moved_to, "result": self.result, "resolutions": self.resolutions,
            "version": self.version, "updated_at": fmt(self.updated_at),
            "evidence_dropped": self.evidence_dropped, "evidence_count": self.evidence_count,
            "report_count": len(self.report_ids), "device_ids": list(self.device_ids),
        }
        if reports:
            body["report_ids"] = list(self.report_ids)
        return body


_INCIDENT_FIELDS = tuple(f.name for f in fields(Incident))
_incident_values = attrgetter(*_INCIDENT_FIELDS)
# the slots' own setters: they store a value without the frozen class's ``__setattr__`` (which raises)
_SLOT_SETTERS = tuple(Incident.__dict__[name].__set__ for name in _INCIDENT_FIELDS)
_SLOT_SETTER_OF = dict(zip(_INCIDENT_FIELDS, _SLOT_SETTERS, strict=True))


def evolve(incident: Incident, **changes: Any) -> Incident:
    """``dataclasses.replace(incident, **changes)`` several times faster: every change to an
    incident makes a new one (a routed report at least one), and ``replace`` looks the fields up,
    builds keyword arguments for all 33 and runs the frozen ``__init__`` each time (~9 us); here
    the 33 values are copied slot to slot (~2 us), then the changes written over them."""
    new = object.__new__(Incident)
    for store, value in zip(_SLOT_SETTERS, _incident_values(incident), strict=True):
        store(new, value)
    for name, value in changes.items():
        try:
            store = _SLOT_SETTER_OF[name]
        except KeyError:  # found here, not by a set comparison on every call
            raise TypeError(f"Incident has no field {name!r}") from None
        store(new, value)
    return new


_INCIDENT_DEFAULTS = {f.name: f.default for f in fields(Incident) if f.default is not MISSING}


def new_incident(**values: Any) -> Incident:
    """``Incident(**values)`` without the frozen ``__init__``, which sets each of the 33 fields
    through ``object.__setattr__`` (~9 us; a new incident is opened for a fifth of the bench's
    reports). The same checks: every field without a default is given, no unknown field."""
    merged = {**_INCIDENT_DEFAULTS, **values}
    new = object.__new__(Incident)
    try:
        if len(merged) != len(_INCIDENT_FIELDS):
            raise KeyError
        for name, store in zip(_INCIDENT_FIELDS, _SLOT_SETTERS, strict=True):
            store(new, merged[name])  # as many names as fields: an unknown one leaves a field unnamed
    except KeyError:
        missing = sorted(set(_INCIDENT_FIELDS) - merged.keys())
        unknown = sorted(merged.keys() - set(_INCIDENT_FIELDS))
        raise TypeError(f"Incident fields missing: {missing}; unknown: {unknown}") from None
    return new


def _time(body: dict[str, Any], key: str) -> datetime | None:
    raw = body.get(key)
    return None if raw is None else parse_time(raw)


def incident_from_json(body: dict[str, Any]) -> Incident:
    point = body.get("point") or {}
    evidence = tuple(Evidence.from_json(e) for e in body.get("evidence", ()))
    # bodies written before the window carry no report/device lists: their evidence was whole
    reports = body.get("report_ids")
    devices = body.get("device_ids")
    return Incident(
        id=body["id"], ward=body["ward"], ward_name=body.get("ward_name", ""),
        province_code=body.get("province_code", ""), family=body["family"], kind=body["kind"],
        priority=body["priority"], status=Status(body["status"]), targets=tuple(body["targets"]),
        sla=shared_sla(body["sla"]["ack_s"], body["sla"]["resolve_s"]),
        created_at=parse_time(body["created_at"]), first_seen=parse_time(body["first_seen"]),
        last_seen=parse_time(body["last_seen"]), lat=point.get("lat"), lon=point.get("lon"),
        group_key=body.get("group_key"),
        evidence=evidence,
        history=tuple(HistoryEntry.from_json(h) for h in body.get("history", ())),
        ack_due=_time(body, "ack_due"), resolve_due=_time(body, "resolve_due"),
        acknowledged_at=_time(body, "acknowledged_at"), resolved_at=_time(body, "resolved_at"),
        paused_since=_time(body, "paused_since"), breaches=tuple(body.get("breaches", ())),
        escalation_level=body.get("escalation_level", 0),
        escalations=tuple(Escalation.from_json(e) for e in body.get("escalations", ())),
        moved_to=body.get("moved_to"), result=body.get("result"), resolutions=body.get("resolutions", 0),
        version=body.get("version", 0), updated_at=_time(body, "updated_at"),
        evidence_dropped=body.get("evidence_dropped", 0),
        report_ids=ReportIds.of(reports if reports is not None else (e.event_id for e in evidence if e.source == "report")),
        device_ids=tuple(devices) if devices is not None else tuple(dict.fromkeys(
            e.device_id for e in evidence if e.device_id is not None)),
    )


def evidence_total(body: Mapping[str, Any]) -> int:
    """How many events an incident's JSON stands for: the evidence kept plus the items outside it."""
    return len(body.get("evidence") or ()) + int(body.get("evidence_dropped") or 0)


def report_ids_of(body: Mapping[str, Any]) -> list[str]:
    """The citizen report ids of an incident's JSON: ``report_ids`` (every one); a change that only
    added evidence carries ``new_report_ids`` instead (those it added); an older body: its evidence."""
    reports = body.get("report_ids")
    if not isinstance(reports, list):
        reports = body.get("new_report_ids")
    if isinstance(reports, list):
        return [r for r in reports if isinstance(r, str)]
    return [e["event_id"] for e in body.get("evidence") or ()
            if isinstance(e, Mapping) and e.get("source") == "report" and isinstance(e.get("event_id"), str)]


# A closed incident's entry in the table for the retention hour: what a late update or a reopen
# needs to find it (and to check the serving index's copy is this very version), nothing else.
STUB_KEYS = ("id", "ward", "status", "version", "updated_at", "moved_to")


def stub_of(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "ward": incident.ward, "status": STATUS_TEXT[incident.status],
            "version": incident.version, "updated_at": fmt(incident.updated_at), "moved_to": incident.moved_to,
            "stub": True}


def is_stub(body: Any) -> bool:
    return isinstance(body, Mapping) and body.get("stub") is True


def table_json(value: Any) -> Any:
    """A table value as its changelog carries it: an incident's JSON (the table holds it decoded)."""
    return value.to_json() if isinstance(value, Incident) else value
