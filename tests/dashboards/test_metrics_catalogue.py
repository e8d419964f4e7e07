"""docs/metrics.md is generated from the metric objects and must match them; names follow the
Prometheus conventions the catalogue promises."""

from __future__ import annotations

from pathlib import Path

from dashboards import selfmetrics
from dashboards.catalogue import _kind, _name, render
from streams import metrics
from streams.bridge import metrics as bridge_metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
FORBIDDEN_LABELS = {"id", "event_id", "incident_id", "incident", "event", "device_id", "reporter", "phone"}


def test_docs_metrics_md_is_in_sync() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/metrics.md is out of date: run `python -m dashboards.catalogue > docs/metrics.md`"
    )


def test_every_metric_is_documented_once() -> None:
    text = render()
    for metric in (*metrics.CATALOGUE, *bridge_metrics.CATALOGUE, *selfmetrics.CATALOGUE):
        assert text.count(f"| `{_name(metric)}` |") == 1


def test_names_follow_prometheus_conventions() -> None:
    for metric in (*metrics.CATALOGUE, *bridge_metrics.CATALOGUE, *selfmetrics.CATALOGUE):
        name = _name(metric)
        assert name.startswith("ioc_"), name
        assert (_kind(metric) == "counter") == name.endswith("_total"), name
        if _kind(metric) == "histogram":
            assert name.endswith("_seconds"), name
        assert not set(metric._labelnames) & FORBIDDEN_LABELS, f"{name}: unbounded label"
        assert len(metric._labelnames) <= 2, f"{name}: more than ward x category"
