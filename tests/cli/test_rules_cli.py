"""``ioc rules test|show|apply|replay`` without a broker (the live paths are in tests/streams/rules_live)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from cli import main
from routers.rules import default_rules_text

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CASES = REPO / "routers" / "rules" / "default_cases.yaml"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    for name in ("IOC_KAFKA_BOOTSTRAP", "IOC_RULES_FILE", "IOC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(main, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def fire_event(tmp_path: Path) -> Path:
    path = tmp_path / "fire.json"
    path.write_bytes(orjson.dumps({"source": "report", "kind": "fire", "occurred_at": "2026-11-22T14:00:00+07:00",
                                   "location": {"ward": "27139", "province": "79"}}))
    return path


def test_test_json_is_the_documented_object(run, fire_event: Path) -> None:
    result = run("rules", "test", "--event", str(fire_event), "--json")
    assert result.exit_code == 0, result.output
    answer = orjson.loads(result.output)
    assert {k: answer[k] for k in ("targets", "priority", "sla", "matched", "suppressed", "group_key")} == {
        "targets": ["ward:27139", "agency:fire"], "priority": "P1", "sla": {"ack_s": 120, "resolve_s": 7200},
        "matched": ["fire-report"], "suppressed": False, "group_key": "fire-report|ward=27139|family=fire",
    }
    assert answer["rules_version"].startswith("2026-11-22.1+")


def test_test_human_output_shows_the_walk(run, fire_event: Path) -> None:
    result = run("rules", "test", "--event", str(fire_event))
    assert result.exit_code == 0
    assert "built-in default" in result.output
    assert "✓ fire-report: category in [fire]  <- delivers" in result.output
    assert "targets     ward:27139, agency:fire" in result.output


def test_test_reads_stdin_and_at_changes_time_windows(run) -> None:
    noise = '{"source": "report", "kind": "noise", "location": {"ward": "26734"}}'
    night = orjson.loads(run("rules", "test", "--event", "-", "--at", "2026-11-22T23:30", "--json", stdin=noise).output)
    day = orjson.loads(run("rules", "test", "--event", "-", "--at", "2026-11-22T10:00", "--json", stdin=noise).output)
    assert (night["matched"], day["matched"]) == (["noise-night"], ["noise-day"])


def test_test_with_a_rules_file(run, tmp_path: Path, fire_event: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(default_rules_text().replace("targets: [ward, agency:fire]\n          priority: P1",
                                                  "targets: [agency:fire]\n          priority: P1", 1))
    answer = orjson.loads(run("rules", "test", "--rules", str(rules), "--event", str(fire_event), "--json").output)
    assert answer["targets"] == ["agency:fire"]


def test_bad_event_file_is_a_clear_error(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"source": "report", "kind": "fire", "wardd": "1"}')
    result = run("rules", "test", "--event", str(bad))
    assert result.exit_code == 1 and "unknown event field(s) ['wardd']" in result.output


def test_cases_pass_for_the_default_cases(run) -> None:
    result = run("rules", "test", "--cases", str(DEFAULT_CASES), "--json")
    answer = orjson.loads(result.output)
    assert result.exit_code == 0 and answer["failed"] == 0 and answer["passed"] >= 8


def test_cases_mismatch_exits_1_and_says_what_differs(run, tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: wrong\n    event: {source: report, kind: fire, location: {ward: '27139'}}\n"
                     "    expect: {priority: P3, targets: [ward:27139]}\n")
    result = run("rules", "test", "--cases", str(cases))
    assert result.exit_code == 1
    assert "FAIL wrong" in result.output and "priority: expected P3, got P1" in result.output
    assert "targets: expected ['ward:27139'], got ['agency:fire', 'ward:27139']" in result.output


def test_event_or_cases_is_required(run) -> None:
    assert run("rules", "test").exit_code == 2


def test_invalid_rules_are_refused_with_line_and_column(run, tmp_path: Path, fire_event: Path) -> None:
    rules = tmp_path / "typo.yaml"
    rules.write_text(default_rules_text().replace("match: {category: fire}", "match: {categry: fire}"))
    result = run("rules", "test", "--rules", str(rules), "--event", str(fire_event))
    assert result.exit_code == 1
    assert f"{rules}:68:19: unknown field 'categry'" in result.output


def test_apply_refuses_invalid_before_needing_a_broker(run, tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    text = default_rules_text().replace('time: "22:00-06:00"', 'time: "22:00-6pm"')
    rules.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "22:00-6pm" in row)
    column = text.splitlines()[line - 1].index('"22:00-6pm"') + 1
    result = run("rules", "apply", str(rules), "--json")
    assert result.exit_code == 1
    problems = orjson.loads(result.stdout)["problems"]
    assert problems == [{"line": line, "column": column,
                         "message": "bad time window '22:00-6pm': '6pm' is not a time of day HH:MM (00:00-24:00)"}]


def test_apply_without_bootstrap_says_so(run, tmp_path: Path) -> None:
    rules = tmp_path / "ok.yaml"
    rules.write_text(default_rules_text())
    result = run("rules", "apply", str(rules))
    assert result.exit_code == 1 and "IOC_KAFKA_BOOTSTRAP is not set" in result.output


def test_show_json_and_schema(run) -> None:
    shown = orjson.loads(run("rules", "show", "--json").output)
    assert shown["routes"][0]["id"] == "root" and shown["origin"] == "built-in default"
    fire = next(r for r in shown["routes"] if r["id"] == "fire-report")
    assert fire["path"] == ["root", "reports", "fire-report"] and fire["priority"] == "P1"
    schema = orjson.loads(run("rules", "show", "--schema").output)
    assert schema["$schema"].endswith("2020-12/schema") and "route" in schema["properties"]


def test_replay_from_a_file_reports_changes_and_load_shift(run, tmp_path: Path) -> None:
    events = tmp_path / "rec.jsonl"
    lines = [{"id": f"w{i}", "source": "report", "kind": "waste", "location": {"ward": "27139", "province": "79"}}
             for i in range(3)]
    lines.append({"id": "f", "source": "report", "kind": "fire", "location": {"ward": "27139", "province": "79"}})
    lines.append({"id": "u", "source": "report", "kind": "fire"})  # no location: unplaced
    envelope = {"topic": "ioc.routed", "value": {"data": {
        "event": {"id": "env-1", "source": "report", "kind": "waste", "occurred_at": "2026-11-22T10:00:00Z"},
        "location": {"status": "resolved", "ward": {"code": "26734", "name": "", "province_code": "79"},
                     "candidates": [], "method": "point", "generation": "g", "source": "approximate"}}}}
    events.write_bytes(b"\n".join(orjson.dumps(line) for line in [*lines, envelope]) + b"\n")
    new = tmp_path / "new.yaml"
    new.write_text(default_rules_text().replace(
        "match: {category: waste}\n          targets: [ward, agency:environment]",
        "match: {category: waste}\n          targets: [ward]"))
    result = run("rules", "replay", "--rules", str(new), "--events", str(events), "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["events"] == 6 and report["unplaced"] == 1
    assert report["changed"] == {"any": 4, "targets": 4, "priority": 0, "suppression": 0}
    assert report["load_shift"] == {"agency:environment": {"before": 4, "after": 0, "delta": -4}}
    assert report["examples"][0]["event"]["id"] == "w0"
    human = run("rules", "replay", "--rules", str(new), "--events", str(events))
    assert "4 decisions differ: 4 change target" in human.output
    assert "agency:environment" in human.output


def test_replay_needs_one_input(run, tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(default_rules_text())
    assert run("rules", "replay", "--rules", str(new)).exit_code == 2
    assert run("rules", "replay", "--rules", str(new), "--topic", "x").exit_code == 2


def test_replay_counts_unusable_lines_and_goes_on(run, tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(default_rules_text())
    events = tmp_path / "rec.jsonl"
    events.write_text('{"source": "report", "kind": "fire", "location": {"ward": "27139"}}\nnot json\n'
                      '{"topic": "ioc.ward.27139", "value": {"no": "envelope"}}\n')
    result = run("rules", "replay", "--rules", str(new), "--events", str(events), "--json")
    report = orjson.loads(result.stdout)
    assert result.exit_code == 0 and report["events"] == 1 and report["skipped"] == 2
    assert report["first_skip"].startswith(f"{events}:2: not JSON")


def test_record_requires_a_bound(run, tmp_path: Path) -> None:
    result = run("record", "--topic", "ioc.routed", "--out", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2 and "--since" in result.output


@pytest.mark.slow
def test_replay_decodes_and_locates_raw_intake_lines(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw ``ioc.in.*`` lines go through the real decoder and locator (the built-in reference boundaries)."""
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("IOC_REDIS_URL", raising=False)
    fire = {"id": "r1", "category": "fire", "location": {"lat": 10.7769, "lon": 106.7009},
            "reported_at": "2026-11-22T10:00:00+07:00"}
    lines = [{"topic": topics_reports, "value": fire} for topics_reports in ["ioc.in.reports"]]
    lines.append({"topic": "ioc.in.reports", "value": {"id": "r2", "category": "fire"}})  # no location: dead-letter
    events = tmp_path / "raw.jsonl"
    events.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    new = tmp_path / "new.yaml"
    new.write_text(default_rules_text().replace("targets: [ward, agency:fire]\n          priority: P1",
                                                "targets: [agency:fire]\n          priority: P1", 1))
    result = run("rules", "replay", "--rules", str(new), "--events", str(events), "--json")
    report = orjson.loads(result.stdout)
    assert result.exit_code == 0 and report["events"] == 1 and report["deadletter"] == 1
    assert report["changed"]["targets"] == 1
    (ward_target,) = [name for name in report["load_shift"] if name.startswith("ward:")]
    assert report["load_shift"][ward_target] == {"before": 1, "after": 0, "delta": -1}

