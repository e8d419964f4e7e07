"""Create the topics on a broker (idempotent): intake, outputs, and per ward its topic and its status topic."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from routers import topics
from streams import kafka_clients
from streams.settings import Settings

_BATCH = 200


def create_topics(settings: Settings, ward_codes: Iterable[str] = (), ward_partitions: int = 1,
                  status_codes: Iterable[str] | None = None) -> list[str]:
    """Create what is missing; return the names created. Ward topics get ``ward_partitions``
    partitions: one ward's traffic is small and per-ward ordering is what ward systems expect.

    ``status_codes``: the wards that get their status topic ``ioc.status.<code>`` (default: every
    one of ``ward_codes``). The lifecycle reads every status topic there is, so `ioc up` creates
    them for its city only, not for 3,321 wards nationwide."""
    admin = KafkaAdminClient(**kafka_clients.kafka_python(settings, client_id="ioc-admin"))
    try:
        existing = set(admin.list_topics())
        wanted: list[NewTopic] = []
        for name in topics.fixed_topics(settings.legacy_status_topic):
            if name in existing:
                continue
            configs = {"cleanup.policy": "compact"} if name in topics.COMPACTED else {}
            # one actor's updates stay in order on one partition (like ward topics)
            single = name in topics.SINGLE_PARTITION or topics.actor_of_status_topic(name) is not None
            wanted.append(NewTopic(name, 1 if single else settings.partitions, 1, topic_configs=configs))
        ward_codes = list(ward_codes)
        names = [topics.ward_topic(code) for code in ward_codes]
        names += [topics.ward_status_topic(code) for code in (ward_codes if status_codes is None else status_codes)]
        wanted.extend(NewTopic(name, ward_partitions, 1) for name in names if name not in existing)
        created: list[str] = []
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            # another process creating them at the same moment is fine: that is the goal
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(batch)
            created.extend(t.name for t in batch)
        return created
    finally:
        admin.close()
