"""Route-tree semantics (Alertmanager's), table-driven: an inline tree + (event -> expected) cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from routers.rules import evaluate, load_ruleset
from tests.routers.rules.rules_helpers import NOON_UTC, ambiguous, at_ward, camera, report, sensor, unresolved

TREE = load_ruleset("""
version: routing-test
agencies: [fire, flood-control, traffic-police, health, police]
route:
  id: root
  targets: [ward]
  priority: P4
  sla: {acknowledge: 4h, resolve: 3d}
  group_by: [ward, kind]
  group_window: 30m
  routes:
    - id: reports
      match: {source: report}
      priority: P3
      routes:
        - id: smoke-words
          continue: true
          match: {description_regex: "(?i).*smoke.*"}
          targets: [agency:fire]
          priority: P2
        - id: fire
          match: {category: fire}
          targets: [ward, agency:fire]
          priority: P1
          sla: {acknowledge: 2m}
        - id: flood-d1
          match: {category: flooding, ward: ["26734"]}
          targets: [ward, agency:flood-control, city-ioc]
        - id: flood
          match: {category: flooding}
          targets: [ward, agency:flood-control]
          group_by: [ward]
        - id: noise-night
          match: {category: noise, time: "22:00-06:00"}
          priority: P2
        - id: weekend-security
          match: {category: security, weekdays: [sat-sun]}
          targets: [ward, agency:police]
    - id: cameras
      match: {source: camera, confidence_gte: 0.6}
      routes:
        - id: cam-accident
          match: {label: accident}
          targets: [ward, agency:traffic-police]
          continue: true
        - id: cam-accident-health
          match: {label: accident, confidence_gte: 0.8}
          targets: [agency:health]
          priority: P1
    - id: not-hcmc
      match: {province_not: ["79"]}
      targets: [city-ioc]
""", "tree.yaml")

LOCAL_23H = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 23:30 Monday local
SATURDAY = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


CASES = [
    # (name, event, location, targets, priority, matched)
    ("first matching child wins", report("fire"), at_ward(), ("ward:27139", "agency:fire"), "P1", ("fire",)),
    ("no child matches: the node itself", report("waste"), at_ward(), ("ward:27139",), "P3", ("reports",)),
    ("nothing matches: the root default", camera("accident", 0.3), at_ward(), ("ward:27139",), "P4", ("root",)),
    ("earlier sibling with a narrower match", report("flooding"), at_ward("26734"),
     ("ward:26734", "agency:flood-control", "city-ioc"), "P3", ("flood-d1",)),
    ("later sibling when the narrow one fails", report("flooding"), at_ward("27139"),
     ("ward:27139", "agency:flood-control"), "P3", ("flood",)),
    ("continue fans out and merges targets/priority", report("fire", description="Thick SMOKE"), at_ward(),
     ("agency:fire", "ward:27139"), "P1", ("smoke-words", "fire")),
    ("continue with nothing after: parent's own match not added", report("waste", description="smoke"), at_ward(),
     ("agency:fire",), "P2", ("smoke-words",)),
    ("continue then a second match", camera("accident", 0.9), at_ward(),
     ("ward:27139", "agency:traffic-police", "agency:health"), "P1", ("cam-accident", "cam-accident-health")),
    ("continue alone when the second does not match", camera("accident", 0.7), at_ward(),
     ("ward:27139", "agency:traffic-police"), "P4", ("cam-accident",)),
    ("time window at night (local)", report("noise", when=LOCAL_23H), at_ward(), ("ward:27139",), "P2",
     ("noise-night",)),
    ("time window by day falls to the parent", report("noise"), at_ward(), ("ward:27139",), "P3", ("reports",)),
    ("weekday matcher", report("security", when=SATURDAY), at_ward(), ("ward:27139", "agency:police"), "P3",
     ("weekend-security",)),
    ("province_not", sensor("pm25", 10), at_ward("00004", "01"), ("city-ioc",), "P4", ("not-hcmc",)),
    ("ambiguous: ward becomes every candidate", report("fire"), ambiguous("27139", "27142"),
     ("ward:27139", "ward:27142", "agency:fire"), "P1", ("fire",)),
    ("ambiguous ward matcher matches any candidate", report("flooding"), ambiguous("27139", "26734"),
     ("ward:27139", "ward:26734", "agency:flood-control", "city-ioc"), "P3", ("flood-d1",)),
    ("unresolved: ward becomes city-ioc", report("fire"), unresolved(), ("city-ioc", "agency:fire"), "P1", ("fire",)),
]


@pytest.mark.parametrize(("name", "event", "location", "targets", "priority", "matched"), CASES,
                         ids=[c[0] for c in CASES])
def test_route_tree(name, event, location, targets, priority, matched) -> None:
    decision = evaluate(TREE, event, location)
    assert (decision.targets, decision.priority, decision.matched) == (targets, priority, matched)


def test_options_are_inherited_and_the_sla_is_the_tightest() -> None:
    decision = evaluate(TREE, report("fire"), at_ward())
    assert (decision.sla.ack_s, decision.sla.resolve_s) == (120, 3 * 86400)  # resolve inherited from root
    assert decision.group_window_s == 1800
    assert decision.rules_version == TREE.version


def test_group_key_is_the_primary_route_and_its_group_by_values() -> None:
    assert evaluate(TREE, report("flooding"), at_ward()).group_key == "flood|ward=27139"
    assert evaluate(TREE, report("fire"), at_ward()).group_key == "fire|ward=27139|kind=fire"
    # the continue route is an add-on: grouping follows the route where the walk stopped
    assert evaluate(TREE, report("fire", description="smoke"), at_ward()).group_key == "fire|ward=27139|kind=fire"


def test_trace_names_version_generation_and_the_deciding_matchers() -> None:
    trace = evaluate(TREE, report("flooding"), at_ward("26734")).trace
    assert trace[0] == f"rules {TREE.version}"
    assert trace[1] == "boundary vn2025-test (approximate): resolved ward 26734 by point"
    assert trace[2] == "route flood-d1 (root > reports > flood-d1): category in [flooding]; ward in [26734]"


def test_trace_explains_ambiguous_expansion() -> None:
    trace = evaluate(TREE, report("fire"), ambiguous("27139", "27142")).trace
    assert "ward target: ambiguous location, sent to all 2 candidate wards" in trace


def test_at_overrides_event_time_and_naive_is_local() -> None:
    night = datetime(2026, 11, 23, 23, 30)  # naive = Asia/Ho_Chi_Minh
    assert evaluate(TREE, report("noise"), at_ward(), at=night).matched == ("noise-night",)
    assert evaluate(TREE, report("noise", when=LOCAL_23H), at_ward(), at=NOON_UTC).matched == ("reports",)
