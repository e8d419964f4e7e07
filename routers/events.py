"""The one internal event model every intake source is normalized into.

Wire formats (citizen reports, camera detections, Frigate payloads, sensor readings) are decoded
in ``routers.ingest``; everything after ingest works on :class:`Event` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    REPORT = "report"
    CAMERA = "camera"
    SENSOR = "sensor"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """WGS84 coordinate; ``accuracy_m`` is the reporter's uncertainty radius when known."""

    lat: float
    lon: float
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class Reporter:
    """Personal data (Decree 13/2023): travels only to the owning ward's topic."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A validated intake event.

    ``kind`` is the report category, the camera label or the sensor kind, depending on ``source``.
    ``corrections`` lists what ingest repaired (e.g. ``"swapped_lat_lon"``) so it stays visible.
    """

    id: str
    source: Source
    kind: str
    occurred_at: datetime
    point: GeoPoint | None = None
    address: str | None = None
    device_id: str | None = None
    description: str | None = None
    confidence: float | None = None
    value: float | None = None
    unit: str | None = None
    channel: str | None = None
    reporter: Reporter | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    corrections: tuple[str, ...] = ()
    # Personal data beyond the reporter (a Frigate sub_label naming a face or a plate): published
    # with ``attributes`` on the owning ward's topic only, masked on every other copy.
    personal: dict[str, Any] = field(default_factory=dict)
    media: tuple[str, ...] = ()  # photo/video URLs a citizen attached (http/https)
