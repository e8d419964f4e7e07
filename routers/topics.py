"""Topic names: the contract between ioc-router, the intake systems and the ward systems.

The one place that knows them: the pure router (:func:`routers.route.route_batch`) names the topic of
each message it decides on, the decoder picks a decoder by intake topic, the streams layer declares
and reads the same names from here.
"""

from __future__ import annotations

REPORTS = "ioc.in.reports"
CAMERA = "ioc.in.camera"
SENSORS = "ioc.in.sensors"
INTAKE = (REPORTS, CAMERA, SENSORS)
# What each intake topic carries: the decoder's kind and the event source (the metrics' ``source`` label)
INTAKE_KIND = {REPORTS: "reports", CAMERA: "camera", SENSORS: "sensors"}
SOURCE_OF_TOPIC = {REPORTS: "report", CAMERA: "camera", SENSORS: "sensor"}

UNROUTABLE = "ioc.unroutable"
DEADLETTER = "ioc.deadletter"
FILTERED = "ioc.filtered"  # valid camera messages that mean no incident (Frigate mapping), with the reason
CITY_IOC = "ioc.city-ioc"
ROUTED = "ioc.routed"  # internal: one copy of every routed event, keyed by ward, for the lifecycle
STATUS = "ioc.status"  # deprecated shared status topic (IOC_LEGACY_STATUS_TOPIC); one per actor below
STATUS_PREFIX = "ioc.status."  # ioc.status.<ward>, ioc.status.agency.<name>, ioc.status.city-ioc
CITY_IOC_STATUS = "ioc.status.city-ioc"
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
LIFECYCLE_SKIP_HEADER = (LIFECYCLE_HEADER, LIFECYCLE_SKIP)  # as a (name, value) header pair

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


def ward_status_topic(ward_code: str) -> str:
    return f"{STATUS_PREFIX}{ward_code}"


def agency_status_topic(agency: str) -> str:
    return f"{STATUS_PREFIX}agency.{agency}"


def status_topic_of(actor: str) -> str:
    """The topic an actor writes its incident updates to: ``ward:27139`` -> ``ioc.status.27139``,
    ``agency:fire`` -> ``ioc.status.agency.fire``, ``city-ioc`` -> ``ioc.status.city-ioc``."""
    if actor == "city-ioc":
        return CITY_IOC_STATUS
    kind, _, name = actor.partition(":")
    if kind == "ward" and name:
        return ward_status_topic(name)
    if kind == "agency" and name:
        return agency_status_topic(name)
    raise ValueError(f"unknown actor {actor!r}")


def actor_of_status_topic(topic: str) -> str | None:
    """Who writes ``topic`` (the inverse of :func:`status_topic_of`); ``None`` for the shared,
    deprecated ``ioc.status`` (its updates name their ward in a field) and for other topics."""
    if not topic.startswith(STATUS_PREFIX):
        return None
    rest = topic[len(STATUS_PREFIX):]
    if rest == "city-ioc":
        return "city-ioc"
    if rest.startswith("agency.") and len(rest) > len("agency."):
        return f"agency:{rest[len('agency.'):]}"
    if rest.isdigit() and len(rest) == 5:
        return f"ward:{rest}"
    return None


def is_status_topic(topic: str) -> bool:
    return topic == STATUS or actor_of_status_topic(topic) is not None


def fixed_status_topics() -> list[str]:
    """The actor status topics that do not depend on the ward list."""
    return [CITY_IOC_STATUS, *(agency_status_topic(a) for a in AGENCIES)]


def fixed_topics(legacy_status: bool = True) -> list[str]:
    """Every topic but the per-ward ones; ``legacy_status``: include the deprecated ``ioc.status``."""
    return [
        *INTAKE, UNROUTABLE, DEADLETTER, FILTERED, CITY_IOC, ROUTED, *((STATUS,) if legacy_status else ()),
        INCIDENTS, ESCALATIONS, RESULTS, CONFIG_RULES, CONFIG_SILENCES, *(agency_topic(a) for a in AGENCIES),
        *fixed_status_topics(),
    ]
