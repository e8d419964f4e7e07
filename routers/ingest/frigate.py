"""Frigate's MQTT payloads (``frigate/events`` and ``frigate/reviews``) as Frigate publishes them.

:func:`read_frigate` checks one payload and returns a :class:`FrigateMessage`; :func:`decode_frigate`
maps it with a :class:`~routers.ingest.frigate_mapping.FrigateMapping` to an :class:`Event`, or
raises :class:`~routers.exceptions.FilteredOut` when the message is valid but maps to no IOC camera
label (a person walking by, a parked car outside any no-parking zone).

Ids: every message is its own event. The new, update and end of one tracked object (and a review's
``genai`` message) get distinct ids, each stable under redelivery: the id names the stream, the
Frigate id, the message type and a hash of the ``after`` object, which Frigate changes with every
update it publishes. ``track`` (``frigate:events:<id>``) names the tracked object, so the incident
keeps one evidence item per object (:mod:`routers.incidents.tracked`).

Personal data: a face or plate name (``sub_label``, a review's ``sub_labels``,
``recognized_license_plate``) and a GenAI title/scene go to :attr:`Event.personal`, which only the
owning ward's topic receives. No error message here quotes a payload value.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from routers.events import Event, Source
from routers.exceptions import FilteredOut, Rejected
from routers.ingest import fields

if TYPE_CHECKING:
    from routers.ingest.frigate_mapping import FrigateMapping

TYPES = ("new", "update", "end", "genai")
SEVERITIES = ("alert", "detection")
_VERIFIED = "-verified"  # Frigate 0.17 marks objects confirmed by a second model "person-verified"
_HASH_CHARS = 16


@dataclass(frozen=True, slots=True)
class FrigateMessage:
    """One ``frigate/events`` or ``frigate/reviews`` message, checked. ``sub_labels``, ``plate`` and
    ``genai_text`` are personal data."""

    stream: str  # "events" or "reviews"
    type: str  # new | update | end | genai
    frigate_id: str
    camera: str
    labels: tuple[str, ...]  # the event's label, or the review's objects
    zones: tuple[str, ...]
    start_time: datetime
    end_time: datetime | None
    content_hash: str
    score: float | None = None
    top_score: float | None = None
    severity: str | None = None
    false_positive: bool = False
    has_snapshot: bool = False
    snapshot_event_id: str | None = None  # whose /api/events/<id>/snapshot.jpg shows it
    threat_level: int | None = None  # a GenAI review's potential_threat_level
    genai_confidence: float | None = None
    sub_labels: tuple[str, ...] = ()
    plate: str | None = None
    genai_text: str | None = None

    @property
    def track(self) -> str:
        """The tracked object (or review item) every message of it shares."""
        return f"frigate:{self.stream}:{self.frigate_id}"

    @property
    def event_id(self) -> str:
        return f"{self.track}:{self.type}:{self.content_hash}"

    @property
    def confidence(self) -> float | None:
        if self.stream == "events":
            score = self.top_score if self.top_score is not None else self.score
            return None if score is None else min(max(score, 0.0), 1.0)
        if self.genai_confidence is not None:
            return min(max(self.genai_confidence, 0.0), 1.0)
        return 1.0 if self.severity == "alert" else 0.7

    def summary(self) -> dict[str, Any]:
        """What Frigate said, without personal data: kept on every copy of the event."""
        body: dict[str, Any] = {
            "format": f"frigate_{self.stream[:-1]}",
            "frigate_type": self.type,
            "frigate_id": self.frigate_id,
            "track": self.track,
            "frigate_labels": list(self.labels),
            "zones": list(self.zones),
            "start_time": _iso(self.start_time),
        }
        if self.end_time is not None:
            body["end_time"] = _iso(self.end_time)
        for name in ("score", "top_score", "severity", "threat_level"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.stream == "events":
            body["has_snapshot"] = self.has_snapshot
        if self.snapshot_event_id is not None:
            body["snapshot_path"] = f"/api/events/{self.snapshot_event_id}/snapshot.jpg"
        return body

    def personal(self) -> dict[str, Any]:
        """Names Frigate attached (face recognition, plates) and GenAI text that may carry them."""
        body: dict[str, Any] = {}
        if self.sub_labels:
            body["sub_label"] = self.sub_labels[0] if self.stream == "events" else list(self.sub_labels)
        if self.plate:
            body["recognized_license_plate"] = self.plate
        if self.genai_text:
            body["genai_title"] = self.genai_text
        return body


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_frigate(obj: dict[str, Any]) -> bool:
    """Frigate's payloads carry ``type`` with ``before``/``after``; the native contract has neither."""
    return "type" in obj and ("after" in obj or "before" in obj)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Rejected("wrong_type", f"field '{where}' must be a list of strings")
    return tuple(value)


def _flag(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name)
    if value is not None and not isinstance(value, bool):
        raise Rejected("wrong_type", f"field 'after.{name}' must be true or false")
    return bool(value)


def _optional_time(obj: dict[str, Any], name: str) -> datetime | None:
    return None if obj.get(name) is None else fields.timestamp(obj, name)


def _sub_labels(value: Any) -> tuple[str, ...]:
    """Frigate <= 0.13: a string; 0.14+: ``[name, score]``; ``null`` when nobody was recognized."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and value and isinstance(value[0], str):
        return (value[0],)
    if isinstance(value, list) and not value:
        return ()
    raise Rejected("wrong_type", "field 'after.sub_label' must be a name, [name, score] or null")


def content_hash(after: dict[str, Any]) -> str:
    """Hash of the ``after`` object: the same for a redelivered message, new for each update."""
    return hashlib.sha256(orjson.dumps(after, option=orjson.OPT_SORT_KEYS)).hexdigest()[:_HASH_CHARS]


def read_frigate(obj: dict[str, Any]) -> FrigateMessage:
    """Check a Frigate payload; :class:`Rejected` (with a reason, quoting no values) when it is broken."""
    kind = obj.get("type")
    if kind not in TYPES:
        raise Rejected("wrong_type", f"a Frigate message's 'type' must be one of {', '.join(TYPES)}")
    after = obj.get("after")
    if after is None:
        raise Rejected("missing_field", "a Frigate message needs an 'after' object")
    if not isinstance(after, dict):
        raise Rejected("wrong_type", "field 'after' must be an object")
    frigate_id = fields.required_text(after, "id", fields.MAX_ID)
    camera = fields.required_text(after, "camera", fields.MAX_ID)
    common: dict[str, Any] = {
        "type": kind, "frigate_id": frigate_id, "camera": camera,
        "start_time": fields.timestamp(after, "start_time"), "end_time": _optional_time(after, "end_time"),
        "content_hash": content_hash(after),
    }
    if "severity" in after or "data" in after:
        return _review(after, common)
    return _event(after, common)


def _event(after: dict[str, Any], common: dict[str, Any]) -> FrigateMessage:
    label = fields.required_text(after, "label", 64)
    zones = dict.fromkeys(_strings(after.get("current_zones"), "after.current_zones")
                          + _strings(after.get("entered_zones"), "after.entered_zones"))
    plate = after.get("recognized_license_plate")
    if isinstance(plate, list):  # [plate, score] like sub_label
        plate = plate[0] if plate and isinstance(plate[0], str) else None
    return FrigateMessage(
        stream="events", labels=(label,), zones=tuple(zones),
        score=fields.number(after, "score"), top_score=fields.number(after, "top_score"),
        false_positive=_flag(after, "false_positive"), has_snapshot=_flag(after, "has_snapshot"),
        snapshot_event_id=common["frigate_id"] if _flag(after, "has_snapshot") else None,
        sub_labels=_sub_labels(after.get("sub_label")), plate=plate if isinstance(plate, str) else None,
        **common,
    )


def _review(after: dict[str, Any], common: dict[str, Any]) -> FrigateMessage:
    severity = after.get("severity")
    if severity not in SEVERITIES:
        raise Rejected("wrong_type", f"field 'after.severity' must be one of {', '.join(SEVERITIES)}")
    data = fields.optional_object(after, "data", "after.data")
    objects = _strings(data.get("objects"), "after.data.objects")
    detections = _strings(data.get("detections"), "after.data.detections")
    metadata = data.get("metadata")
    threat = confidence = None
    text = None
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise Rejected("wrong_type", "field 'after.data.metadata' must be an object")
        level = metadata.get("potential_threat_level")
        threat = level if isinstance(level, int) and not isinstance(level, bool) else None
        confidence = fields.number(metadata, "confidence")
        title = metadata.get("title")
        text = title[:200] if isinstance(title, str) and title else None
    return FrigateMessage(
        stream="reviews",
        labels=tuple(dict.fromkeys(o.removesuffix(_VERIFIED) for o in objects)),
        zones=_strings(data.get("zones"), "after.data.zones"),
        severity=severity,
        snapshot_event_id=detections[0] if detections else None,
        threat_level=threat, genai_confidence=confidence, genai_text=text,
        sub_labels=_strings(data.get("sub_labels"), "after.data.sub_labels"),
        **common,
    )


def decode_frigate(obj: dict[str, Any], mapping: FrigateMapping) -> Event:
    """A Frigate payload -> an :class:`Event` with the mapped IOC label, or :class:`FilteredOut`."""
    message = read_frigate(obj)
    label = mapping.label_for(message)
    if isinstance(label, FilteredOut):
        raise label
    return Event(
        id=message.event_id,
        source=Source.CAMERA,
        kind=label,
        occurred_at=message.start_time,
        device_id=message.camera,
        confidence=message.confidence,
        attributes=message.summary(),
        personal=message.personal(),
    )


def with_snapshot_url(event: Event, base_url: Callable[[str], str | None]) -> Event:
    """The event with ``snapshot_url`` from its camera's Frigate base URL (device registry), when
    both the camera's URL and a snapshot path are known."""
    path = event.attributes.get("snapshot_path")
    if not path or event.device_id is None:
        return event
    base = base_url(event.device_id)
    if not base:
        return event
    return dataclasses.replace(event, attributes={**event.attributes, "snapshot_url": base.rstrip("/") + path})
