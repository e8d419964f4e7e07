"""Routed envelopes built with the real envelope code, for the lifecycle tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from routers.decision import Decision, Sla
from routers.envelope import routed
from routers.events import Event, GeoPoint, Source
from routers.incidents.routed import RoutedEvent, routed_from_envelope
from routers.locate.result import Location, WardRef

XUAN_HOA = WardRef("27142", "Phường Xuân Hòa", "79")
BEN_THANH = WardRef("26740", "Phường Bến Thành", "79")
PROBE = WardRef("99999", "Phường Thử", "79")  # readiness probes of the integration tests
DEFAULT_SLA = Sla(900, 14400)
T0 = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
CENTER = (10.7790, 106.6870)


def envelope(
    event_id: str,
    source: str = "report",
    kind: str = "flooding",
    at: datetime = T0,
    point: tuple[float, float] | None = CENTER,
    ward: WardRef = XUAN_HOA,
    priority: str = "P2",
    sla: Sla = DEFAULT_SLA,
    targets: tuple[str, ...] | None = None,
    suppressed: str | None = None,
    group_key: str | None = None,
    device_id: str | None = None,
    value: float | None = None,
    group_window_s: int | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    event = Event(
        id=event_id, source=Source(source), kind=kind, occurred_at=at,
        point=None if point is None else GeoPoint(*point), device_id=device_id, value=value,
    )
    location = Location("resolved", ward, "point", "vn2025-test", "official")
    decision = Decision(
        targets=targets or (f"ward:{ward.code}", "agency:flood-control"), priority=priority,  # type: ignore[arg-type]
        sla=sla, matched=("root", "flooding"), rules_version="test-1", suppressed=suppressed, group_key=group_key,
    )
    body = routed(event, location, decision, target="lifecycle", now=at)
    if group_window_s is not None:
        body["data"]["decision"]["group_window_s"] = group_window_s
    if origin is not None:
        body["iocorigin"] = origin  # the intake message (topic/partition/offset), as the pipeline sets it
    return body


def routed_event(event_id: str, **kwargs: Any) -> RoutedEvent:
    return routed_from_envelope(envelope(event_id, **kwargs))


def offset(lat_m: float = 0.0, lon_m: float = 0.0) -> tuple[float, float]:
    """A point ``lat_m`` metres north and ``lon_m`` metres east of CENTER (small offsets)."""
    import math

    return CENTER[0] + lat_m / 110_574.0, CENTER[1] + lon_m / (111_320.0 * math.cos(math.radians(CENTER[0])))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
