"""Which routed sensor readings are routine telemetry the lifecycle can skip (threaded through a batch)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from routers.events import Event, GeoPoint, Source
from routers.route import telemetry_flags
from routers.rules import SensorState

T = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
FLOODED = SensorState(frozenset({"water-level-flooding"}))


def reading(device: str, source: Source = Source.SENSOR) -> tuple[Event, None]:
    event = Event(id=f"r-{device}", source=source, kind="water_level", occurred_at=T, point=GeoPoint(10.78, 106.69),
                  device_id=device, value=0.1)
    return event, None  # type: ignore[return-value]


def answer(suppressed: str | None, sensor: SensorState | None = None) -> SimpleNamespace:
    return SimpleNamespace(decision=SimpleNamespace(suppressed=suppressed), changes=SimpleNamespace(sensor=sensor))


@pytest.mark.parametrize(("stored", "answers", "expected"), [
    # a normal reading of a quiet gauge: telemetry
    ({}, [answer("normal_reading")], [True]),
    # a reading that opens a threshold is news, and so is the next normal one while it is open
    ({}, [answer(None, FLOODED), answer("normal_reading")], [False, False]),
    # the reading that clears the threshold still reaches the lifecycle; the next one is telemetry
    ({"g1": FLOODED}, [answer("normal_reading", SensorState()), answer("normal_reading")], [False, True]),
    # held back by the rules with a threshold open (an inhibition, a quiet window): not telemetry
    ({"g1": FLOODED}, [answer("inhibited")], [False]),
    # not suppressed: it opens or joins an incident
    ({}, [answer(None)], [False]),
])
def test_telemetry_flags(stored: dict[str, SensorState], answers: list[SimpleNamespace], expected: list[bool]) -> None:
    located = [reading("g1") for _ in answers]
    assert telemetry_flags(located, answers, stored) == expected  # type: ignore[arg-type]


def test_a_camera_detection_is_never_telemetry() -> None:
    assert telemetry_flags([reading("cam-1", Source.CAMERA)], [answer("normal_reading")], {}) == [False]  # type: ignore[list-item]
