"""IoT sensor readings (topic ``ioc.in.sensors``); values are converted to the kind's canonical unit."""

from __future__ import annotations

from typing import Any

from routers.categories import SENSOR_KINDS
from routers.events import Event, Source
from routers.exceptions import Rejected
from routers.ingest import fields


def decode_sensor(obj: dict[str, Any]) -> Event:
    corrections: list[str] = []
    sensor_id = fields.required_text(obj, "sensor_id", fields.MAX_ID)
    kind = fields.required_text(obj, "kind", 64)
    if kind not in SENSOR_KINDS:
        raise Rejected("unknown_category", f"sensor kind {kind!r} is not one of {sorted(SENSOR_KINDS)}")
    canonical_unit, _family, factors = SENSOR_KINDS[kind]
    unit = fields.text(obj, "unit", 16) or canonical_unit
    if unit not in factors:
        raise Rejected("unknown_unit", f"unit {unit!r} is not valid for {kind} (use one of {sorted(factors)})")
    value = fields.number(obj, "value", required=True)
    assert value is not None
    occurred_at = fields.timestamp(obj, "time")
    return Event(
        id=fields.text(obj, "reading_id", fields.MAX_ID) or f"sensor:{sensor_id}:{occurred_at.isoformat()}",
        source=Source.SENSOR,
        kind=kind,
        occurred_at=occurred_at,
        point=fields.point(obj, corrections),
        device_id=sensor_id,
        value=round(value * factors[unit], 6),
        unit=canonical_unit,
        corrections=tuple(corrections),
    )
