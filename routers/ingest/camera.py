"""AI camera detections (topic ``ioc.in.camera``): the native contract and Frigate's MQTT payloads
(``frigate/events`` and ``frigate/reviews``) forwarded as they are (:mod:`routers.ingest.frigate`).
A camera's place comes from the device registry, keyed by ``camera_id`` (Frigate: the ``camera`` name)."""

from __future__ import annotations

from typing import Any

from routers.categories import CAMERA_LABELS
from routers.events import Event, Source
from routers.exceptions import Rejected
from routers.ingest import fields
from routers.ingest.frigate import decode_frigate, is_frigate
from routers.ingest.frigate_mapping import FrigateMapping, default_mapping


def decode_camera(obj: dict[str, Any], frigate: FrigateMapping | None = None) -> Event:
    """A native detection, or a Frigate payload mapped by ``frigate`` (default: the built-in mapping);
    :class:`~routers.exceptions.FilteredOut` for a valid Frigate message that maps to nothing."""
    if is_frigate(obj):
        return decode_frigate(obj, frigate or default_mapping())
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
