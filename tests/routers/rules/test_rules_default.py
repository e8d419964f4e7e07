"""The shipped default ruleset: it covers the whole vocabulary and routes the way ops expect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from routers.categories import CAMERA_LABELS, REPORT_CATEGORIES, SENSOR_KINDS
from routers.rules import RuleContext, SensorState, default_ruleset, evaluate, evaluate_with_state
from tests.routers.rules.rules_helpers import at_ward, camera, report, sensor

RULES = default_ruleset()
NIGHT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 23:00 local


def test_default_ruleset_is_cached_and_versioned() -> None:
    assert default_ruleset() is RULES
    assert RULES.version.startswith("2026-11-22.1+")


@pytest.mark.parametrize("category", sorted(REPORT_CATEGORIES))
def test_every_report_category_has_its_own_route(category: str) -> None:
    decision = evaluate(RULES, report(category), at_ward())
    assert decision.matched and decision.matched[-1] not in ("root", "reports")
    assert "ward:27139" in decision.targets and not decision.suppressed


@pytest.mark.parametrize("label", sorted(CAMERA_LABELS))
def test_every_camera_label_has_its_own_route(label: str) -> None:
    decision = evaluate(RULES, camera(label, 0.95), at_ward())
    assert decision.matched[-1] not in ("root", "camera", "camera-unsure")


@pytest.mark.parametrize("kind", sorted(SENSOR_KINDS))
def test_every_sensor_kind_has_thresholds_and_normal_readings_are_telemetry(kind: str) -> None:
    assert RULES.thresholds_by_kind[kind]
    decision = evaluate(RULES, sensor(kind, 0.0), at_ward())
    assert decision.matched == ("sensor-normal",) and decision.suppressed == "normal_reading"
    assert decision.targets == ("ward:27139",)
    highest = max(t.level for t in RULES.thresholds_by_kind[kind])
    opened = evaluate(RULES, sensor(kind, highest + 1), at_ward())
    assert opened.matched != ("sensor-normal",) and not opened.suppressed


EXPECTED = [
    # (event, targets, priority, matched)
    (report("fire"), {"ward:27139", "agency:fire"}, "P1", ("fire-report",)),
    (camera("fire_smoke", 0.9), {"ward:27139", "agency:fire"}, "P1", ("camera-fire",)),
    (report("flooding"), {"ward:27139", "agency:flood-control"}, "P2", ("flooding-report",)),
    (report("traffic_accident"), {"ward:27139", "agency:traffic-police", "agency:health"}, "P1",
     ("traffic-accident",)),
    (report("noise", when=NIGHT), {"ward:27139"}, "P3", ("noise-night",)),
    (report("noise"), {"ward:27139"}, "P4", ("noise-day",)),
    (report("flooding", description="Nước ngập, có khói"), {"ward:27139", "agency:fire", "agency:flood-control"},
     "P2", ("fire-keywords", "flooding-report")),
    (camera("fire_smoke", 0.4), {"city-ioc"}, "P4", ("camera-unsure",)),
    (camera("accident", 0.7), {"ward:27139", "agency:traffic-police"}, "P2", ("camera-accident-unconfirmed",)),
    (sensor("water_level", 0.45), {"ward:27139", "agency:flood-control"}, "P2", ("water-level-flooding",)),
    (sensor("water_level", 65, unit="cm"), {"ward:27139", "agency:flood-control", "city-ioc"}, "P1",
     ("water-level-severe",)),
]


@pytest.mark.parametrize(("event", "targets", "priority", "matched"), EXPECTED,
                         ids=[f"{e.source}-{e.kind}-{i}" for i, (e, *_rest) in enumerate(EXPECTED)])
def test_default_routes(event, targets, priority, matched) -> None:
    decision = evaluate(RULES, event, at_ward())
    assert (set(decision.targets), decision.priority, decision.matched) == (targets, priority, matched)


def test_default_agencies_are_the_published_agency_topics() -> None:
    from routers.topics import AGENCIES

    assert set(RULES.agencies) <= set(AGENCIES)


def test_water_level_does_not_flap_around_its_threshold() -> None:
    readings = [0.1, 0.31, 0.29, 0.31, 0.25, 0.21, 0.19, 0.25, 0.29, 0.31]
    state: SensorState | None = None
    routes = []
    for value in readings:
        outcome = evaluate_with_state(RULES, sensor("water_level", value), at_ward(), context=RuleContext(state))
        if outcome.changes.sensor is not None:
            state = outcome.changes.sensor
        routes.append(outcome.decision.matched[0])
    flooding, normal = "water-level-flooding", "sensor-normal"
    # opens at 0.31, stays open down to 0.21 (clear 0.2), closes at 0.19, re-opens only at 0.3 again
    assert routes == [normal, flooding, flooding, flooding, flooding, flooding, normal, normal, normal, flooding]
