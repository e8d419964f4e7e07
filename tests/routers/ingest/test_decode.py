"""Ingest decoders: one table of accepted inputs, one of rejections with their exact reason codes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routers.events import Source
from routers.exceptions import FilteredOut, Rejected
from routers.ingest import decode

T = "2026-06-01T18:00:00+07:00"


def report(**changes: object) -> bytes:
    body: dict[str, object] = {
        "id": "r-1", "channel": "hotline", "category": "flooding", "description": "Ngập nặng",
        "location": {"lat": 10.7769, "lon": 106.7009}, "reported_at": T,
        "reporter": {"name": "Nguyễn Văn An", "phone": "0903123456"},
    }
    body.update(changes)
    return orjson.dumps(body)


ACCEPTED = [
    ("ioc.in.reports", report(), Source.REPORT, "flooding"),
    ("ioc.in.reports", report(location={"address": "P.7, Q.3, TP.HCM"}), Source.REPORT, "flooding"),
    ("ioc.in.camera", orjson.dumps({"camera_id": "cam-1", "label": "fire_smoke", "confidence": 0.9, "time": T}),
     Source.CAMERA, "fire_smoke"),
    ("ioc.in.camera", orjson.dumps({"camera_id": "cam-1", "label": "crowd", "confidence": 1, "time": 1780311600}),
     Source.CAMERA, "crowd"),
    ("ioc.in.sensors", orjson.dumps({"sensor_id": "wl-1", "kind": "water_level", "value": 42, "unit": "cm", "time": T}),
     Source.SENSOR, "water_level"),
    ("ioc.in.camera", orjson.dumps({"type": "new", "before": None, "after": {
        "id": "1718.5-abc", "camera": "cam-q1", "label": "smoke", "top_score": 0.81, "start_time": 1780311600.5,
        "current_zones": []}}), Source.CAMERA, "fire_smoke"),
    ("ioc.in.camera", orjson.dumps({"type": "new", "before": {}, "after": {
        "id": "rev-1", "camera": "cam-q1", "start_time": 1780311600.5, "end_time": None, "severity": "alert",
        "data": {"detections": ["a"], "objects": ["car"], "sub_labels": [], "zones": ["illegal_parking"]}}}),
     Source.CAMERA, "illegal_parking"),
]


@pytest.mark.parametrize(("topic", "raw", "source", "kind"), ACCEPTED)
def test_accepted(topic: str, raw: bytes, source: Source, kind: str) -> None:
    event = decode(topic, raw)
    assert event.source is source
    assert event.kind == kind
    assert event.occurred_at.tzinfo is not None


REJECTED = [
    ("ioc.in.reports", b"", "empty"),
    ("ioc.in.reports", b'{"id": "x", "category": ', "malformed_json"),
    ("ioc.in.reports", b"[1, 2]", "wrong_type"),
    ("ioc.in.reports", b"x" * (256 * 1024 + 1), "too_large"),
    ("ioc.in.reports", report(category="ufo"), "unknown_category"),
    ("ioc.in.reports", report(channel="pigeon"), "unknown_channel"),
    ("ioc.in.reports", report(id=None), "missing_field"),
    ("ioc.in.reports", report(id=""), "missing_field"),
    ("ioc.in.reports", report(id=42), "wrong_type"),
    ("ioc.in.reports", report(location={}), "no_location"),
    ("ioc.in.reports", report(location="Quận 3"), "wrong_type"),
    ("ioc.in.reports", report(location={"lat": "10.7", "lon": 106.7}), "wrong_type"),
    ("ioc.in.reports", report(location={"lat": 10.7}), "missing_field"),
    ("ioc.in.reports", report(location={"lat": 95.0, "lon": 106.7}), "invalid_coordinates"),
    ("ioc.in.reports", report(location={"lat": 10.7, "lon": 106.7, "accuracy_m": -1}), "invalid_coordinates"),
    ("ioc.in.reports", report(location={"address": "a" * 501}), "field_too_long"),
    ("ioc.in.reports", report(reported_at="yesterday"), "bad_time"),
    ("ioc.in.reports", report(reported_at=True), "wrong_type"),
    ("ioc.in.reports", report(reporter="Anh Ba"), "wrong_type"),
    ("ioc.in.reports", b'{"id": "n", "category": "noise", "location": {"lat": NaN, "lon": 1}, "reported_at": "' + T.encode() + b'"}',
     "malformed_json"),
    ("ioc.in.camera", orjson.dumps({"camera_id": "c", "label": "ufo", "confidence": 0.5, "time": T}), "unknown_category"),
    ("ioc.in.camera", orjson.dumps({"camera_id": "c", "label": "crowd", "confidence": 1.5, "time": T}), "out_of_range"),
    ("ioc.in.camera", orjson.dumps({"type": "new", "before": None}), "missing_field"),
    ("ioc.in.camera", orjson.dumps({"type": "bogus", "after": {}}), "wrong_type"),
    ("ioc.in.sensors", orjson.dumps({"sensor_id": "s", "kind": "radiation", "value": 1, "time": T}), "unknown_category"),
    ("ioc.in.sensors", orjson.dumps({"sensor_id": "s", "kind": "pm25", "value": 1, "unit": "ppm", "time": T}), "unknown_unit"),
    ("ioc.in.sensors", orjson.dumps({"sensor_id": "s", "kind": "pm25", "value": "high", "time": T}), "wrong_type"),
    ("ioc.in.elsewhere", report(), "unknown_topic"),
]


@pytest.mark.parametrize(("topic", "raw", "reason"), REJECTED)
def test_rejected_with_reason(topic: str, raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        decode(topic, raw)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_a_person_walking_by_is_filtered_not_rejected() -> None:
    with pytest.raises(FilteredOut) as caught:
        decode("ioc.in.camera", orjson.dumps({"type": "new", "after": {"id": "f", "camera": "c", "label": "person",
                                                                        "start_time": 1.0}}))
    assert caught.value.reason == "unmapped"


def test_swapped_coordinates_are_corrected_and_flagged() -> None:
    event = decode("ioc.in.reports", report(location={"lat": 106.7009, "lon": 10.7769}))
    assert event.point is not None
    assert (event.point.lat, event.point.lon) == (10.7769, 106.7009)
    assert event.corrections == ("swapped_lat_lon",)


def test_units_are_converted_and_times_normalized() -> None:
    event = decode("ioc.in.sensors", orjson.dumps({"sensor_id": "s", "kind": "water_level", "value": 125, "unit": "cm",
                                                   "time": "2026-06-01T18:00:00"}))
    assert event.value == 1.25 and event.unit == "m"
    assert event.occurred_at == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)  # naive = Vietnam time


def test_epoch_milliseconds() -> None:
    event = decode("ioc.in.camera", orjson.dumps({"camera_id": "c", "label": "crowd", "confidence": 0.5,
                                                  "time": 1780311600000}))
    assert event.occurred_at.year == 2026


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)
field_names = st.sampled_from(["id", "category", "location", "reported_at", "reporter", "camera_id", "label",
                               "confidence", "time", "sensor_id", "kind", "value", "unit", "type", "after", "lat", "lon"])


@settings(max_examples=400, deadline=None)
@given(topic=st.sampled_from(["ioc.in.reports", "ioc.in.camera", "ioc.in.sensors"]),
       body=st.dictionaries(field_names, json_values, max_size=10))
def test_any_json_object_is_accepted_or_rejected_with_a_reason(topic: str, body: dict[str, object]) -> None:
    try:
        event = decode(topic, json.dumps(body).encode())
    except Rejected as rejection:
        assert rejection.reason and rejection.reason.isidentifier()
        return
    except FilteredOut as filtered:  # a valid Frigate message that maps to no IOC label
        assert filtered.reason.isidentifier() and filtered.event_id.startswith("frigate:")
        return
    if event.point is not None:
        assert math.isfinite(event.point.lat) and math.isfinite(event.point.lon)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_accepted_or_rejected(raw: bytes) -> None:
    try:
        decode("ioc.in.reports", raw)
    except Rejected as rejection:
        assert rejection.reason
