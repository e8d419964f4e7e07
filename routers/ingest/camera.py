"""AI camera detections (topic ``ioc.in.camera``): the native contract and Frigate's MQTT payloads
(``frigate/events`` and ``frigate/reviews``) forwarded as they are. A camera's place comes from
the device registry, keyed by ``camera_id`` (Frigate: the ``camera`` name)."""

from __future__ import annotations

from typing import Any

from routers.categories import CAMERA_LABELS
from routers.events import Event, Source
from routers.exceptions import Rejected
from routers.ingest import fields

# Frigate object / Frigate+ labels and zone names -> our camera labels. A zone named after one of
# our labels (e.g. "illegal_parking", "crowd", "flooding") wins: that is how operators mark intent.
FRIGATE_LABELS = {
    "fire": "fire_smoke",
    "smoke": "fire_smoke",
    "flood": "flooding",
    "water": "flooding",
}


def decode_camera(obj: dict[str, Any]) -> Event:
    if "after" in obj and "type" in obj:
        return _decode_frigate(obj)
    corrections: list[str] = []
    camera_id = fields.required_text(obj, "camera_id", fields.MAX_ID)
    label = fields.required_text(obj, "label", 64)
    if label not in CAMERA_LABELS:
        raise Rejected("unknown_category", f"camera label {label!r} is not one of {sorted(CAMERA_LABELS)}")
    confidence = fields.number(obj, "confidence", required=True)
    assert confidence is not None
    if not 0.0 <= confidence <= 1.0:
        raise Rejected("out_of_range", f"confidence {confidence} is not within 0..1")
    occurred_at = fields.timestamp(obj, "time")
    detection_id = fields.text(obj, "detection_id", fields.MAX_ID) or f"cam:{camera_id}:{occurred_at.isoformat()}:{label}"
    snapshot = fields.text(obj, "snapshot_url", 1000)
    return Event(
        id=detection_id,
        source=Source.CAMERA,
        kind=label,
        occurred_at=occurred_at,
        point=fields.point(obj, corrections),
        device_id=camera_id,
        confidence=confidence,
        attributes={"snapshot_url": snapshot} if snapshot else {},
        corrections=tuple(corrections),
    )


def _frigate_label(candidates: list[str], zones: list[str]) -> str | None:
    for zone in zones:
        if zone in CAMERA_LABELS:
            return zone
    for name in candidates:
        if name in CAMERA_LABELS:
            return name
        if name in FRIGATE_LABELS:
            return FRIGATE_LABELS[name]
    return None


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Rejected("wrong_type", f"field '{name}' must be a list of strings")
    return value


def _decode_frigate(obj: dict[str, Any]) -> Event:
    kind = obj.get("type")
    after = obj.get("after")
    if kind not in ("new", "update", "end") or not isinstance(after, dict):
        raise Rejected("wrong_type", "a Frigate payload needs type new|update|end and an 'after' object")
    camera = fields.required_text(after, "camera", fields.MAX_ID)
    frigate_id = fields.required_text(after, "id", fields.MAX_ID)
    occurred_at = fields.timestamp(after, "start_time")
    if "severity" in after or isinstance(after.get("data"), dict):  # frigate/reviews
        data = after.get("data") or {}
        if not isinstance(data, dict):
            raise Rejected("wrong_type", "field 'after.data' must be an object")
        names = _strings(data.get("sub_labels"), "sub_labels") + _strings(data.get("objects"), "objects")
        zones = _strings(data.get("zones"), "zones")
        confidence = 1.0 if after.get("severity") == "alert" else 0.7
        source_kind = "frigate_review"
    else:  # frigate/events
        sub_label = after.get("sub_label")
        names = [sub_label[0]] if isinstance(sub_label, list) and sub_label and isinstance(sub_label[0], str) else []
        if isinstance(sub_label, str):
            names.append(sub_label)
        names.append(fields.required_text(after, "label", 64))
        zones = _strings(after.get("current_zones") or after.get("entered_zones"), "current_zones")
        score = fields.number(after, "top_score") or fields.number(after, "score") or 0.0
        confidence = min(max(score, 0.0), 1.0)
        source_kind = "frigate_event"
    label = _frigate_label(names, zones)
    if label is None:
        raise Rejected("unknown_category", f"Frigate labels {names} / zones {zones} map to no camera label")
    return Event(
        id=f"frigate:{frigate_id}",
        source=Source.CAMERA,
        kind=label,
        occurred_at=occurred_at,
        device_id=camera,
        confidence=confidence,
        attributes={"format": source_kind, "frigate_type": kind},
    )
