"""The MQTT bridge's messages/s beside a bare MQTT-to-Kafka loop, same client libraries, same run.

Both contenders take the same Frigate messages (the simulator's cameras: fires, parked cars,
crowds and street life, ~30% filtered by the default mapping) from a real Mosquitto, QoS 1 with a
persistent session, and acknowledge each MQTT message only after Kafka acknowledged what it became
(paho ``manual_ack`` + kafka-python, acks=all, linger 5 ms). The bare loop forwards every payload as
it came; the bridge decides (JSON, Frigate checks, the mapping, filtered records, metrics). For
each round the messages are queued in Mosquitto for the contender's offline session first, then the
contender connects and is timed until it has acknowledged all of them. Rounds alternate; medians.

    python -m benchmarks bridge            (BRIDGE_BENCH_MESSAGES=20000 BRIDGE_BENCH_ROUNDS=3)
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from routers import topics
from routers.ingest.frigate_mapping import default_mapping
from streams.admin import create_topics
from streams.bridge.mqtt import BridgeOptions, MqttBridge, kafka_producer, parse_broker
from streams.embedded.mqtt import start_mqtt, url_of
from streams.embedded.stack import EmbeddedStack
from streams.settings import Settings
from streams.simulator.frigate import FrigateFeed

CAMERAS = [f"cam-bench-{n:02d}" for n in range(40)]
LABELS = ("congestion", "illegal_parking", "crowd", "accident", "flooding", "fire_smoke")


def frigate_messages(count: int, seed: int = 7) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    feed = FrigateFeed(random.Random(seed + 1))
    clock = datetime(2026, 6, 1, 18, tzinfo=UTC)
    out = []
    for _ in range(count):
        clock += timedelta(milliseconds=rng.randint(5, 200))
        camera = rng.choice(CAMERAS)
        out.append(feed.street_life(camera, clock) if rng.random() < 0.3
                   else feed.detection(rng.choice(LABELS), camera, clock))
    return out


def _client(client_id: str, broker: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                       protocol=mqtt.MQTTv311, manual_ack=True)


def preload(broker: str, client_id: str, messages: list[tuple[str, bytes]]) -> None:
    """Create ``client_id``'s persistent session (subscribed, then offline) and queue ``messages`` for it."""
    host, port = parse_broker(broker)
    session = _client(client_id, broker)
    session.connect(host, port)
    session.loop_start()
    done = threading.Event()
    session.on_subscribe = lambda *a: done.set()
    session.subscribe([("frigate/events", 1), ("frigate/reviews", 1)])
    done.wait(10)
    session.disconnect()
    session.loop_stop()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{client_id}-pub", protocol=mqtt.MQTTv311)
    publisher.max_inflight_messages_set(1000)
    publisher.max_queued_messages_set(0)
    publisher.connect(host, port)
    publisher.loop_start()
    infos = [publisher.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(timeout=60)
    publisher.disconnect()
    publisher.loop_stop()


class BareLoop:
    """The least a QoS 1 MQTT -> Kafka relay does: forward each payload, ack it when Kafka has it."""

    def __init__(self, broker: str, client_id: str, producer: Any) -> None:
        self.acked = 0
        self._lock = threading.Lock()
        self.producer = producer
        self.client = _client(client_id, broker)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe([("frigate/events", 1), ("frigate/reviews", 1)])
        self.broker = broker

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        mid, qos = message.mid, message.qos
        future = self.producer.send(topics.CAMERA, value=message.payload)
        future.add_callback(lambda _md: self._ack(mid, qos))

    def _ack(self, mid: int, qos: int) -> None:
        self.client.ack(mid, qos)
        with self._lock:
            self.acked += 1

    def start(self) -> None:
        host, port = parse_broker(self.broker)
        self.client.connect(host, port)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _timed(start: Any, done: Any, stop: Any, count: int, timeout_s: float = 300.0) -> float:
    began = time.perf_counter()
    start()
    deadline = time.monotonic() + timeout_s
    while done() < count:
        if time.monotonic() > deadline:
            stop()
            raise TimeoutError(f"only {done()} of {count} acknowledged after {timeout_s:.0f} s")
        time.sleep(0.005)
    elapsed = time.perf_counter() - began
    stop()
    return count / elapsed


def run_round(settings: Settings, broker: str, messages: list[tuple[str, bytes]], contender: str, n: int) -> float:
    client_id = f"bench-{contender}-{n}"
    preload(broker, client_id, messages)
    producer = kafka_producer(settings)
    try:
        if contender == "bare":
            loop = BareLoop(broker, client_id, producer)
            return _timed(loop.start, lambda: loop.acked, loop.stop, len(messages))
        host, port = parse_broker(broker)
        options = BridgeOptions(host=host, port=port, client_id=client_id,
                                frigate_topics=("frigate/events", "frigate/reviews"), sensor_patterns=(),
                                mapping=default_mapping(), max_bytes=settings.max_message_bytes)
        bridge = MqttBridge(options, producer)
        acked = bridge.acked_count
        return _timed(bridge.start, acked, lambda: bridge.stop(timeout_s=10), len(messages))
    finally:
        producer.close(timeout=10)


def main() -> None:
    count = int(os.environ.get("BRIDGE_BENCH_MESSAGES", "20000"))
    rounds = int(os.environ.get("BRIDGE_BENCH_ROUNDS", "3"))
    messages = frigate_messages(count)
    size = sum(len(p) for _t, p in messages) / len(messages)
    with tempfile.TemporaryDirectory(prefix="ioc-bridge-bench-") as tmp:
        run_dir = Path(tmp)
        broker_process = start_mqtt(run_dir / "mqtt")
        try:
            with EmbeddedStack(Settings(data_dir=run_dir / "data", partitions=4), run_dir=run_dir) as stack:
                settings = stack.settings
                create_topics(settings)
                broker = url_of(broker_process)
                print(f"bridge bench: {count} Frigate messages (~{size:.0f} B) per round on {broker_process.name}, "
                      f"QoS 1, ack after Kafka ack; {rounds} rounds each, alternating", flush=True)
                rates: dict[str, list[float]] = {"bare": [], "bridge": []}
                for n in range(rounds):
                    for contender in ("bare", "bridge"):
                        rate = run_round(settings, broker, messages, contender, n)
                        rates[contender].append(rate)
                        print(f"  round {n + 1} {contender:6s} {rate:9.0f} messages/s", flush=True)
                bare, bridge = statistics.median(rates["bare"]), statistics.median(rates["bridge"])
                print(f"bare MQTT->Kafka loop {bare:9.0f} messages/s (median)")
                print(f"ioc bridge mqtt       {bridge:9.0f} messages/s (median)  ratio {bridge / bare:.2f}x of the bare loop")
        finally:
            broker_process.stop()


if __name__ == "__main__":
    main()
