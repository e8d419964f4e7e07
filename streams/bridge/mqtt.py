"""``ioc bridge mqtt``: Frigate and sensor messages from an MQTT broker to the intake topics, at
least once.

Delivery: the bridge subscribes with QoS 1 under a fixed client id and a persistent session
(``clean_session=False``), and acknowledges each MQTT message (paho's ``manual_ack``) only from the
Kafka producer's callback, after Kafka acknowledged what the message became (the intake message,
or the filtered / dead-letter record the bridge wrote). A message whose Kafka send failed, or that
was in flight when the bridge died, is still unacknowledged: the broker keeps it for the session
and sends it again when the bridge reconnects. Redeliveries carry the same bytes, so they get the
same CloudEvents ids downstream.

What to do with a message is decided by :mod:`routers.bridge`; this module only moves bytes and
counts. Payloads are never logged: a Frigate ``sub_label`` is personal data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from kafka import KafkaProducer
from paho.mqtt.enums import CallbackAPIVersion

from routers import envelope, json_bytes, topics
from routers.bridge import (
    CAMERA,
    Decision,
    Forward,
    SensorPattern,
    bridge_frigate,
    bridge_sensor,
    origin_of,
)
from routers.ingest.frigate_mapping import FrigateMapping, load_mapping_file
from routers.route import DeadLetter, Filtered
from streams import kafka_clients
from streams.bridge import metrics
from streams.settings import Settings

log = logging.getLogger(__name__)

QOS = 1
_INTAKE = {CAMERA: topics.CAMERA, "sensors": topics.SENSORS}


@dataclass(frozen=True)
class BridgeOptions:
    host: str
    port: int
    client_id: str
    frigate_topics: tuple[str, ...]
    sensor_patterns: tuple[SensorPattern, ...]
    mapping: FrigateMapping
    max_bytes: int
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0


def parse_broker(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (also ``tcp://``, or a bare ``host:port``) -> (host, port); 1883 by default."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"MQTT broker {url!r}: expected mqtt://HOST:PORT")
    return parts.hostname, parts.port or 1883


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def options_from(settings: Settings, broker: str | None = None, client_id: str | None = None) -> BridgeOptions:
    """The bridge's options from the settings (``broker`` overrides ``IOC_MQTT_BROKER``); a bad
    Frigate mapping or sensor pattern raises here, before anything connects."""
    url = broker or settings.mqtt_broker
    if not url:
        raise ValueError("no MQTT broker: pass --broker mqtt://HOST:PORT or set IOC_MQTT_BROKER")
    host, port = parse_broker(url)
    return BridgeOptions(
        host=host, port=port, client_id=client_id or settings.mqtt_client_id,
        frigate_topics=_split(settings.mqtt_frigate_topics),
        sensor_patterns=tuple(SensorPattern.parse(p) for p in _split(settings.mqtt_sensor_topics)),
        mapping=load_mapping_file(settings.frigate_mapping_file),
        max_bytes=settings.max_message_bytes,
        username=settings.mqtt_username, password=settings.mqtt_password,
    )


def kafka_producer(settings: Settings) -> KafkaProducer:
    # Kafka's own acknowledgement is what releases the MQTT message: acks from all in-sync replicas
    return KafkaProducer(**kafka_clients.kafka_python(
        settings, acks="all", linger_ms=5, client_id="ioc-mqtt-bridge", max_request_size=1024 * 1024,
        retries=5, max_in_flight_requests_per_connection=5,
    ))


class MqttBridge:
    """One MQTT session feeding one Kafka producer. :meth:`start`, then :meth:`stop` (drains)."""

    def __init__(self, options: BridgeOptions, producer: KafkaProducer,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.options = options
        self.producer = producer
        self.clock = clock
        self._connections = 0
        self._stopping = threading.Event()
        self._lost = threading.Event()  # a Kafka send failed: reconnect so the broker sends it again
        self._pending = 0
        self._acked = 0
        self._lock = threading.Lock()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=options.client_id, clean_session=False,
                             protocol=mqtt.MQTTv311, manual_ack=True)
        if options.username:
            client.username_pw_set(options.username, options.password)
        client.reconnect_delay_set(min_delay=int(options.reconnect_min_s), max_delay=int(options.reconnect_max_s))
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        for topic in options.frigate_topics:
            client.message_callback_add(topic, self._on_frigate)
        for pattern in options.sensor_patterns:
            client.message_callback_add(pattern.subscription, self._sensor_handler(pattern))
        self.client = client

    # -- connection -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (paho retries with backoff until the broker answers)."""
        self.client.connect_async(self.options.host, self.options.port, keepalive=self.options.keepalive_s)
        self.client.loop_start()

    def _subscriptions(self) -> list[tuple[str, int]]:
        return [(t, QOS) for t in self.options.frigate_topics] + [(p.subscription, QOS) for p in self.options.sensor_patterns]

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self._connections += 1
        if self._connections > 1:
            metrics.reconnects.inc()
        client.subscribe(self._subscriptions())

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.warning("MQTT broker refused %d subscription(s): %s", len(failed), failed[0])
        metrics.connected.set(1)  # connected and subscribed: messages flow from here

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        metrics.connected.set(0)
        if not self._stopping.is_set():
            log.warning("MQTT connection lost (%s); reconnecting with backoff", reason)

    @property
    def connections(self) -> int:
        return self._connections

    def connected(self) -> bool:
        return self.client.is_connected()

    def supervise(self) -> None:
        """Call now and then from the main thread: after a failed Kafka send, reconnect to MQTT so
        the broker redelivers what was not acknowledged."""
        if self._lost.is_set() and not self._stopping.is_set():
            self._lost.clear()
            self.producer.flush(timeout=30)
            self.client.reconnect()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Take no new messages, wait for Kafka to acknowledge those in flight (acknowledging them to
        MQTT), then disconnect. Messages not taken stay with the broker for the next session."""
        self._stopping.set()
        self.producer.flush(timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # let the network thread write the last PUBACKs
        self.client.disconnect()
        self.client.loop_stop()
        metrics.connected.set(0)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    # -- messages ---------------------------------------------------------------------------------
    def _on_frigate(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: the broker sends it again to the next session
        metrics.received.labels("frigate").inc()
        payload = bytes(message.payload)  # paho types it bytes | bytearray; it delivers bytes
        try:
            decision = bridge_frigate(payload, self.options.mapping, self.options.max_bytes)
        except Exception:  # a bug in deciding must not lose the message: the pipeline judges it
            log.exception("deciding a Frigate message failed; forwarding it as it came")
            decision = Forward(CAMERA, None, payload)
        self._deliver(message, decision)

    def _sensor_handler(self, pattern: SensorPattern) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        def on_sensor(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            if self._stopping.is_set():
                return
            metrics.received.labels("sensors").inc()
            payload = bytes(message.payload)
            try:
                decision = bridge_sensor(message.topic, payload, pattern, self.clock(), self.options.max_bytes)
            except Exception:
                log.exception("deciding a sensor message failed; forwarding it as it came")
                decision = Forward("sensors", None, payload)
            self._deliver(message, decision)
        return on_sensor

    def _deliver(self, message: mqtt.MQTTMessage, decision: Decision) -> None:
        topic, key, value, counter = self._record(message, decision)
        with self._lock:
            self._pending += 1
        metrics.unacked.inc()
        mid, qos = message.mid, message.qos
        headers = [("mqtt_topic", message.topic.encode())]
        try:
            future = self.producer.send(topic, key=key, value=value, headers=headers)
        except Exception:
            self._failed(None)
            return
        future.add_callback(lambda _md: self._done(mid, qos, counter))
        future.add_errback(self._failed)

    def _record(self, message: mqtt.MQTTMessage, decision: Decision) -> tuple[str, bytes | None, bytes, Callable[[], None]]:
        """(Kafka topic, key, value, the counter to move once Kafka has it)."""
        if isinstance(decision, Forward):
            topic = _INTAKE[decision.stream]
            return topic, decision.key, decision.value, metrics.forwarded.labels(topic).inc
        now = self.clock()
        payload = bytes(message.payload)
        origin = origin_of(message.topic, payload)
        if isinstance(decision, Filtered):
            body = envelope.filtered(decision.event_id, decision.reason, decision.summary, now)
            body["iocorigin"] = origin
            return topics.FILTERED, decision.event_id.encode(), json_bytes.dumps(body), metrics.filtered.labels(decision.reason).inc
        assert isinstance(decision, DeadLetter)
        body = envelope.deadletter(payload, decision.reason, decision.error, f"mqtt:{message.topic}", -1, -1, now,
                                   preview="")  # no preview: the payload may name people (sub_label)
        body["id"] = envelope.stable_id(origin, "deadletter")
        body["subject"] = origin
        body["iocorigin"] = origin
        return topics.DEADLETTER, None, json_bytes.dumps(body), metrics.deadletter.labels(decision.reason).inc

    def _done(self, mid: int, qos: int, counter: Callable[[], None]) -> None:
        counter()
        if qos > 0:
            self.client.ack(mid, qos)
        with self._lock:
            self._acked += 1
        self._settle()

    def acked_count(self) -> int:
        """MQTT messages acknowledged so far (each after Kafka acknowledged what it became)."""
        with self._lock:
            return self._acked

    def _failed(self, exc: BaseException | None) -> None:
        metrics.kafka_errors.inc()
        log.warning("Kafka send failed (%s); the MQTT message stays unacknowledged", type(exc).__name__ if exc else "send")
        self._lost.set()
        self._settle()

    def _settle(self) -> None:
        with self._lock:
            self._pending -= 1
        metrics.unacked.dec()


def run_bridge(settings: Settings, options: BridgeOptions, stop: threading.Event,
               on_ready: Callable[[MqttBridge], None] | None = None) -> MqttBridge:
    """Run until ``stop`` is set; the bridge is stopped (drained) on return."""
    producer = kafka_producer(settings)
    bridge = MqttBridge(options, producer)
    try:
        bridge.start()
        if on_ready is not None:
            on_ready(bridge)
        while not stop.wait(0.5):
            bridge.supervise()
    finally:
        bridge.stop()
        producer.close(timeout=10)
    return bridge
