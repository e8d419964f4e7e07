"""The chaos run's diagnosis of a lost message works against the real embedded broker."""

from __future__ import annotations

import orjson
import pytest
from kafka import KafkaProducer

from benchmarks.chaos import diagnose
from routers import topics

pytestmark = pytest.mark.integration


def test_diagnose_names_the_event_and_the_groups_committed_offset(kafka_bootstrap: str, topics_ready) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    report = {"id": "diag-1", "channel": "hotline", "category": "flooding", "location": {"lat": 10.78, "lon": 106.69},
              "reported_at": "2026-06-01T18:00:00+07:00"}
    sent = producer.send(topics.REPORTS, key=b"diag-1", value=orjson.dumps(report)).get(timeout=10)
    producer.close()
    origin = f"{topics.REPORTS}/{sent.partition}/{sent.offset}"
    lines = diagnose(kafka_bootstrap, "ioc-chaos-nobody", [origin])
    assert f"{origin}: event diag-1, committed offset of the group there: None" in lines
