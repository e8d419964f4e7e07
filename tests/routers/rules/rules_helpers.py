"""Small builders for rules tests: events and locations without a broker or boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

from routers.events import Event, Source
from routers.locate.result import Candidate, Location, WardRef

NOON_UTC = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 12:00 Monday in Ho Chi Minh City


def at_ward(code: str = "27139", province: str = "79") -> Location:
    return Location("resolved", WardRef(code, f"Ward {code}", province), "point", "vn2025-test", "approximate")


def ambiguous(*codes: str, province: str | None = None) -> Location:
    ward = WardRef(codes[0], "", province) if province else None
    return Location("ambiguous", ward, "address", "vn2025-test", "approximate",
                    candidates=tuple(Candidate(c, f"Ward {c}") for c in codes), reason="ambiguous_address")


def unresolved() -> Location:
    return Location("unresolved", None, "point", "vn2025-test", "approximate", reason="outside_boundaries")


def report(kind: str, when: datetime = NOON_UTC, **extra: object) -> Event:
    return Event(id=f"r-{kind}", source=Source.REPORT, kind=kind, occurred_at=when, **extra)  # type: ignore[arg-type]


def camera(label: str, confidence: float = 0.9, device: str = "cam-1", when: datetime = NOON_UTC) -> Event:
    return Event(id=f"c-{label}", source=Source.CAMERA, kind=label, occurred_at=when, device_id=device,
                 confidence=confidence)


def sensor(kind: str, value: float | None, device: str = "s-1", when: datetime = NOON_UTC, unit: str | None = None,
           event_id: str = "s") -> Event:
    return Event(id=event_id, source=Source.SENSOR, kind=kind, occurred_at=when, device_id=device, value=value,
                 unit=unit)
