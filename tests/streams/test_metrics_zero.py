"""Labelled counters with known label values are exposed at 0 from worker start (issue 16)."""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from streams import metrics, metrics_zero


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def test_a_fresh_counter_child_has_no_series_until_labels_is_called() -> None:
    """Why the initialisation is needed: prometheus-client exposes nothing for an unused child."""
    registry = CollectorRegistry()
    counter = Counter("demo_breaches_total", "demo", ["priority"], registry=registry)
    from prometheus_client import generate_latest

    assert b'priority="P1"' not in generate_latest(registry)
    counter.labels("P1")
    assert b'demo_breaches_total{priority="P1"} 0.0' in generate_latest(registry)


def test_start_at_zero_creates_every_known_child() -> None:
    from prometheus_client import generate_latest

    metrics_zero.start_at_zero()
    samples = _samples(generate_latest(metrics.REGISTRY).decode())
    for kind in ("ack", "resolve"):
        for priority in ("P1", "P2", "P3", "P4"):
            assert ("ioc_sla_breaches_total", frozenset({("kind", kind), ("priority", priority)})) in samples
    assert ("ioc_escalations_total", frozenset({("level", "city_ioc")})) in samples
    assert ("ioc_deadletter_total", frozenset({("reason", "not_permitted"), ("source", "status")})) in samples
    assert ("ioc_status_updates_total", frozenset({("status", "acknowledged")})) in samples


def test_a_real_worker_exposes_p1_breaches_at_zero_before_any_breach(pipeline_worker: str) -> None:
    with urllib.request.urlopen(pipeline_worker, timeout=10) as response:
        samples = _samples(response.read().decode())
    for kind in ("ack", "resolve"):
        key = ("ioc_sla_breaches_total", frozenset({("kind", kind), ("priority", "P1")}))
        assert key in samples, f"no {key} series on a fresh worker"
