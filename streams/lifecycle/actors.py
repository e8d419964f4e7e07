"""Actors' topics for the lifecycle: which status topics the worker reads, and escalations copied
to the agency and city topics they name (so that what is escalated to an actor reaches it).

Each actor writes its updates to its own topic (``routers.topics.status_topic_of``): the worker
subscribes, at start, to every ``ioc.status.*`` topic the broker has (``ioc topics create`` makes
one per ward, agency and the city IOC). A ward added later needs its topics created and a worker
restart. The shared ``ioc.status`` is read only while ``IOC_LEGACY_STATUS_TOPIC`` is on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from routers import topics
from routers.incidents import Outbound
from streams.settings import Settings

log = logging.getLogger(__name__)


def status_topic_names(existing: Iterable[str], legacy: bool) -> list[str]:
    """The status topics to read among ``existing`` topic names."""
    names = sorted(t for t in set(existing) if topics.actor_of_status_topic(t) is not None)
    return [topics.STATUS, *names] if legacy else names


def discover(settings: Settings) -> list[str]:
    """The status topics on the configured broker (the fixed ones if it cannot be listed)."""
    from kafka import KafkaAdminClient

    from streams import kafka_clients

    try:
        admin = KafkaAdminClient(**kafka_clients.kafka_python(settings, client_id="ioc-lifecycle-topics"))
        try:
            existing = admin.list_topics()
        finally:
            admin.close()
    except Exception as exc:  # the worker still starts; it reads the fixed actors' topics only
        log.warning("could not list the status topics (%s): reading the fixed ones only", exc)
        existing = topics.fixed_status_topics()
    return status_topic_names(existing, settings.legacy_status_topic)


def subscribe(settings: Settings) -> list[str]:
    """Point the lifecycle's status agent at every actor's topic; call before the worker starts."""
    from streams.lifecycle import agents

    names = discover(settings)
    agents.status_topic.topics = names
    return names


def escalation_copies(outbound: Iterable[Outbound]) -> list[tuple[str, bytes, Any]]:
    """(topic, key, envelope) for each agency or city-IOC target of each escalation: the same
    CloudEvent as on ``ioc.escalations`` (same id), on the topic the target reads."""
    copies: list[tuple[str, bytes, Any]] = []
    for out in outbound:
        if out.channel != "escalations":
            continue
        for target in out.value["data"]["targets"]:
            if target == "city-ioc" or target.startswith("agency:"):
                copies.append((topics.target_topic(target), out.key.encode(), out.value))
    return copies
