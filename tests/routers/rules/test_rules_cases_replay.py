"""Case tables (``ioc rules test --cases``) and what-if replay, as pure functions."""

from __future__ import annotations

from importlib import resources

import pytest

from routers.rules import default_rules_text, default_ruleset, load_ruleset
from routers.rules.cases import CaseError, location_from_json, parse_probe, run_cases
from routers.rules.replay import replay
from tests.routers.rules.rules_helpers import at_ward, report, sensor, unresolved


def test_shipped_default_cases_pass() -> None:
    text = resources.files("routers.rules").joinpath("default_cases.yaml").read_text(encoding="utf-8")
    results = run_cases(default_ruleset(), text)
    assert len(results) >= 8 and all(r.ok for r in results), [r.problems for r in results if not r.ok]


def test_a_wrong_expectation_is_reported_per_field() -> None:
    (result,) = run_cases(default_ruleset(), """
cases:
  - name: wrong on purpose
    event: {source: report, kind: fire, location: {ward: "27139"}}
    expect: {priority: P2, matched: [flooding-report], suppressed: quiet:x, sla: {ack_s: 1}}
""")
    assert not result.ok
    assert result.problems == [
        "priority: expected P2, got P1",
        "matched: expected ['flooding-report'], got ['fire-report']",
        "suppressed: expected 'quiet:x', got False",
        "sla.ack_s: expected 1, got 120",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("[]", "a case file is a mapping with a 'cases' list"),
    ("cases:\n  - {name: n, evnt: {}}", "n: unknown field(s) ['evnt']"),
    ("cases:\n  - {name: n, event: {source: radio, kind: x}}", "n, step 1: source must be report, camera or sensor"),
    ("cases:\n  - {name: n, event: {source: report, kind: fire}, expect: {prio: P1}}", "unknown expect field(s)"),
])
def test_unusable_case_files_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(CaseError) as caught:
        run_cases(default_ruleset(), text)
    assert message in str(caught.value)


def test_probe_forms() -> None:
    probe = parse_probe({"source": "sensor", "kind": "water_level", "value": 0.4, "device_id": "wl",
                         "location": {"status": "ambiguous", "candidates": ["27139", {"code": "27142"}]},
                         "context": {"sensor": {"open": ["water-level-flooding"]}}})
    assert probe.location.status == "ambiguous" and [c.code for c in probe.location.candidates] == ["27139", "27142"]
    assert probe.context.sensor is not None and probe.context.sensor.open == {"water-level-flooding"}
    assert location_from_json(None).status == "unresolved"
    with pytest.raises(CaseError, match="a resolved location needs a ward"):
        location_from_json({"status": "resolved"})


def test_replay_reports_target_priority_and_load_shift() -> None:
    current = default_ruleset()
    candidate = load_ruleset(default_rules_text().replace(
        "match: {category: waste}\n          targets: [ward, agency:environment]\n          priority: P4",
        "match: {category: waste}\n          targets: [ward]\n          priority: P3"))
    items = [(report("waste"), at_ward()), (report("waste"), at_ward("26734")), (report("fire"), at_ward()),
             (report("fire"), unresolved())]
    result = replay(current, candidate, items, examples=1)
    assert (result.total, result.unplaced, result.changed_targets, result.changed_priority) == (4, 1, 2, 2)
    assert result.load_shift() == {"agency:environment": (2, 0, -2)}
    assert len(result.examples) == 1 and result.examples[0].after.priority == "P3"
    assert result.to_json()["changed"] == {"any": 2, "targets": 2, "priority": 2, "suppression": 0}


def test_replay_threads_sensor_state_per_ruleset() -> None:
    stricter = load_ruleset(default_rules_text().replace("above: 0.3\n    clear: 0.2", "above: 0.4\n    clear: 0.2"))
    readings = [(sensor("water_level", v, device="wl-1"), at_ward()) for v in (0.1, 0.35, 0.25, 0.45, 0.1)]
    result = replay(default_ruleset(), stricter, readings)
    # current: opens at 0.35 and stays open at 0.25 and 0.45; stricter: opens only at 0.45
    assert result.changed_targets == 2 and result.load_shift()["agency:flood-control"] == (3, 1, -2)
    assert result.suppressed_after["normal_reading"] == 4 and result.suppressed_before["normal_reading"] == 2
