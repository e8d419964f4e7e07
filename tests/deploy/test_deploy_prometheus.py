"""deploy/prometheus: promtool checks (when installed), and every alert is tested and reads real metrics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql_names import PROMETHEUS_SERIES, exposed_names, metric_names

PROMETHEUS = Path(__file__).resolve().parent.parent.parent / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
# What the deployment issue asks alerts for, by the metric each must read.
REQUIRED = {
    "ioc_sla_breaches_total": "SLA breach rate",
    "ioc_deadletter_total": "dead-letter spike",
    "ioc_unroutable_total": "unroutable ratio",
    "ioc_consumer_lag_messages": "consumer lag",
    "up": "worker down",
}
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not on PATH (Debian: apt-get install prometheus; CI installs it): promtool checks skipped",
)


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_check_config() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    result = _promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_unit_tests_fail_when_an_alert_is_broken(tmp_path: Path) -> None:
    """Lower one threshold: the unit tests must notice, or they assert nothing."""
    text = ALERTS.read_text(encoding="utf-8").replace("> 5000", "> 50000")
    assert text != ALERTS.read_text(encoding="utf-8")
    (tmp_path / "alerts.yml").write_text(text, encoding="utf-8")
    shutil.copy(ALERT_TESTS, tmp_path / "alerts.test.yml")
    result = _promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "IocConsumerLagHigh" in result.stdout + result.stderr


def test_every_alert_is_exercised_by_a_firing_and_a_quiet_case() -> None:
    cases = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _rules()}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - quiet == set(), "alerts never shown to stay quiet"


def test_alerts_cover_what_the_issue_asks_for() -> None:
    read = {name for rule in _rules() for name in metric_names(rule["expr"])}
    missing = {what for metric, what in REQUIRED.items() if metric not in read}
    assert not missing


def test_alerts_read_only_metrics_that_exist() -> None:
    known = exposed_names() | PROMETHEUS_SERIES
    for rule in _rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule['alert']} reads {sorted(unknown)}, not in streams/metrics.py"


def test_every_alert_has_severity_summary_and_runbook() -> None:
    for rule in _rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["annotations"]["runbook"].startswith("docs/deploy.md#"), rule["alert"]


def test_worker_alerts_use_the_job_name_of_both_deployments() -> None:
    """Compose's scrape job and the k8s Service (the ServiceMonitor job label) are both ioc-worker."""
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert "ioc-worker" in {job["job_name"] for job in scrape["scrape_configs"]}
    for rule in _rules():
        if "up" in metric_names(rule["expr"]):
            assert 'job="ioc-worker"' in rule["expr"], rule["alert"]


def test_every_paging_alert_has_an_absent_then_one_case() -> None:
    """A paging (critical) alert must be shown to fire when its series is absent and then appears
    (issue 16: the first P1 breach after a worker start did not page)."""
    cases = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    paging = {rule["alert"] for rule in _rules() if rule["labels"].get("severity") == "critical"}
    covered: set[str] = set()
    for case in cases:
        starts_absent = any(series["values"].split()[0] == "_" for series in case["input_series"])
        if case["name"].startswith("absent then one") and starts_absent:
            covered |= {check["alertname"] for check in case["alert_rule_test"] if check.get("exp_alerts")}
    assert paging and paging - covered == set(), f"paging alerts without an absent-then-one case: {paging - covered}"


@needs_promtool
def test_absent_then_one_fails_without_the_new_series_arm(tmp_path: Path) -> None:
    """``increase()`` alone misses a series that first appears at 1: the unit tests must say so."""
    text = ALERTS.read_text(encoding="utf-8")
    start = text.index('          or\n          sum by (kind) (\n            ioc_sla_breaches_total{priority="P1"}')
    end = text.index("          ) > 0\n", start) + len("          ) > 0\n")
    (tmp_path / "alerts.yml").write_text(text[:start] + text[end:], encoding="utf-8")
    shutil.copy(ALERT_TESTS, tmp_path / "alerts.test.yml")
    result = _promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "absent then one - a series whose first sample is already 1" in result.stdout + result.stderr
