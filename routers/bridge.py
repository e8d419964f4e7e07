"""What the MQTT bridge does with one MQTT message: pure decisions, no broker.

The bridge carries Frigate payloads and sensor readings from MQTT to the intake topics. For each
message it decides one of:

- :class:`Forward` the bytes to an intake stream (``camera`` or ``sensors``), keyed by camera or
  sensor id. Broken input is forwarded as it came: the pipeline dead-letters it with its reason
  and keeps the original, so one place rejects input.
- :class:`~routers.route.Filtered`: a valid Frigate message the mapping maps to nothing (a person walking by): it
  never loads the pipeline; the bridge writes where it ended and why.
- :class:`~routers.route.DeadLetter`: a message over the size cap: it cannot travel to Kafka at all, so the bridge
  dead-letters it itself (reason ``too_large``).

Sensor topics: a pattern such as ``sensors/{kind}/{sensor_id}`` subscribes to ``sensors/+/+``
and fills ``kind`` and ``sensor_id`` from the topic when the JSON reading lacks them; a bare number
becomes ``{"value": n}``; a reading without ``time`` gets the bridge's receive time.

    >>> pattern = SensorPattern.parse("sensors/{kind}/{sensor_id}")
    >>> pattern.subscription, pattern.fields("sensors/water_level/wl-7")
    ('sensors/+/+', {'kind': 'water_level', 'sensor_id': 'wl-7'})
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

import orjson

from routers import json_bytes
from routers.envelope import iso
from routers.exceptions import FilteredOut, Rejected
from routers.ingest.frigate import is_frigate, read_frigate
from routers.ingest.frigate_mapping import FrigateMapping
from routers.route import DeadLetter, Filtered

CAMERA = "camera"
SENSORS = "sensors"
_PLACEHOLDER = re.compile(r"\{(sensor_id|kind)\}")


@dataclass(frozen=True, slots=True)
class Forward:
    stream: str  # "camera" or "sensors"
    key: bytes | None
    value: bytes


Decision = Forward | Filtered | DeadLetter


def origin_of(mqtt_topic: str, payload: bytes) -> str:
    """How outputs the bridge writes itself name their MQTT message: topic and content hash
    (MQTT has no offsets; a redelivery carries the same bytes)."""
    return f"mqtt:{mqtt_topic}#{hashlib.sha256(payload).hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class SensorPattern:
    """A sensor topic pattern: ``{sensor_id}`` and ``{kind}`` each stand for one topic level."""

    pattern: str
    subscription: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, pattern: str) -> SensorPattern:
        pattern = pattern.strip()
        if not pattern or any(c in pattern for c in "+#"):
            raise ValueError(f"sensor topic pattern {pattern!r}: use {{sensor_id}} and {{kind}} for topic levels, not + or #")
        levels = pattern.split("/")
        for level in levels:
            if "{" in level and not _PLACEHOLDER.fullmatch(level):
                raise ValueError(f"sensor topic pattern {pattern!r}: {level!r} must be exactly {{sensor_id}} or {{kind}}")
        names = [level[1:-1] for level in levels if _PLACEHOLDER.fullmatch(level)]
        if len(names) != len(set(names)):
            raise ValueError(f"sensor topic pattern {pattern!r} names a placeholder twice")
        regex = "/".join(f"(?P<{level[1:-1]}>[^/]+)" if _PLACEHOLDER.fullmatch(level) else re.escape(level)
                         for level in levels)
        subscription = "/".join("+" if _PLACEHOLDER.fullmatch(level) else level for level in levels)
        return cls(pattern, subscription, re.compile(f"^{regex}$"))

    def fields(self, topic: str) -> dict[str, str] | None:
        found = self.regex.match(topic)
        return None if found is None else found.groupdict()


def bridge_frigate(payload: bytes, mapping: FrigateMapping, max_bytes: int) -> Decision:
    """A ``frigate/events`` or ``frigate/reviews`` message."""
    if len(payload) > max_bytes:
        return DeadLetter("too_large", f"{len(payload)} bytes is over the {max_bytes}-byte cap")
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return Forward(CAMERA, None, payload)  # dead-lettered by the pipeline (malformed_json)
    if not isinstance(obj, dict) or not is_frigate(obj):
        return Forward(CAMERA, None, payload)
    try:
        message = read_frigate(obj)
    except Rejected:
        camera = obj.get("after", {}).get("camera") if isinstance(obj.get("after"), dict) else None
        return Forward(CAMERA, camera.encode() if isinstance(camera, str) else None, payload)
    label = mapping.label_for(message)
    if isinstance(label, FilteredOut):
        return Filtered(label.reason, label.event_id, label.summary)
    return Forward(CAMERA, message.camera.encode(), payload)


def bridge_sensor(topic: str, payload: bytes, pattern: SensorPattern, received: datetime, max_bytes: int) -> Decision:
    """A sensor reading on a topic matching ``pattern``, as the sensor contract wants it."""
    if len(payload) > max_bytes:
        return DeadLetter("too_large", f"{len(payload)} bytes is over the {max_bytes}-byte cap")
    from_topic = pattern.fields(topic) or {}
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return Forward(SENSORS, from_topic.get("sensor_id", "").encode() or None, payload)
    if isinstance(obj, int | float) and not isinstance(obj, bool):
        obj = {"value": obj}
    if not isinstance(obj, dict):
        return Forward(SENSORS, None, payload)
    reading = {**from_topic, **obj}  # what the device says wins over what its topic says
    if "time" not in reading:
        reading["time"] = iso(received)
    sensor_id = reading.get("sensor_id")
    return Forward(SENSORS, sensor_id.encode() if isinstance(sensor_id, str) else None, json_bytes.dumps(reading))
