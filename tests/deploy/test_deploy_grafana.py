"""dashboards/grafana: importable JSON with a datasource variable and a ward variable, and PromQL that
reads only catalogued metrics (and parses, checked by promtool when installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql_names import (
    PROMETHEUS_SERIES,
    exposed_names,
    grafana_to_promql,
    label_values_metric,
    metric_names,
)

REPO = Path(__file__).resolve().parent.parent.parent
DASHBOARDS = sorted((REPO / "dashboards" / "grafana").glob("*.json"))
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return panels


def _exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in _panels(dashboard) for target in panel.get("targets", [])]


def _variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def test_there_is_an_overview_and_a_ward_dashboard() -> None:
    assert {p.name for p in DASHBOARDS} >= {"ioc-overview.json", "ioc-ward.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_importable(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    assert "id" not in dashboard or dashboard["id"] is None, "a fixed id breaks import into another Grafana"
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels(dashboard):
        position = panel["gridPos"]
        assert position["x"] >= 0 and position["x"] + position["w"] <= 24, panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_uses_the_datasource_and_ward_variables(path: Path) -> None:
    dashboard = _load(path)
    variables = _variables(dashboard)
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ward = variables["ward"]
    assert ward["type"] == "query" and ward["datasource"] == DATASOURCE
    query = ward["query"]["query"] if isinstance(ward["query"], dict) else ward["query"]
    assert label_values_metric(query) == ("ioc_routed_total", "ward")
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    assert any("$ward" in expr for _, expr in _exprs(dashboard)), "the ward variable filters nothing"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_reads_catalogued_metrics(path: Path) -> None:
    known = exposed_names() | PROMETHEUS_SERIES
    exprs = _exprs(_load(path))
    assert exprs
    for title, expr in exprs:
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= known, f"{title}: {sorted(names - known)} not in streams/metrics.py"


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool not on PATH (Debian: apt-get install prometheus): PromQL syntax not checked")
def test_every_query_parses(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule; Grafana variables are substituted first."""
    rules = [{"record": f"check:{path.stem.replace('-', '_')}:{i}", "expr": grafana_to_promql(expr)}
             for path in DASHBOARDS for i, (_, expr) in enumerate(_exprs(_load(path)))]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}),
                                        encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (source) (rate(ioc_ingested_total{source="camera"}[$__rate_interval]))', {"ioc_ingested_total"}),
    ("histogram_quantile(0.9, sum by (le, priority) (rate(ioc_time_to_resolve_seconds_bucket[1h])))",
     {"ioc_time_to_resolve_seconds_bucket"}),
    ('sum(rate(a_total[5m])) / (sum(rate(b_total{ward=~"$ward"}[5m])) or vector(0)) > 0.02', {"a_total", "b_total"}),
    ('absent(up{job="ioc-worker"} == 1) and on (instance) ioc_build_info', {"up", "ioc_build_info"}),
    ("topk(10, sum without (instance) (increase(ioc_rule_hits_total[1h] offset 1d)))", {"ioc_rule_hits_total"}),
    ('ioc_rules_info{version="by (x)"}', {"ioc_rules_info"}),
])
def test_metric_name_reader(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_label_values_reader_rejects_other_queries() -> None:
    with pytest.raises(ValueError, match="not a label_values"):
        label_values_metric("query_result(ioc_routed_total)")


def test_grafana_provisioning_points_at_these_dashboards() -> None:
    provider = yaml.safe_load((REPO / "deploy" / "grafana" / "provisioning" / "dashboards" / "ioc-router.yml")
                              .read_text(encoding="utf-8"))
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("."))
    path = provider["providers"][0]["options"]["path"]
    assert mounts["../dashboards/grafana"] == path
    datasources = yaml.safe_load((REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
                                 .read_text(encoding="utf-8"))
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
