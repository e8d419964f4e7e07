"""Topic names: the contract between ioc-router, the intake systems and the ward systems."""

from __future__ import annotations

REPORTS = "ioc.in.reports"
CAMERA = "ioc.in.camera"
SENSORS = "ioc.in.sensors"
INTAKE = (REPORTS, CAMERA, SENSORS)

UNROUTABLE = "ioc.unroutable"
DEADLETTER = "ioc.deadletter"
FILTERED = "ioc.filtered"  # valid camera messages that mean no incident (Frigate mapping), with the reason
CITY_IOC = "ioc.city-ioc"
ROUTED = "ioc.routed"  # internal: one copy of every routed event, keyed by ward, for the lifecycle
STATUS = "ioc.status"  # ward systems publish incident updates here
INCIDENTS = "ioc.incidents"  # compacted, keyed by incident id
ESCALATIONS = "ioc.escalations"
RESULTS = "ioc.out.results"
CONFIG_RULES = "ioc.config.rules"  # compacted, key "active"
CONFIG_SILENCES = "ioc.config.silences"  # compacted, keyed by silence id; every worker reads it whole
# Kafka header on an ioc.routed copy the lifecycle has nothing to do with (routine telemetry): it is
# acknowledged there without being decoded. The copy stays on ioc.routed: the hand-over record of
# every routed event (conservation checks read it).
LIFECYCLE_HEADER = "ioc-lifecycle"
LIFECYCLE_SKIP = b"skip"

COMPACTED = (INCIDENTS, CONFIG_RULES, CONFIG_SILENCES)
SINGLE_PARTITION = (CONFIG_RULES, CONFIG_SILENCES)  # read whole by every worker, in order

AGENCIES = (
    "fire", "flood-control", "traffic-police", "environment", "water-supply", "electricity",
    "urban-order", "health", "police",
)


def ward_topic(ward_code: str) -> str:
    return f"ioc.ward.{ward_code}"


def agency_topic(agency: str) -> str:
    return f"ioc.agency.{agency}"


def target_topic(target: str) -> str:
    """``ward:27139`` -> ``ioc.ward.27139``; ``agency:fire`` -> ``ioc.agency.fire``; ``city-ioc``."""
    if target == "city-ioc":
        return CITY_IOC
    kind, _, name = target.partition(":")
    if kind == "ward":
        return ward_topic(name)
    if kind == "agency":
        return agency_topic(name)
    raise ValueError(f"unknown target {target!r}")


def fixed_topics() -> list[str]:
    return [
        *INTAKE, UNROUTABLE, DEADLETTER, FILTERED, CITY_IOC, ROUTED, STATUS, INCIDENTS, ESCALATIONS, RESULTS, CONFIG_RULES,
        CONFIG_SILENCES,
        *(agency_topic(a) for a in AGENCIES),
    ]
