"""The device registry: where each camera and sensor stands, and for a Frigate camera the base URL
of its Frigate server (snapshot links). Stored in Redis (hash ``ioc:devices``, field = device id,
value = JSON), cached in-process by workers."""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis
import redis.asyncio as aioredis

from routers import limits
from routers.events import GeoPoint
from streams.redis_retry import retrying

DEVICES_KEY = "ioc:devices"
_CSV_COLUMNS = ("id", "kind", "lat", "lon", "description", "frigate_url")


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: str
    kind: str
    lat: float
    lon: float
    description: str = ""
    frigate_url: str = ""  # a Frigate camera's server, e.g. http://frigate-q1.local:5000

    def to_json(self) -> bytes:
        body = {"kind": self.kind, "lat": self.lat, "lon": self.lon, "description": self.description}
        if self.frigate_url:
            body["frigate_url"] = self.frigate_url
        return orjson.dumps(body)

    @classmethod
    def from_json(cls, device_id: str, raw: bytes | str) -> DeviceRecord:
        data = orjson.loads(raw)
        return cls(device_id, data["kind"], float(data["lat"]), float(data["lon"]), data.get("description", ""),
                   data.get("frigate_url", ""))


class DeviceFileError(ValueError):
    """A device CSV row is unusable; the message names the line."""


def read_devices_csv(path: Path) -> Iterator[DeviceRecord]:
    try:
        limits.check_size(Path(path), limits.DEVICES_FILE_BYTES, "devices CSV")
    except limits.TooLarge as exc:
        raise DeviceFileError(str(exc)) from None
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(_CSV_COLUMNS[:4]) - set(reader.fieldnames or ())
        if missing:
            raise DeviceFileError(f"{path}: missing columns {sorted(missing)} (need {', '.join(_CSV_COLUMNS)})")
        for line, row in enumerate(reader, start=2):
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except (TypeError, ValueError):
                raise DeviceFileError(f"{path}:{line}: lat/lon must be numbers") from None
            if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
                raise DeviceFileError(f"{path}:{line}: lat/lon {lat},{lon} is not a place on Earth")
            device_id = (row["id"] or "").strip()
            if not device_id or len(device_id) > 128:
                raise DeviceFileError(f"{path}:{line}: id must be 1-128 characters")
            frigate_url = (row.get("frigate_url") or "").strip()
            if frigate_url and not frigate_url.startswith(("http://", "https://")):
                raise DeviceFileError(f"{path}:{line}: frigate_url must be an http:// or https:// URL")
            yield DeviceRecord(device_id, (row["kind"] or "").strip(), lat, lon, (row.get("description") or "").strip(),
                               frigate_url)


def register_devices(redis_url: str, devices: Iterable[DeviceRecord]) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        mapping = {d.id: d.to_json() for d in devices}
        if mapping:
            client.hset(DEVICES_KEY, mapping=mapping)  # type: ignore[arg-type]
        return len(mapping)
    finally:
        client.close()


class DeviceCache:
    """Worker-side lookups: a full load at start, refreshed periodically, misses fetched from Redis.

    Unknown ids are remembered briefly so a flood of detections from an unregistered camera
    does not become a flood of Redis round trips.

    ``client``: the worker's one asyncio Redis client (:func:`streams.redis_retry.client`, with the
    socket timeouts the retries rely on), owned and closed by the worker's services.
    """

    def __init__(self, client: aioredis.Redis, refresh_s: float = 30.0, negative_ttl_s: float = 10.0) -> None:
        self._client = client
        self._points: dict[str, GeoPoint] = {}
        self._frigate_urls: dict[str, str] = {}
        self._unknown_until: dict[str, float] = {}
        self.refresh_s = refresh_s
        self.negative_ttl_s = negative_ttl_s

    async def refresh(self) -> int:
        raw = await retrying(lambda: self._client.hgetall(DEVICES_KEY), "device refresh")
        points, urls = {}, {}
        for key, value in raw.items():
            record = DeviceRecord.from_json(key.decode() if isinstance(key, bytes) else key, value)
            points[record.id] = GeoPoint(record.lat, record.lon)
            if record.frigate_url:
                urls[record.id] = record.frigate_url
        self._points, self._frigate_urls = points, urls
        self._unknown_until.clear()
        return len(points)

    def get(self, device_id: str) -> GeoPoint | None:
        return self._points.get(device_id)

    def frigate_url(self, device_id: str) -> str | None:
        """The camera's Frigate server (base of ``/api/events/<id>/snapshot.jpg``), when registered."""
        return self._frigate_urls.get(device_id)

    async def ensure(self, device_ids: Iterable[str]) -> None:
        """Fetch the ids not cached yet (one round trip for a whole batch)."""
        now = time.monotonic()
        wanted = [d for d in set(device_ids) if d not in self._points and self._unknown_until.get(d, 0) < now]
        if not wanted:
            return
        values = await retrying(lambda: self._client.hmget(DEVICES_KEY, wanted), "device lookup")
        for device_id, value in zip(wanted, values, strict=True):
            if value is None:
                self._unknown_until[device_id] = now + self.negative_ttl_s
            else:
                record = DeviceRecord.from_json(device_id, value)
                self._points[device_id] = GeoPoint(record.lat, record.lon)
                if record.frigate_url:
                    self._frigate_urls[device_id] = record.frigate_url
