"""What the lifecycle needs from one ``ioc.routed`` envelope, as plain data.

The envelope is built by :func:`routers.envelope.routed` with ``target="lifecycle"``; it carries
no personal data. Anything malformed is :class:`~routers.exceptions.Rejected` with a reason.

An *ambiguous* location (no ward, several candidate wards; the rules deliver the event to every
candidate) is owned by the first candidate: one incident, in the ward the locator ranked first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from sys import intern
from typing import Any

from routers.categories import family_of
from routers.decision import Sla, shared_sla
from routers.exceptions import Rejected
from routers.incidents.timeutil import parse_wire_time
from routers.incidents.tracked import details_of


@dataclass(slots=True)  # not frozen: one is built per routed input, and a frozen __init__ took 1.9 us, this 0.5
class RoutedEvent:
    """One routed intake event as the lifecycle sees it (read, never changed: a change is a new one)."""

    event_id: str
    source: str  # report | camera | sensor
    kind: str
    family: str
    occurred_at: datetime
    lat: float | None
    lon: float | None
    ward: str
    ward_name: str
    province_code: str
    generation: str
    targets: tuple[str, ...]
    priority: str
    sla: Sla
    matched: tuple[str, ...]
    suppressed: str | None
    group_key: str | None
    group_window_s: int | None = None  # the rule's group_window; None: the correlation window
    device_id: str | None = None
    value: float | None = None
    track: str | None = None  # the tracked object (Frigate), see routers.incidents.tracked
    details: dict[str, Any] | None = None
    media: tuple[str, ...] = ()  # a citizen report's photo/video URLs
    origin: str | None = None  # the intake message it came from (``iocorigin``), see routers.incidents.marks


def _media(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(url, str) for url in raw):
        raise Rejected("malformed_routed", "data.event.media must be a list of URLs")
    return tuple(raw)


def _intern_text(value: Any) -> Any:
    """``value`` interned if it is text: an open incident keeps its events' ward, kind, source,
    device and rule names, a few hundred distinct strings decoded anew from every message (orjson
    makes a new ``str`` per value). One copy of each: 2,837 instead of 3,598 bytes per open incident
    (``benchmarks.lifecycle_memory -n 30000``). Not the group keys, nearly one per incident: interned,
    they grew the interpreter's table of interned strings more than they saved (3,207 bytes)."""
    return intern(value) if type(value) is str else value


def _interned(values: Any) -> tuple[Any, ...]:
    if not isinstance(values, list | tuple):
        return tuple(values)
    try:
        return tuple(map(intern, values))  # in C: the rule and target names are text
    except TypeError:
        return tuple(map(_intern_text, values))


_ABSENT = object()


def _need(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key, _ABSENT) if isinstance(obj, dict) else _ABSENT  # one lookup: ~14 a routed event
    if value is _ABSENT:
        raise Rejected("malformed_routed", f"{where}.{key} is missing")
    if not isinstance(value, kind):
        raise Rejected("malformed_routed", f"{where}.{key} has the wrong type ({type(value).__name__})")
    return value


def _window(raw: Any) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise Rejected("malformed_routed", "data.decision.group_window_s must be a non-negative integer")
    return raw


def routed_from_envelope(envelope: Any) -> RoutedEvent:
    """``ioc.routed`` envelope (already JSON-decoded) -> :class:`RoutedEvent`."""
    data = _need(envelope, "data", dict, "envelope")
    event = _need(data, "event", dict, "data")
    location = _need(data, "location", dict, "data")
    decision = _need(data, "decision", dict, "data")
    ward = location.get("ward")
    if ward is None:
        candidates = location.get("candidates") or []
        if not candidates or not isinstance(candidates[0], dict) or not isinstance(candidates[0].get("code"), str):
            raise Rejected("malformed_routed", "data.location has neither a ward nor candidate wards")
        ward = {"code": candidates[0]["code"], "name": candidates[0].get("name") or "", "province_code": ""}
    elif not isinstance(ward, dict):
        raise Rejected("malformed_routed", "data.location.ward has the wrong type")
    sla = _need(decision, "sla", dict, "data.decision")
    point = event.get("point")
    lat = lon = None
    if isinstance(point, dict):
        lat, lon = point.get("lat"), point.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise Rejected("malformed_routed", "data.event.point needs numeric lat and lon")
    suppressed = decision.get("suppressed") or None
    source = intern(_need(event, "source", str, "data.event"))
    kind = intern(_need(event, "kind", str, "data.event"))
    value = event.get("value")
    details = details_of(event.get("attributes"))
    try:
        return RoutedEvent(
            event_id=_need(event, "id", str, "data.event"),
            source=source,
            kind=kind,
            family=family_of(source, kind),
            occurred_at=parse_wire_time(_need(event, "occurred_at", str, "data.event")),
            lat=None if lat is None else float(lat),
            lon=None if lon is None else float(lon),
            ward=intern(_need(ward, "code", str, "data.location.ward")),
            ward_name=intern(str(ward.get("name") or "")),
            province_code=intern(str(ward.get("province_code") or "")),
            generation=intern(str(location.get("generation") or "")),
            targets=_interned(_need(decision, "targets", list, "data.decision")),
            priority=intern(_need(decision, "priority", str, "data.decision")),
            sla=shared_sla(int(_need(sla, "ack_s", int, "data.decision.sla")),
                           int(_need(sla, "resolve_s", int, "data.decision.sla"))),
            matched=_interned(decision.get("matched") or ()),
            suppressed=intern(str(suppressed)) if suppressed else None,
            group_key=decision.get("group_key") or None,
            group_window_s=_window(decision.get("group_window_s")),
            device_id=_intern_text(event.get("device_id")),
            value=float(value) if isinstance(value, int | float) else None,
            track=event["attributes"]["track"] if details is not None else None,
            details=details,
            media=_media(event.get("media")),
            origin=envelope["iocorigin"] if isinstance(envelope.get("iocorigin"), str) else None,
        )
    except ValueError as exc:
        raise Rejected("malformed_routed", str(exc)) from None
