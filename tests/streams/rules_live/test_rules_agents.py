"""The Faust wiring and the active-ruleset holder (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from yarl import URL

from routers.rules import default_rules_text, default_ruleset, load_ruleset
from streams import metrics
from streams.rules_live import active
from streams.rules_live.active import ActiveRules
from streams.rules_live.follow import RulesRecord, apply_latest, apply_record


def test_every_worker_follows_rules_with_an_app_task() -> None:
    from streams.app import app
    from streams.rules_live import agents

    assert agents.bootstrap_of([URL("kafka://10.0.0.1:9093"), URL("kafka://b")]) == "10.0.0.1:9093,b:9092"
    assert any("follow_rules" in repr(task) for task in app._app_tasks)


def test_initial_ruleset_is_the_rules_file_or_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOC_RULES_FILE", raising=False)
    assert active.initial_ruleset() is default_ruleset()
    path = tmp_path / "mine.yaml"
    path.write_text(default_rules_text().replace('"2026-11-22.1"', '"from-file"'))
    monkeypatch.setenv("IOC_RULES_FILE", str(path))
    assert active.initial_ruleset().declared_version == "from-file"


def record(offset: int, text: str | None, key: bytes = b"active") -> RulesRecord:
    return RulesRecord(offset, key, None if text is None else text.encode(), "tester")


def test_apply_switches_and_publishes_the_version_metric() -> None:
    rules = ActiveRules(default_ruleset())
    ruleset = apply_record(rules, record(1, default_rules_text().replace('"2026-11-22.1"', '"unit-1"')))
    assert ruleset is not None and rules.current() is ruleset
    assert metrics.REGISTRY.get_sample_value("ioc_rules_info", {"version": ruleset.version, "source": ruleset.source,
                                                                "applied_by": "tester"}) == 1.0


def test_invalid_tombstone_and_foreign_keys_leave_the_running_version() -> None:
    running = load_ruleset(default_rules_text().replace('"2026-11-22.1"', '"unit-2"'))
    rules = ActiveRules(default_ruleset())
    rules.switch(running, "tester")
    before = metrics.REGISTRY.get_sample_value("ioc_rules_rejected_total") or 0.0
    assert apply_record(rules, record(2, "version: x\nroute: {id: root}\n")) is None
    assert apply_record(rules, record(3, None)) is None  # tombstone: ignored, not counted
    assert apply_record(rules, record(4, default_rules_text(), key=b"other")) is None
    assert rules.current() is running
    assert metrics.REGISTRY.get_sample_value("ioc_rules_rejected_total") == before + 1


def test_catch_up_takes_the_newest_valid_version() -> None:
    old = default_rules_text().replace('"2026-11-22.1"', '"old"')
    new = default_rules_text().replace('"2026-11-22.1"', '"new"')
    rules = ActiveRules(default_ruleset())
    chosen = apply_latest(rules, [record(1, old), record(2, new), record(3, "broken: [")])
    assert chosen is not None and chosen.declared_version == "new"
    assert rules.current().declared_version == "new"
