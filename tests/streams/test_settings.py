from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from streams.settings import DOCUMENTATION, Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_code_and_readme() -> None:
    readme = README.read_text("utf-8")
    for f in fields(Settings):
        assert f.name in DOCUMENTATION, f"settings field {f.name} has no documentation"
        assert f"`IOC_{f.name.upper()}`" in readme, f"README configuration table misses IOC_{f.name.upper()}"
        assert DOCUMENTATION[f.name] in readme, f"README text for IOC_{f.name.upper()} is out of date"


def test_environment_is_typed_and_embedded_defaults_follow() -> None:
    s = load_settings({"IOC_PARTITIONS": "8", "IOC_NEAREST_MAX_M": "150", "IOC_DATA_DIR": "/tmp/x"})
    assert s.partitions == 8 and s.nearest_max_m == 150.0 and s.data_dir == Path("/tmp/x")
    assert s.embedded_kafka and s.embedded_redis
    s = load_settings({"IOC_KAFKA_BOOTSTRAP": "k:9092", "IOC_REDIS_URL": "redis://r:6379/0"})
    assert not s.embedded_kafka and not s.embedded_redis


def test_config_file_and_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "ioc.toml"
    good.write_text('partitions = 6\ncity = "danang"\n')
    s = load_settings({"IOC_CONFIG": str(good), "IOC_CITY": "hanoi"})
    assert s.partitions == 6 and s.city == "hanoi"  # the environment wins
    bad = tmp_path / "bad.toml"
    bad.write_text("partitons = 6\n")
    with pytest.raises(ValueError, match="unknown settings \\['partitons'\\]"):
        load_settings({"IOC_CONFIG": str(bad)})


def test_bad_number_is_an_error() -> None:
    with pytest.raises(ValueError):
        load_settings({"IOC_PARTITIONS": "many"})


def test_legacy_status_topic_is_a_boolean() -> None:
    import pytest

    from streams.settings import SettingsError

    assert load_settings({}).legacy_status_topic is True
    assert load_settings({"IOC_LEGACY_STATUS_TOPIC": "false"}).legacy_status_topic is False
    assert load_settings({"IOC_LEGACY_STATUS_TOPIC": "On"}).legacy_status_topic is True
    with pytest.raises(SettingsError, match="bad_boolean"):
        load_settings({"IOC_LEGACY_STATUS_TOPIC": "maybe"})


def test_the_readme_table_is_the_generated_one() -> None:
    from streams.settings_doc import readme_table, settings_table

    assert readme_table(README.read_text("utf-8")) == settings_table(), \
        "README configuration table is out of date: run `python -m streams.settings_doc README.md`"


def _environment_reads(path: Path) -> list[str]:
    """``IOC_*`` names read from a mapping in ``path`` (``x["IOC_..."]``, ``x.get("IOC_...")``,
    ``getenv``) or by click (``envvar="IOC_..."``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "getenv", "pop") and node.args):
            key = node.args[0]
        elif isinstance(node, ast.keyword) and node.arg == "envvar":  # click reading it for an option
            key = node.value
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("IOC_"):
            found.append(f"{path.name}:{key.lineno} {key.value}")
    return found


def test_only_the_settings_read_ioc_variables() -> None:
    """Every IOC_* variable is a Settings field (in the table above), read by load_settings only."""
    repo = README.parent
    reads = [hit for package in ("routers", "streams", "dashboards", "cli")
             for path in sorted((repo / package).rglob("*.py")) if path.name != "settings.py"
             for hit in _environment_reads(path)]
    assert reads == []


def test_the_worker_role_and_dashboard_variables_are_settings(tmp_path: Path) -> None:
    s = load_settings({"IOC_WORKER_ROLE": "lifecycle", "IOC_WORKER_METRICS_URLS": "http://a/metrics",
                       "IOC_PROMETHEUS_WORKER_JOB": "", "IOC_DASHBOARD_NODE_MODULES": str(tmp_path)})
    assert (s.worker_role, s.worker_metrics_urls, s.prometheus_worker_job) == ("lifecycle", "http://a/metrics",
                                                                             "ioc-worker")
    assert s.dashboard_node_modules == tmp_path
    assert load_settings({}).worker_role == "all"
