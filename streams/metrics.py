"""The metrics catalogue: every Prometheus metric ioc-router exposes, defined once.

Conventions: ``ioc_`` prefix, ``_total`` for counters, ``_seconds`` for durations, base units.
Label cardinality is bounded: at most ward code x category; never event or incident ids.
``docs/metrics.md`` is generated from :data:`CATALOGUE` by ``python -m dashboards.catalogue`` (checked by
``tests/dashboards/test_metrics_catalogue.py``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_HUMAN_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)

ingested = Counter("ioc_ingested_total", "Intake messages consumed, by source.", ["source"], registry=REGISTRY)
routed = Counter(
    "ioc_routed_total", "Events routed to a ward, by ward code and category.", ["ward", "category"], registry=REGISTRY
)
published = Counter(
    "ioc_published_total", "Messages published to output topics, by target kind.", ["target_kind"], registry=REGISTRY
)
unroutable = Counter(
    "ioc_unroutable_total", "Valid events that could not be placed, by reason.", ["reason"], registry=REGISTRY
)
deadletter = Counter(
    "ioc_deadletter_total", "Invalid messages sent to dead-letter, by reason and source.", ["reason", "source"],
    registry=REGISTRY,
)
filtered = Counter(
    "ioc_filtered_total", "Valid camera messages that map to no IOC label (Frigate mapping), by reason and source; "
    "written to ioc.filtered, not dead-lettered.", ["reason", "source"], registry=REGISTRY,
)
suppressed = Counter(
    "ioc_suppressed_total", "Routed events held back by quiet windows, inhibition, silences (reason silenced) or muted routes, by reason.", ["reason"],
    registry=REGISTRY,
)
corrections = Counter(
    "ioc_corrections_total", "Input repaired on the way in (e.g. swapped_lat_lon), by kind.", ["kind"], registry=REGISTRY
)
routing_latency = Histogram(
    "ioc_routing_latency_seconds", "From the intake message's broker timestamp to its output being published.",
    buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
rule_hits = Counter("ioc_rule_hits_total", "Route tree nodes that matched, by rule id.", ["rule"], registry=REGISTRY)
consumer_lag = Gauge(
    "ioc_consumer_lag_messages", "Messages not yet consumed on an intake topic (sum over its partitions).", ["topic"],
    registry=REGISTRY,
)
assigned_partitions = Gauge(
    "ioc_assigned_partitions", "Partitions this worker's consumer group assigned to it, by topic (0 during a rebalance).",
    ["topic"], registry=REGISTRY,
)
open_incidents = Gauge(
    "ioc_open_incidents", "Incidents not yet resolved, by ward and priority.", ["ward", "priority"], registry=REGISTRY
)
time_to_acknowledge = Histogram(
    "ioc_time_to_acknowledge_seconds", "From an incident being routed to its first acknowledgement.", ["priority"],
    buckets=_HUMAN_BUCKETS, registry=REGISTRY,
)
time_to_resolve = Histogram(
    "ioc_time_to_resolve_seconds", "From an incident being routed to its resolution.", ["priority"],
    buckets=_HUMAN_BUCKETS, registry=REGISTRY,
)
sla_breaches = Counter(
    "ioc_sla_breaches_total", "SLA deadlines missed, by kind (ack|resolve) and priority.", ["kind", "priority"],
    registry=REGISTRY,
)
escalations = Counter(
    "ioc_escalations_total", "Escalations published, by level (agency|city_ioc).", ["level"], registry=REGISTRY
)
status_updates = Counter(
    "ioc_status_updates_total", "Status updates from ward systems applied, by new status.", ["status"],
    registry=REGISTRY,
)
lifecycle_inputs = Counter(
    "ioc_lifecycle_inputs_total", "Messages the incident lifecycle took, by kind (routed, update, tick, housekeep, "
    "handoff, malformed, skipped: routine telemetry the pipeline marked; forwarded: also counted when sent on to "
    "the owner ward's partition).", ["kind"], registry=REGISTRY,
)
status_apply_latency = Histogram(
    "ioc_status_apply_latency_seconds", "From a ward's status update reaching the broker (its timestamp) to the "
    "incident changed by it being handed to the producer.", buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
rules_info = Info("ioc_rules", "The ruleset version this worker routes with.", registry=REGISTRY)
rules_rejected = Counter(
    "ioc_rules_rejected_total", "Rules versions on ioc.config.rules refused as invalid (the running version stays).",
    registry=REGISTRY,
)
silenced = Counter(
    "ioc_silenced_total", "Routed events held back by a silence (ioc silence add), by source.", ["source"],
    registry=REGISTRY,
)
silences_active = Gauge(
    "ioc_silences_active", "Silences this worker applies now (active; pending ones not counted).", registry=REGISTRY,
)
silences_rejected = Counter(
    "ioc_silences_rejected_total", "Records on ioc.config.silences refused as not a valid silence.", registry=REGISTRY,
)
boundary_info = Info("ioc_boundary_generation", "The active boundary generation and its source.", registry=REGISTRY)
build_info = Info("ioc_build", "ioc-router build information.", registry=REGISTRY)
api_requests = Counter(
    "ioc_api_requests_total", "Open311 API requests answered, by operation and HTTP status.", ["operation", "status"],
    registry=REGISTRY,
)
api_request_seconds = Histogram(
    "ioc_api_request_seconds", "Open311 API answer time, by operation (a POST waits for the broker's ack).",
    ["operation"], buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
api_reports = Counter(
    "ioc_api_reports_total", "Reports accepted over the Open311 API and produced to ioc.in.reports, by client.",
    ["client"], registry=REGISTRY,
)
api_rejected = Counter(
    "ioc_api_rejected_total", "Open311 API requests refused, by GeoReport error code.", ["code"], registry=REGISTRY
)
api_tracked = Counter(
    "ioc_api_tracked_total", "Open311 requests whose pipeline outcome was recorded, by state (routed|unroutable|deadletter).",
    ["state"], registry=REGISTRY,
)
portal_attempts = Counter(
    "ioc_portal_attempts_total", "Result deliveries tried on the portal, by result (delivered|retry|rejected|error).",
    ["result"], registry=REGISTRY,
)
portal_deliveries = Counter(
    "ioc_portal_deliveries_total", "Results the portal accepted or that were given up on, by outcome (delivered|deadletter).",
    ["outcome"], registry=REGISTRY,
)
portal_delivery_seconds = Histogram(
    "ioc_portal_delivery_seconds", "From a result's CloudEvents time to the portal accepting it.",
    buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
malloc_trims = Histogram(
    "ioc_malloc_trim_seconds", "How long each periodic malloc_trim(0) of the worker took (glibc; a thread off the "
    "event loop).", buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
malloc_trim_released = Counter(
    "ioc_malloc_trim_released_bytes_total", "Resident memory the periodic malloc_trim(0) handed back to the kernel "
    "(RSS before minus after each trim).", registry=REGISTRY,
)

CATALOGUE = (
    ingested, routed, published, unroutable, deadletter, filtered, suppressed, corrections, routing_latency, rule_hits,
    consumer_lag, assigned_partitions, open_incidents, time_to_acknowledge, time_to_resolve, sla_breaches, escalations, status_updates,
    lifecycle_inputs, status_apply_latency, rules_info, rules_rejected, boundary_info, build_info,
    silenced, silences_active, silences_rejected,
    api_requests, api_request_seconds, api_reports, api_rejected, api_tracked,
    portal_attempts, portal_deliveries, portal_delivery_seconds,
    malloc_trims, malloc_trim_released,
)
