"""The MQTT bridge's own metrics (``ioc bridge mqtt``, on its ``/metrics``); in ``docs/metrics.md``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

received = Counter("ioc_bridge_received_total", "MQTT messages received, by stream (frigate|sensors).", ["stream"],
                   registry=REGISTRY)
forwarded = Counter(
    "ioc_bridge_forwarded_total", "Messages Kafka acknowledged on an intake topic (then acknowledged to MQTT), by topic.",
    ["topic"], registry=REGISTRY,
)
filtered = Counter(
    "ioc_bridge_filtered_total", "Valid Frigate messages the mapping maps to no IOC label, by reason; written to "
    "ioc.filtered, never to the pipeline or dead-letter.", ["reason"], registry=REGISTRY,
)
deadletter = Counter(
    "ioc_bridge_deadletter_total", "MQTT messages the bridge dead-lettered itself (too large for Kafka), by reason.",
    ["reason"], registry=REGISTRY,
)
reconnects = Counter("ioc_bridge_reconnects_total", "MQTT connections made again after a loss.", registry=REGISTRY)
kafka_errors = Counter(
    "ioc_bridge_kafka_errors_total", "Kafka sends that failed; the MQTT message stays unacknowledged and comes again.",
    registry=REGISTRY,
)
unacked = Gauge("ioc_bridge_unacked_messages", "MQTT messages received and not yet acknowledged (waiting for Kafka).",
                registry=REGISTRY)
connected = Gauge("ioc_bridge_connected", "1 while connected to the MQTT broker and subscribed.", registry=REGISTRY)

CATALOGUE = (received, forwarded, filtered, deadletter, reconnects, kafka_errors, unacked, connected)
