"""Recorded traffic for what-if replay: the JSONL format, reading it back, and turning lines into
located events.

One JSON object per line. ``ioc record`` writes::

    {"topic": "ioc.in.reports", "partition": 0, "offset": 42, "timestamp": 1795372800000,
     "key": "r-1", "value": {...the message value...}}

(``"value_base64"`` instead of ``"value"`` when the value is not JSON). Replay accepts:

- a line from an intake topic (``ioc.in.*``): the raw message is decoded (``routers.ingest``) and
  located (boundary generations from ``IOC_DATA_DIR``, devices from ``IOC_REDIS_URL`` if set),
  exactly as the pipeline would; messages it would dead-letter are counted as such;
- a line from an output topic (``ioc.routed``, ``ioc.ward.*``, ``ioc.unroutable`` ...): the event
  and the location the pipeline recorded in the envelope are reused (no re-locating);
- a bare object without ``topic``: a test event as for ``ioc rules test --event``
  (``routers.rules.cases``), handy for hand-written what-if files.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from routers import topics
from routers.events import Event, GeoPoint
from routers.exceptions import Rejected
from routers.locate.result import Location
from routers.rules.cases import CaseError, event_from_json, location_from_json


def record_line(topic: str, partition: int, offset: int, timestamp: int | None, key: bytes | None,
                value: bytes | None) -> bytes:
    """One recording line (with trailing newline) for a consumed message."""
    line: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset, "timestamp": timestamp,
                            "key": key.decode("utf-8", "replace") if key is not None else None}
    if value is not None:
        try:
            line["value"] = orjson.loads(value)
        except orjson.JSONDecodeError:
            line["value_base64"] = base64.b64encode(value).decode("ascii")
    else:
        line["value"] = None
    return orjson.dumps(line) + b"\n"


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every non-blank line as an object; a line that is not a JSON object becomes
    ``{"_error": "<path>:<line>: ..."}`` so the reader can count it and go on."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield {"_error": f"{path}:{number}: not JSON ({exc})"}
                continue
            yield obj if isinstance(obj, dict) else {"_error": f"{path}:{number}: not a JSON object"}


@dataclass(frozen=True, slots=True)
class Placed:
    """A line turned into something replay can use: an event and its location, or why not."""

    event: Event | None
    location: Location | None
    rejected: str | None = None  # dead-letter reason when the raw message would not decode


def raw_value(line: dict[str, Any]) -> bytes | None:
    if "value_base64" in line:
        return base64.b64decode(line["value_base64"])
    value = line.get("value")
    return None if value is None else orjson.dumps(value)


Locate = Callable[[Event], Location]


def place(line: dict[str, Any], locate: Locate | None) -> Placed:
    """Turn one recording line into an event and a location (see the module docstring)."""
    if "_error" in line:
        raise CaseError(str(line["_error"]))
    topic = line.get("topic")
    if topic is None:
        data = dict(line)
        location = location_from_json(data.pop("location", None))
        data.pop("context", None)
        return Placed(event_from_json(data), location)
    if topic in topics.INTAKE:
        from routers.ingest import decode

        if locate is None:
            raise CaseError("raw intake lines need boundaries to locate them; none are available")
        try:
            event = decode(topic, raw_value(line))
        except Rejected as rejection:
            return Placed(None, None, rejection.reason)
        return Placed(event, locate(event))
    value = line.get("value")
    body = value.get("data") if isinstance(value, dict) else None
    if not isinstance(body, dict) or "event" not in body or "location" not in body:
        raise CaseError(f"a line from {topic} has no data.event/data.location envelope to replay")
    return Placed(event_from_json(body["event"]), location_from_json(body["location"]))


def make_locator(data_dir: Path, nearest_max_m: float, redis_url: str | None) -> Locate:
    """Locate like the pipeline: the serving boundary generations, then the device registry."""
    import redis

    from routers.boundaries.registry import BoundaryRegistry
    from routers.locate.locator import Locator
    from routers.route import locate_event
    from streams.devices import DEVICES_KEY, DeviceRecord

    registry = BoundaryRegistry(data_dir)
    registry.ensure_default()
    locator = Locator(registry.load_for_serving(), nearest_max_m=nearest_max_m)
    points: dict[str, GeoPoint] = {}
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        try:
            stored: dict[bytes, bytes] = client.hgetall(DEVICES_KEY)  # type: ignore[assignment]
            for key, value in stored.items():
                record = DeviceRecord.from_json(key.decode(), value)
                points[record.id] = GeoPoint(record.lat, record.lon)
        finally:
            client.close()

    def locate(event: Event) -> Location:
        return locate_event(event, locator, points.get)

    return locate
