"""CloudEvents 1.0 envelopes (structured JSON mode) for everything ioc-router publishes.

Ids are stable: the same intake event routed to the same target always gets the same id, so
ward systems dedupe redeliveries (the embedded broker is at-least-once) on ``id`` alone.
Extension attributes (lower-case alphanumerics, per the spec): ``iocward``, ``iocgeneration``,
``iocrule``, ``iocrulesversion``, ``iocpriority``, ``iocsource`` (official|reference|approximate),
``iocsuppressed``, and ``iocorigin`` (``<intake topic>/<partition>/<offset>``: the message it came
from, for conservation checks), given to the builder: an envelope is complete when built, never
edited afterwards.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from routers.decision import Decision
from routers.events import Event
from routers.locate.result import Location
from routers.privacy import mask_contacts, mask_personal_data, masked, masked_preview

SPECVERSION = "1.0"
SOURCE = "urn:ioc-router"
_NAMESPACE = uuid.UUID("7b6f7e0a-3c55-4d1e-9f1b-5a3e2c9d8b10")
_NAMESPACE_BYTES = _NAMESPACE.bytes

TYPE_ROUTED = "vn.ioc.event.routed"
TYPE_UNROUTABLE = "vn.ioc.event.unroutable"
TYPE_DEADLETTER = "vn.ioc.event.deadletter"
TYPE_FILTERED = "vn.ioc.event.filtered"


def stable_id(*parts: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, "|".join(parts)))``, computed without the uuid module's object
    overhead (it runs about three times per routed event)."""
    h = hashlib.sha1(_NAMESPACE_BYTES + "|".join(parts).encode()).hexdigest()
    # RFC 4122: version 5 in the 13th hex digit, variant 10xx in the top bits of the 17th
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {d: "89ab"[int(d, 16) & 0x3] for d in "0123456789abcdef"}


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds: ``2025-07-01T01:00:00.000Z``."""
    if moment.tzinfo is not UTC:  # ingest already gives UTC: skip the conversion then
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def event_to_json(event: Event, include_personal_data: bool) -> dict[str, Any]:
    """The normalized event as published. Personal data only when the receiver may see it."""
    body: dict[str, Any] = {
        "id": event.id,
        "source": event.source.value,
        "kind": event.kind,
        "occurred_at": iso(event.occurred_at),
    }
    if event.point is not None:
        body["point"] = {"lat": event.point.lat, "lon": event.point.lon}
        if event.point.accuracy_m is not None:
            body["point"]["accuracy_m"] = event.point.accuracy_m
    for name in ("address", "device_id", "description", "confidence", "value", "unit", "channel"):
        value = getattr(event, name)
        if value is not None:
            body[name] = value
    if not include_personal_data and event.description:
        body["description"] = mask_contacts(event.description)  # callers type their number into the text too
    if event.personal:  # a Frigate sub_label: in clear for the owning ward only
        body["attributes"] = {**event.attributes, **(event.personal if include_personal_data else masked(event.personal))}
    elif event.attributes:
        body["attributes"] = event.attributes
    if event.corrections:
        body["corrections"] = list(event.corrections)
    if event.media:
        body["media"] = list(event.media)
    if include_personal_data and event.reporter is not None:
        body["reporter"] = _reporter_json(event)
    return body


def _reporter_json(event: Event) -> dict[str, Any]:
    assert event.reporter is not None
    reporter: dict[str, Any] = {"name": event.reporter.name, "phone": event.reporter.phone}
    if event.reporter.email is not None:
        reporter["email"] = event.reporter.email
    return reporter


def _with_personal_data(public: dict[str, Any], event: Event) -> dict[str, Any]:
    """``event_to_json(event, include_personal_data=True)`` from the public form (same keys, same
    order): the description unmasked, the reporter added."""
    private = dict(public)
    if event.description is not None:
        private["description"] = event.description
    if event.reporter is not None:
        private["reporter"] = _reporter_json(event)
    if event.personal:
        private["attributes"] = {**event.attributes, **event.personal}
    return private


def routed(event: Event, location: Location, decision: Decision, target: str, now: datetime,
           origin: str | None = None) -> dict[str, Any]:
    """The envelope a target topic receives; the reporter's personal data only for the owning ward.
    ``origin``: the intake message it came from (``iocorigin``), when it came from one."""
    return routed_all(event, location, decision, (target,), now, origin)[0]


def routed_all(
    event: Event, location: Location, decision: Decision, targets: Sequence[str], now: datetime,
    origin: str | None = None,
) -> list[dict[str, Any]]:
    """:func:`routed` for each of ``targets``; the parts they share are built once (and shared:
    callers serialize the envelopes, they do not edit the nested parts)."""
    ward_code = location.ward.code if location.ward else None
    owner = f"ward:{ward_code}" if ward_code is not None else None
    public = event_to_json(event, include_personal_data=False)
    private = public if event.reporter is None and not event.description and not event.personal else None
    location_json = location.to_json()
    decision_json = {**decision.to_json(), "trace": list(decision.trace)}
    common: dict[str, Any] = {
        "specversion": SPECVERSION,
        "source": f"{SOURCE}/{event.source.value}",
        "type": TYPE_ROUTED,
        "subject": event.id,
        "time": iso(now),
        "datacontenttype": "application/json",
        "iocgeneration": location.generation,
        "iocsource": location.source,
        "iocrule": decision.matched[-1] if decision.matched else "root",
        "iocrulesversion": decision.rules_version,
        "iocpriority": decision.priority,
    }
    if ward_code is not None:
        common["iocward"] = ward_code
    if decision.suppressed:
        common["iocsuppressed"] = decision.suppressed
    envelopes = []
    for target in targets:
        if target == owner:
            if private is None:
                private = _with_personal_data(public, event)
            event_json = private
        else:
            event_json = public
        envelopes.append(_with_origin({
            **common,
            "id": stable_id(event.id, target),
            "ioctarget": target,
            "data": {"event": event_json, "location": location_json, "decision": decision_json},
        }, origin))
    return envelopes


def _with_origin(envelope: dict[str, Any], origin: str | None) -> dict[str, Any]:
    if origin is not None:
        envelope["iocorigin"] = origin
    return envelope


def unroutable(event: Event, location: Location, now: datetime, origin: str | None = None) -> dict[str, Any]:
    return _with_origin({
        "specversion": SPECVERSION,
        "id": stable_id(event.id, "unroutable"),
        "source": f"{SOURCE}/{event.source.value}",
        "type": TYPE_UNROUTABLE,
        "subject": event.id,
        "time": iso(now),
        "datacontenttype": "application/json",
        "iocgeneration": location.generation,
        "iocsource": location.source,
        "data": {
            "reason": location.reason or location.status,
            "event": event_to_json(event, include_personal_data=False),
            "location": location.to_json(),
            "candidates": [c.code for c in location.candidates],
        },
    }, origin)


def filtered(event_id: str, reason: str, summary: dict[str, Any], now: datetime,
             origin: str | None = None) -> dict[str, Any]:
    """A valid camera message that means no incident (Frigate: a person walking by): where it ended
    and why. ``summary`` carries what Frigate said, never personal data."""
    return _with_origin({
        "specversion": SPECVERSION,
        "id": stable_id(event_id, "filtered"),
        "source": f"{SOURCE}/camera",
        "type": TYPE_FILTERED,
        "subject": event_id,
        "time": iso(now),
        "datacontenttype": "application/json",
        "iocreason": reason,
        "data": {"reason": reason, "event_id": event_id, "frigate": summary},
    }, origin)


# A message refused as too large is kept in the dead letter only up to this many bytes: all of it
# would make the dead letter larger than what was refused (base64 adds a third) and could exceed
# the broker's message size limit, so the dead letter could never be published. The whole
# message stays in its intake topic at the topic/partition/offset the dead letter names.
TOO_LARGE_KEPT_BYTES = 64 * 1024


def deadletter(
    raw: bytes, reason: str, error: str, topic: str, partition: int, offset: int, now: datetime,
    preview: str | None = None, origin: str | None = None,
) -> dict[str, Any]:
    """The original bytes travel base64-encoded (``data_base64``); the preview (by default the start
    of ``raw``) and the error are masked here (a decoder's error may quote the field it refused).
    Of a ``too_large`` message only the first :data:`TOO_LARGE_KEPT_BYTES` are kept, with its size
    and SHA-256 to identify it."""
    import base64

    kept = raw[:TOO_LARGE_KEPT_BYTES] if reason == "too_large" else raw
    data: dict[str, Any] = {
        "reason": reason,
        "error": mask_personal_data(error),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "preview": masked_preview(raw) if preview is None else mask_personal_data(preview),
        "original_base64": base64.b64encode(kept).decode("ascii"),
        "original_size": len(raw),
        "original_truncated": len(kept) < len(raw),
    }
    if len(kept) < len(raw):
        data["original_sha256"] = hashlib.sha256(raw).hexdigest()
    return _with_origin({
        "specversion": SPECVERSION,
        "id": stable_id(topic, str(partition), str(offset)),
        "source": f"{SOURCE}/intake",
        "type": TYPE_DEADLETTER,
        "subject": f"{topic}/{partition}/{offset}",
        "time": iso(now),
        "datacontenttype": "application/json",
        "iocreason": reason,
        "data": data,
    }, origin)
