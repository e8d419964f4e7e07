"""What the MQTT bridge decides for one message, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from routers.bridge import (
    CAMERA,
    SENSORS,
    Filter,
    Forward,
    Refuse,
    SensorPattern,
    bridge_frigate,
    bridge_sensor,
    origin_of,
)
from routers.ingest.frigate_mapping import default_mapping

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frigate"
NOW = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
CAP = 256 * 1024


def test_fire_goes_to_the_camera_intake_keyed_by_camera() -> None:
    raw = (FIXTURES / "derived/events/fire-new.json").read_bytes()
    assert bridge_frigate(raw, default_mapping(), CAP) == Forward(CAMERA, b"front_door", raw)


def test_a_person_walking_by_is_filtered_with_a_reason_and_no_name() -> None:
    decision = bridge_frigate((FIXTURES / "events/docs-update-person-face.json").read_bytes(), default_mapping(), CAP)
    assert isinstance(decision, Filter) and decision.reason == "unmapped"
    assert "John Smith" not in orjson.dumps(decision.summary).decode()


@pytest.mark.parametrize("raw", [b"{not json", b'{"type": "new"}', b'[1, 2]',
                                 b'{"type": "new", "after": {"id": "x", "camera": "c"}}'])
def test_broken_input_is_forwarded_for_the_pipeline_to_dead_letter(raw: bytes) -> None:
    decision = bridge_frigate(raw, default_mapping(), CAP)
    assert isinstance(decision, Forward) and decision.value == raw


def test_too_large_for_kafka_is_refused_here() -> None:
    decision = bridge_frigate(b"{" + b" " * (1 << 20) + b"}", default_mapping(), CAP)
    assert isinstance(decision, Refuse) and decision.reason == "too_large"


def test_origin_names_the_mqtt_message_by_content() -> None:
    assert origin_of("frigate/events", b"x") == origin_of("frigate/events", b"x") != origin_of("frigate/events", b"y")


def test_sensor_topic_fills_the_reading() -> None:
    pattern = SensorPattern.parse("city/{kind}/{sensor_id}/state")
    assert pattern.subscription == "city/+/+/state"
    decision = bridge_sensor("city/water_level/wl-q7-01/state", b'{"value": 42, "unit": "cm"}', pattern, NOW, CAP)
    assert isinstance(decision, Forward) and decision.stream == SENSORS and decision.key == b"wl-q7-01"
    assert orjson.loads(decision.value) == {"kind": "water_level", "sensor_id": "wl-q7-01", "value": 42, "unit": "cm",
                                            "time": "2026-06-01T11:00:00.000Z"}
    bare = bridge_sensor("city/pm25/aq-3/state", b"37.5", pattern, NOW, CAP)
    assert isinstance(bare, Forward) and orjson.loads(bare.value)["value"] == 37.5
    own = bridge_sensor("city/pm25/aq-3/state", b'{"sensor_id": "aq-3b", "value": 1, "time": 1780311600}', pattern, NOW, CAP)
    assert isinstance(own, Forward) and orjson.loads(own.value)["sensor_id"] == "aq-3b"  # the device's word wins


@pytest.mark.parametrize("pattern", ["sensors/+/x", "sensors/#", "sensors/{id}", "s/{kind}x", "s/{kind}/{kind}", ""])
def test_bad_sensor_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        SensorPattern.parse(pattern)
