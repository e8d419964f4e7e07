"""Seed inputs for the fuzz targets: one valid example of each message shape, so the fuzzer
starts deep in the decoders. Kept apart from the targets so the runner can write the corpus
without importing (and instrumenting) the code under test."""

from __future__ import annotations

from typing import Any

import orjson

INTAKE_TOPICS = ("ioc.in.reports", "ioc.in.camera", "ioc.in.sensors")
T = "2026-06-01T18:00:00+07:00"
INTAKE_TEMPLATES: dict[str, tuple[dict[str, Any], ...]] = {
    "ioc.in.reports": (
        {"id": "r-1", "channel": "hotline", "category": "flooding", "description": "Ngập nặng",
         "location": {"lat": 10.7769, "lon": 106.7009, "accuracy_m": 10}, "reported_at": T,
         "reporter": {"name": "Nguyễn Văn An", "phone": "0903123456"}},
        {"id": "r-2", "category": "noise", "location": {"address": "P.7, Q.3, TP.HCM"}, "reported_at": 1780311600},
    ),
    "ioc.in.camera": (
        {"camera_id": "cam-1", "label": "fire_smoke", "confidence": 0.9, "time": T, "detection_id": "d-1",
         "snapshot_url": "https://cameras.example.invalid/1.jpg", "lat": 10.77, "lon": 106.70},
        {"type": "new", "before": None, "after": {"id": "1718.5-abc", "camera": "cam-q1", "label": "smoke",
                                                  "sub_label": ["fire", 0.9], "top_score": 0.81,
                                                  "start_time": 1780311600.5, "current_zones": ["crowd"]}},
        {"type": "update", "before": {}, "after": {"id": "rev-1", "camera": "cam-q1", "start_time": 1780311600.5,
                                                   "severity": "alert", "data": {"objects": ["car"], "sub_labels": [],
                                                                                 "zones": ["illegal_parking"]}}},
    ),
    "ioc.in.sensors": (
        {"sensor_id": "wl-1", "kind": "water_level", "value": 42, "unit": "cm", "time": T, "reading_id": "x-1"},
        {"sensor_id": "pm-1", "kind": "pm25", "value": 35.5, "time": 1780311600000, "lat": 10.7, "lon": 106.7},
    ),
}
STATUS_TEMPLATES: tuple[dict[str, Any], ...] = (
    {"update_id": "w26734-000123", "incident_id": "inc-1", "ward": "26734", "status": "resolved",
     "at": "2026-05-01T10:42:00+07:00", "actor": "officer-17", "note": "ok",
     "result": {"outcome": "fixed", "summary": "Drain cleared"}},
    {"update_id": "u-2", "incident_id": "inc-2", "ward": "26734", "status": "reassigned", "to_ward": "26737"},
    {"update_id": "u-3", "incident_id": "inc-3", "ward": "00001", "status": "acknowledged"},
)


def intake_seeds() -> list[bytes]:
    """Each example in raw mode, and in structured mode with every field kept."""
    out = []
    for index, topic in enumerate(INTAKE_TOPICS):
        for template in INTAKE_TEMPLATES[topic]:
            out.append(bytes([index, 0]) + orjson.dumps(template))
            out.append(bytes([index, 1]) + bytes(48))
    return out


def status_seeds() -> list[bytes]:
    return [b"\x00" + orjson.dumps(t) for t in STATUS_TEMPLATES] + [b"\x01" + bytes(48)]


def address_seeds() -> list[bytes]:
    examples = (
        "P.7, Q.3, TP.HCM", "Phường Xuân Hoà, TP.HCM", "Phường Đa Kao, TP.HCM", "Phuong 7 Quan 3 TPHCM",
        "123 Lê Lợi, Phường Bến Thành, Quận 1, Thành phố Hồ Chí Minh", "Xã Tân Thông Hội, H. Củ Chi, TP.HCM",
        "Phường Phú Cường, TP. Thủ Dầu Một, Bình Dương", "F7, Q.Bình Thạnh, HCMC", "Phường 1, TP. Vũng Tàu, BR-VT",
        "Phường Hoàn Kiếm, Hà Nội", "Phường Hải Châu, TP. Đà Nẵng", "TT. Cần Thạnh, H. Cần Giờ", ", , ,",
    )
    return [text.encode() for text in examples]


SEEDS = {"intake": intake_seeds, "address": address_seeds, "status": status_seeds}
