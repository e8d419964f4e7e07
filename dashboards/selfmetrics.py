"""The dashboard's own metrics, on its ``/metrics`` (scraped as job ``ioc-dashboard``).

A registry of its own: the workers' catalogue (``streams.metrics``) is not exposed twice.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

feed_clients = Gauge(
    "ioc_dashboard_feed_clients", "Pages connected to the live feed (server-sent events).", registry=REGISTRY
)
feed_items = Counter(
    "ioc_dashboard_feed_items_total", "Items read from the ward topics into the live feed, by type (event|incident).",
    ["type"], registry=REGISTRY,
)
source_up = Gauge(
    "ioc_dashboard_metrics_source_up",
    "1 when the metrics source (Prometheus or the workers) answered the last query, else 0.", ["source"],
    registry=REGISTRY,
)

CATALOGUE = (feed_clients, feed_items, source_up)
