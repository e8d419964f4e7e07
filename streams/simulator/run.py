"""Drive a scenario into the intake topics at a steady rate (kafka-python producer)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kafka import KafkaProducer

from routers.boundaries.lineage import admin_data
from routers.boundaries.registry import BoundaryRegistry
from routers.progress import Progress
from streams import kafka_clients
from streams.devices import DeviceRecord, register_devices
from streams.settings import Settings
from streams.simulator.frigate import EVENTS, REVIEWS
from streams.simulator.places import CITIES
from streams.simulator.scenario import CityScenario, Message, WardSpot


@dataclass
class SimulationStats:
    produced: int = 0
    by_intent: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)

    def count(self, message: Message) -> None:
        """``message`` went out (to the producer client; the broker's acknowledgement is ``on_sent``)."""
        self.produced += 1
        self.by_intent[message.intent] += 1
        self.by_topic[message.topic] += 1


# A producer that fell behind (the machine busy) catches up at most this much traffic in one tick
# (the pace over the whole run is kept), not in one flood
MAX_BURST_S = 1.0


def due_now(elapsed_s: float, rate: float, produced: int, count: int | None = None,
            max_burst_s: float | None = MAX_BURST_S) -> int:
    """How many messages are due after ``elapsed_s`` at ``rate``/s when ``produced`` went out:
    the pace is kept over the whole run (a late tick sends what it owes), but one tick never owes
    more than ``max_burst_s`` of traffic (None: all it owes)."""
    due = int(elapsed_s * rate) + 1 - produced
    if max_burst_s is not None:
        due = min(due, max(int(rate * max_burst_s), 1))
    if count is not None:
        due = min(due, count - produced)
    return max(due, 0)


@cache
def population_proxy() -> dict[str, float]:
    """Relative population by new ward code, for generations without population figures.

    Pre-merger wards held broadly similar numbers of people (urban phường more than rural xã), so
    the number of old units merged into a new one - a split one counted by its share - weighted
    for urban wards, is a usable stand-in. Official imports that carry population replace it."""
    weights: dict[str, float] = {}
    for old in admin_data().old_units:
        share = (3.0 if old.name.startswith("Phường") else 1.0) / max(len(old.new_codes), 1)
        for code in old.new_codes:
            weights[code] = weights.get(code, 0.0) + share
    return weights


def build_scenario(settings: Settings, city: str, scenario: str, seed: int, frigate: bool = False) -> CityScenario:
    if city not in CITIES:
        raise ValueError(f"unknown city {city!r}: choose one of {', '.join(CITIES)}")
    province = CITIES[city]
    registry = BoundaryRegistry(settings.data_dir)
    registry.ensure_default()
    generation = registry.load_active()
    proxy = population_proxy()
    wards = [
        WardSpot(w.code, w.name, float(w.population or proxy.get(w.code, 1.0)))
        for w in generation.wards_in_province(province)
    ]

    def sample(code: str, rng: random.Random) -> tuple[float, float]:
        return tuple(generation.random_point_in(code, rng))  # type: ignore[return-value]

    return CityScenario(province, wards, sample, scenario=scenario, seed=seed, frigate=frigate)


def register_scenario_devices(settings: Settings, sim: CityScenario) -> int:
    if not settings.redis_url:
        raise ValueError("IOC_REDIS_URL is not set: the simulator registers its cameras and sensors there")
    return register_devices(settings.redis_url, (
        DeviceRecord(d.id, d.kind, d.lat, d.lon, d.description,
                     f"http://frigate-{d.ward_code}.cameras.invalid:5000" if d.kind == "camera" else "")
        for d in sim.devices))


def produce(
    settings: Settings,
    sim: CityScenario,
    rate: float,
    duration_s: float | None = None,
    count: int | None = None,
    stop: threading.Event | None = None,
    on_sent: Callable[[Message, int, int], None] | None = None,
    progress: Progress | None = None,
    mqtt_broker: str | None = None,
) -> SimulationStats:
    """Produce ``rate`` messages per second until ``duration_s``, ``count`` or ``stop``.

    ``on_sent(message, partition, offset)`` is called from the producer thread once the broker
    has the message (the conservation checks use it; Kafka messages only). Frigate messages
    (a scenario built with ``frigate=True``) are published to ``mqtt_broker`` with QoS 1.
    ``progress`` hears stage ``"produced"`` as messages go out."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    producer = KafkaProducer(**kafka_clients.kafka_python(
        settings, linger_ms=5, acks=1, client_id="ioc-simulator", max_request_size=2 * 1024 * 1024,
    ))
    mqtt_client = _mqtt_publisher(mqtt_broker) if mqtt_broker else None
    in_flight: list[Any] = []  # QoS 1 publishes the broker has not acknowledged yet
    stats = SimulationStats()
    reported = 0  # messages already told to ``progress``
    started = time.monotonic()
    tick = 0.05
    try:
        while True:
            elapsed = time.monotonic() - started
            if (duration_s is not None and elapsed >= duration_s) or (stop is not None and stop.is_set()):
                break
            if count is not None and stats.produced >= count:
                break
            for _ in range(due_now(elapsed, rate, stats.produced, count, max_burst_s=None)):
                message = sim.next_message()
                if message.topic in (EVENTS, REVIEWS):
                    if mqtt_client is None:
                        raise ValueError("the scenario sends Frigate messages over MQTT: give mqtt_broker")
                    in_flight.append(mqtt_client.publish(message.topic, message.value, qos=1))
                else:
                    future = producer.send(message.topic, key=message.key, value=message.value)
                    if on_sent is not None:
                        future.add_callback(lambda md, m=message: on_sent(m, md.partition, md.offset))
                stats.count(message)
            if progress is not None:
                progress("produced", stats.produced - reported)
                reported = stats.produced
            in_flight = [info for info in in_flight if not info.is_published()]
            time.sleep(tick)
        producer.flush()
        for info in in_flight:
            info.wait_for_publish(timeout=30)
    finally:
        producer.close()
        if mqtt_client is not None:
            mqtt_client.loop_stop()  # QoS 1 publishes still in flight are resent by paho until then
            mqtt_client.disconnect()
    return stats


def _mqtt_publisher(broker: str) -> Any:
    """A paho client that publishes the simulated cameras' Frigate messages, like Frigate does."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from streams.bridge.mqtt import parse_broker

    host, port = parse_broker(broker)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ioc-simulator-frigate", protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    return client
