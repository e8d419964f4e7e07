"""Hysteresis state, quiet windows and inhibition: pure state in, decision + changes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routers.rules import (
    Inhibitor,
    InhibitorBoard,
    RuleContext,
    SensorState,
    evaluate,
    evaluate_with_state,
    load_ruleset,
)
from tests.routers.rules.rules_helpers import NOON_UTC, at_ward, camera, report, sensor

RULES = load_ruleset("""
version: state-test
agencies: [flood-control]
thresholds:
  - {id: wl, sensor_kind: water_level, above: 0.5, clear: 0.4}
  - {id: wl-high, sensor_kind: water_level, above: 1.0, clear: 0.9}
  - {id: dry, sensor_kind: water_level, below: 0.05, clear: 0.1}
route:
  id: root
  targets: [ward]
  priority: P4
  sla: {acknowledge: 1h, resolve: 1d}
  routes:
    - id: sensors
      match: {source: sensor}
      group_by: [device, threshold]
      routes:
        - {id: high, match: {threshold: wl-high}, priority: P1, targets: [ward, agency:flood-control]}
        - {id: wet, match: {threshold: wl}, priority: P2}
        - {id: dry, match: {threshold: dry}, priority: P4}
        - {id: normal, suppress: normal_reading}
    - id: flood-report
      match: {category: flooding}
      priority: P2
quiet_windows:
  - id: cam-7-maintenance
    match: {device: cam-7}
    from: 2026-11-23T08:00
    until: 2026-11-23T17:00
  - id: nightly-water-cut
    match: {category: water_supply, ward: ["26734"], time: "23:00-05:00"}
inhibit_rules:
  - id: flood-alert
    source: {sensor_kind: water_level, threshold: wl-high}
    target: {category: flooding}
    scope: province
    hold: 2h
""", "state.yaml")


def run(values: list[float], state: SensorState | None = None) -> tuple[list[str], SensorState | None]:
    matched = []
    for value in values:
        outcome = evaluate_with_state(RULES, sensor("water_level", value), at_ward(), context=RuleContext(state))
        if outcome.changes.sensor is not None:
            state = outcome.changes.sensor
        matched.append(outcome.decision.matched[0])
    return matched, state


def test_rising_threshold_opens_at_level_and_clears_below_clear() -> None:
    matched, state = run([0.3, 0.5, 0.45, 0.41, 0.39, 0.45, 0.5])
    assert matched == ["normal", "wet", "wet", "wet", "normal", "normal", "wet"]
    assert state == SensorState(frozenset({"wl"}))


def test_falling_threshold() -> None:
    matched, _ = run([0.2, 0.04, 0.08, 0.11, 0.07])
    assert matched == ["normal", "dry", "dry", "normal", "normal"]


def test_state_change_is_reported_only_on_transitions() -> None:
    first = evaluate_with_state(RULES, sensor("water_level", 0.6), at_ward())
    assert first.changes.opened == ("wl",) and first.changes.sensor == SensorState(frozenset({"wl"}))
    same = evaluate_with_state(RULES, sensor("water_level", 0.6), at_ward(), context=RuleContext(first.changes.sensor))
    assert same.changes.sensor is None and same.changes.empty
    cleared = evaluate_with_state(RULES, sensor("water_level", 0.1), at_ward(), context=RuleContext(first.changes.sensor))
    assert cleared.changes.cleared == ("wl",) and cleared.changes.sensor == SensorState(frozenset())
    assert "threshold wl cleared at value 0.1" in cleared.decision.trace


def test_unknown_threshold_ids_in_stored_state_are_kept_for_other_versions() -> None:
    stored = SensorState(frozenset({"from-another-version"}))
    outcome = evaluate_with_state(RULES, sensor("water_level", 0.6), at_ward(), context=RuleContext(stored))
    assert outcome.changes.sensor == SensorState(frozenset({"from-another-version", "wl"}))


def test_reading_without_value_keeps_state() -> None:
    stored = SensorState(frozenset({"wl"}))
    outcome = evaluate_with_state(RULES, sensor("water_level", None), at_ward(), context=RuleContext(stored))
    assert outcome.decision.matched == ("wet",) and outcome.changes.sensor is None


def test_sensor_state_json_round_trip() -> None:
    state = SensorState(frozenset({"a", "b"}))
    assert SensorState.from_json(state.to_json()) == state and SensorState.from_json(None) == SensorState()


def test_suppressed_by_route_only_when_every_match_suppresses() -> None:
    decision = evaluate(RULES, sensor("water_level", 0.2), at_ward())
    assert decision.suppressed == "normal_reading" and decision.targets == ("ward:27139",)


def test_absolute_quiet_window_keeps_targets_and_names_itself() -> None:
    during = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 local
    decision = evaluate(RULES, camera("flooding", device="cam-7", when=during), at_ward())
    assert decision.suppressed == "quiet:cam-7-maintenance" and decision.targets == ("ward:27139",)
    assert "suppressed by quiet window cam-7-maintenance" in decision.trace
    after = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 17:00 local: the window is half-open
    assert evaluate(RULES, camera("flooding", device="cam-7", when=after), at_ward()).suppressed is None
    assert evaluate(RULES, camera("flooding", device="cam-8", when=during), at_ward()).suppressed is None


@pytest.mark.parametrize(("local_hour", "ward", "quiet"), [(23, "26734", True), (4, "26734", True),
                                                           (12, "26734", False), (23, "27139", False)])
def test_recurring_quiet_window(local_hour: int, ward: str, quiet: bool) -> None:
    when = datetime(2026, 11, 23, local_hour, 30) - timedelta(hours=7)
    decision = evaluate(RULES, report("water_supply", when=when.replace(tzinfo=UTC)), at_ward(ward))
    assert (decision.suppressed == "quiet:nightly-water-cut") is quiet


def test_inhibition_raised_by_source_and_holding_back_targets_in_scope() -> None:
    alert = evaluate_with_state(RULES, sensor("water_level", 1.2, event_id="gauge-1"), at_ward("26734"))
    assert alert.decision.matched == ("high",)
    (inhibitor,) = alert.changes.raised
    assert inhibitor == Inhibitor("flood-alert", NOON_UTC.timestamp() + 7200, province="79", raised_by="gauge-1")
    context = RuleContext(inhibitors=alert.changes.raised)

    held = evaluate(RULES, report("flooding"), at_ward("27139"), context=context)  # same province
    assert held.suppressed == "inhibited:flood-alert" and held.targets == ("ward:27139",)
    assert "suppressed by inhibit rule flood-alert (raised by gauge-1)" in held.trace
    elsewhere = evaluate(RULES, report("flooding"), at_ward("00004", "01"), context=context)
    assert elsewhere.suppressed is None
    other_kind = evaluate(RULES, report("fire"), at_ward("27139"), context=context)
    assert other_kind.suppressed is None
    later = evaluate(RULES, report("flooding", when=NOON_UTC + timedelta(hours=2)), at_ward(), context=context)
    assert later.suppressed is None  # the hold has expired


def test_held_back_sources_still_raise_inhibitors() -> None:
    """Alertmanager keeps every source alert in the rule's cache, silenced or not: a source held
    back by a quiet window still holds targets back (the order of arrival cannot matter)."""
    quiet = load_ruleset(RULES.text.replace("quiet_windows:\n", "quiet_windows:\n  - id: gauges\n"
                                            "    match: {device: s-1}\n    until: 2030-01-01T00:00\n"))
    alert = evaluate_with_state(quiet, sensor("water_level", 1.2), at_ward())
    assert alert.decision.suppressed == "quiet:gauges" and len(alert.changes.raised) == 1
    held = evaluate(quiet, report("flooding"), at_ward(), context=RuleContext(inhibitors=alert.changes.raised))
    assert held.suppressed == "inhibited:flood-alert"


def test_inhibitor_of_a_removed_rule_is_ignored() -> None:
    stale = Inhibitor("no-such-rule", NOON_UTC.timestamp() + 60, province="79")
    decision = evaluate(RULES, report("flooding"), at_ward(), context=RuleContext(inhibitors=(stale,)))
    assert decision.suppressed is None


def test_inhibitor_board_refreshes_and_expires() -> None:
    board = InhibitorBoard()
    first = Inhibitor("flood-alert", 100.0, province="79")
    board.apply((first,))
    board.apply((Inhibitor("flood-alert", 200.0, province="79", raised_by="x"),))
    assert [i.until_epoch for i in board.active(150.0)] == [200.0]
    assert board.active(200.0) == ()
    assert Inhibitor.from_json(first.to_json()) == first
