"""Generate intake messages for a city: a realistic mix of citizen reports, camera detections
and sensor readings, plus the faults real intake has (malformed, out-of-area, swapped coordinates).

The generator is deterministic for a seed and does no I/O: ``next_message()`` returns the topic,
key and raw bytes to produce.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from routers import topics
from routers.categories import SENSOR_KINDS
from streams.simulator.frigate import FrigateFeed
from streams.simulator.places import LOW_LYING_NAMES, LegacyWard, legacy_wards, old_address, strip_accents
from streams.simulator.texts import DESCRIPTIONS, FAMILY_NAMES, GIVEN_NAMES

PointSampler = Callable[[str, random.Random], tuple[float, float]]

# category weights of an ordinary evening (share of citizen reports)
_NORMAL_CATEGORIES = {
    "traffic_congestion": 14, "urban_order": 12, "noise": 10, "waste": 10, "road_damage": 8, "flooding": 6,
    "traffic_accident": 6, "street_light": 6, "water_supply": 5, "power_outage": 4, "pollution": 4,
    "fallen_tree": 3, "security": 4, "illegal_construction": 3, "fire": 2, "health": 1, "food_safety": 1, "other": 1,
}
_RAINSTORM_CATEGORIES = {**_NORMAL_CATEGORIES, "flooding": 60, "fallen_tree": 12, "traffic_congestion": 20}
_CAMERA_WEIGHTS = {"congestion": 40, "illegal_parking": 25, "crowd": 10, "accident": 10, "flooding": 10, "fire_smoke": 5}
_SENSOR_RANGES = {"water_level": (0.05, 0.35), "rainfall": (0.0, 8.0), "tide": (1.0, 1.5), "pm25": (15.0, 60.0)}
_FAULTS = ("malformed_json", "wrong_type", "missing_field", "nan_coordinates", "unknown_category", "oversized",
           "unknown_device")


@dataclass(frozen=True, slots=True)
class WardSpot:
    code: str
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: str  # "camera" or a sensor kind
    lat: float
    lon: float
    ward_code: str
    description: str


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    intent: str  # what the generator meant: "report", "camera", "sensor", "old_address", "out_of_area", a fault...


@dataclass
class ScenarioMix:
    reports: float = 0.5
    cameras: float = 0.25
    sensors: float = 0.25
    old_address_share: float = 0.10  # of reports: an old-format address and no coordinates
    fault_share: float = 0.03
    out_of_area_share: float = 0.01
    swapped_share: float = 0.01
    street_life_share: float = 0.3  # of Frigate camera messages: people and cars passing (filtered)


class CityScenario:
    """``normal`` or ``rainstorm`` traffic for one city's wards."""

    def __init__(
        self,
        province_code: str,
        wards: Sequence[WardSpot],
        sample_point: PointSampler,
        scenario: str = "normal",
        seed: int = 2025,
        start: datetime | None = None,
        mix: ScenarioMix | None = None,
        frigate: bool = False,
    ) -> None:
        """``frigate``: camera detections as Frigate's MQTT messages (topics ``frigate/events`` and
        ``frigate/reviews``, for the MQTT bridge) instead of the native contract on ioc.in.camera."""
        if scenario not in ("normal", "rainstorm"):
            raise ValueError(f"unknown scenario {scenario!r} (normal|rainstorm)")
        if not wards:
            raise ValueError(f"no wards for province {province_code}")
        self.province_code = province_code
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.mix = mix or ScenarioMix()
        self.sample_point = sample_point
        self.wards = list(wards)
        self._ward_weights = list(itertools.accumulate(w.weight for w in self.wards))
        self.low_lying = self._pick_low_lying()
        self.legacy: tuple[LegacyWard, ...] = legacy_wards(province_code)
        self.clock = start or datetime.now(UTC)
        self._paced_step_s: float | None = None  # see pace()
        self._seq = itertools.count(1)
        # Ids are unique per run: two runs (tests sharing a broker, a soak after a demo) must not send
        # different events under one id (a consumer dedupes on it; the lifecycle names incidents by it).
        # From the start time, so a scenario given a fixed ``start`` repeats its ids exactly.
        self._run = f"{int(self.clock.timestamp() * 1000) % 100_000_000:08d}"
        self.devices = self._place_devices()
        self._cameras = [d for d in self.devices if d.kind == "camera"]
        self._sensors = [d for d in self.devices if d.kind != "camera"]
        self._levels = {d.id: self.rng.uniform(*_SENSOR_RANGES[d.kind]) for d in self._sensors}
        categories = _RAINSTORM_CATEGORIES if scenario == "rainstorm" else _NORMAL_CATEGORIES
        self._categories = list(categories)
        self._category_weights = list(itertools.accumulate(categories.values()))
        self._camera_labels = list(_CAMERA_WEIGHTS)
        self._camera_weights = list(itertools.accumulate(_CAMERA_WEIGHTS.values()))
        self.frigate = FrigateFeed(random.Random(seed + 1)) if frigate else None

    # -- placing ------------------------------------------------------------------------------
    def _pick_low_lying(self) -> list[WardSpot]:
        wanted = [strip_accents(n).lower() for n in LOW_LYING_NAMES]  # "Hoà" and "Hòa" are both written
        named = [w for w in self.wards if any(n in strip_accents(w.name).lower() for n in wanted)]
        rest = [w for w in self.wards if w not in named]
        self.rng.shuffle(rest)
        return (named + rest)[: max(4, len(self.wards) // 12)]

    def _ward(self) -> WardSpot:
        return self.rng.choices(self.wards, cum_weights=self._ward_weights)[0]

    def _place_devices(self) -> list[Device]:
        devices: list[Device] = []
        camera_wards = self.rng.sample(self.wards, min(len(self.wards), 60))
        for n, ward in enumerate(camera_wards):
            lat, lon = self.sample_point(ward.code, self.rng)
            devices.append(Device(f"cam-{self.province_code}-{n:03d}", "camera", lat, lon, ward.code,
                                  f"Camera giao thông {ward.name}"))
        sensor_wards = self.low_lying + self.rng.sample(self.wards, min(len(self.wards), 20))
        for n, ward in enumerate(sensor_wards):
            kind = "water_level" if ward in self.low_lying else self.rng.choice(("rainfall", "pm25", "water_level", "tide"))
            lat, lon = self.sample_point(ward.code, self.rng)
            devices.append(Device(f"{kind}-{self.province_code}-{n:03d}", kind, lat, lon, ward.code,
                                  f"Cảm biến {kind} {ward.name}"))
        return devices

    # -- generating ---------------------------------------------------------------------------
    def pace(self, rate: float) -> None:
        """Event times advance ``1/rate`` s a message on average, so at ``rate`` messages per second
        they keep up with the wall clock. Unpaced, the scenario's clock advances ~0.2 s a message:
        a city at ~5 events/s, which a soak at 1,000/s would replay 200 times faster than real time
        (event times hours ahead of the workers' clock, every group window over in seconds)."""
        self._paced_step_s = 1.0 / rate

    def next_message(self) -> Message:
        if self._paced_step_s is None:
            self.clock += timedelta(milliseconds=self.rng.randint(5, 400))
        else:
            self.clock += timedelta(seconds=self.rng.uniform(0.0, 2.0 * self._paced_step_s))
        roll = self.rng.random()
        if roll < self.mix.fault_share:
            return self._fault()
        roll = self.rng.random()
        if roll < self.mix.reports:
            return self._report()
        if roll < self.mix.reports + self.mix.cameras:
            return self._camera()
        return self._sensor()

    def _report(self) -> Message:
        rng = self.rng
        category = rng.choices(self._categories, cum_weights=self._category_weights)[0]
        ward = rng.choice(self.low_lying) if self.scenario == "rainstorm" and category == "flooding" else self._ward()
        report_id = f"1022-{self.clock:%Y%m%d}-{self._run}-{next(self._seq):07d}"
        body: dict[str, object] = {
            "id": report_id,
            "channel": rng.choice(("portal", "hotline", "app", "zalo")),
            "category": category,
            "description": rng.choice(DESCRIPTIONS[category]),
            "reported_at": self.clock.isoformat(),
            "reporter": {
                "name": f"{rng.choice(FAMILY_NAMES)} {rng.choice(GIVEN_NAMES)}",
                "phone": f"09{rng.randint(10_000_000, 99_999_999)}",
            },
        }
        intent = "report"
        roll = rng.random()
        if roll < self.mix.old_address_share and self.legacy:
            legacy = rng.choice(self.legacy)
            body["location"] = {"address": old_address(legacy, self.province_code, rng)}
            intent = "old_address"
        elif roll < self.mix.old_address_share + self.mix.out_of_area_share:
            # Phnom Penh or the open sea: valid coordinates no ward owns
            lat, lon = rng.choice(((11.56, 104.92), (9.5, 108.9), (16.0, 111.5)))
            body["location"] = {"lat": lat, "lon": lon}
            intent = "out_of_area"
        else:
            lat, lon = self.sample_point(ward.code, rng)
            location: dict[str, object] = {"lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": rng.choice((5, 10, 20, 50))}
            if roll > 1 - self.mix.swapped_share:
                location = {"lat": location["lon"], "lon": location["lat"]}
                intent = "swapped"
            body["location"] = location
        return Message(topics.REPORTS, report_id.encode(), orjson.dumps(body), intent)

    def _camera(self) -> Message:
        rng = self.rng
        label = rng.choices(self._camera_labels, cum_weights=self._camera_weights)[0]
        if self.scenario == "rainstorm" and rng.random() < 0.5:
            label = "flooding"
            low_codes = {w.code for w in self.low_lying}
            camera = rng.choice([c for c in self._cameras if c.ward_code in low_codes] or self._cameras)
        else:
            camera = rng.choice(self._cameras)
        if self.frigate is not None:
            if rng.random() < self.mix.street_life_share:
                topic, value = self.frigate.street_life(camera.id, self.clock)
                return Message(topic, camera.id.encode(), value, "camera_street_life")
            topic, value = self.frigate.detection(label, camera.id, self.clock)
            return Message(topic, camera.id.encode(), value, "camera")
        body = {
            "camera_id": camera.id,
            "label": label,
            "confidence": round(rng.uniform(0.55, 0.99), 3),
            "time": self.clock.isoformat(),
            "snapshot_url": f"https://cameras.example.invalid/{camera.id}/{next(self._seq)}.jpg",
            "detection_id": f"det-{camera.id}-{self._run}-{next(self._seq)}",
        }
        return Message(topics.CAMERA, camera.id.encode(), orjson.dumps(body), "camera")

    def _sensor(self) -> Message:
        rng = self.rng
        sensor = rng.choice(self._sensors)
        level = self._levels[sensor.id]
        low, high = _SENSOR_RANGES[sensor.kind]
        if self.scenario == "rainstorm" and sensor.kind in ("water_level", "rainfall"):
            level += rng.uniform(0.0, 0.08 if sensor.kind == "water_level" else 6.0)  # rising water
        else:
            level += rng.uniform(-0.05, 0.05) * (high - low)
            level = min(max(level, low), high)
        self._levels[sensor.id] = level
        unit = SENSOR_KINDS[sensor.kind][0]
        body = {"sensor_id": sensor.id, "kind": sensor.kind, "value": round(level, 3), "unit": unit,
                "time": self.clock.isoformat()}
        return Message(topics.SENSORS, sensor.id.encode(), orjson.dumps(body), "sensor")

    def _fault(self) -> Message:
        rng = self.rng
        fault = rng.choice(_FAULTS)
        key = f"bad-{next(self._seq)}".encode()
        if fault == "malformed_json":
            value = b'{"id": "broken", "category": "flooding", "location": {"lat": 10.7'
        elif fault == "wrong_type":
            value = orjson.dumps({"id": key.decode(), "category": "fire", "location": {"lat": "mười", "lon": 106.7},
                                  "reported_at": self.clock.isoformat()})
        elif fault == "missing_field":
            value = orjson.dumps({"id": key.decode(), "location": {"lat": 10.77, "lon": 106.70}})
        elif fault == "nan_coordinates":
            value = b'{"id": "%s", "category": "noise", "location": {"lat": NaN, "lon": Infinity}, "reported_at": "%s"}' % (
                key, self.clock.isoformat().encode())
        elif fault == "unknown_category":
            value = orjson.dumps({"id": key.decode(), "category": "ufo_sighting", "location": {"lat": 10.77, "lon": 106.7},
                                  "reported_at": self.clock.isoformat()})
        elif fault == "oversized":
            value = orjson.dumps({"id": key.decode(), "category": "other", "description": "x" * 300_000,
                                  "location": {"lat": 10.77, "lon": 106.7}, "reported_at": self.clock.isoformat()})
        else:  # unknown_device: valid detection from a camera nobody registered
            value = orjson.dumps({"camera_id": "cam-unregistered-999", "label": "crowd", "confidence": 0.8,
                                  "time": self.clock.isoformat()})
            return Message(topics.CAMERA, b"cam-unregistered-999", value, fault)
        return Message(topics.REPORTS, key, value, fault)
