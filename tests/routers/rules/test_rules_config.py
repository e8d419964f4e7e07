"""Every load-time check, one test each, asserting the message and where it points."""

from __future__ import annotations

import textwrap

import pytest

from routers.exceptions import RulesError
from routers.rules import RulesFileError, load_ruleset

BASE = """\
version: "t1"
agencies: [fire, flood-control]
route:
  id: root
  targets: [ward]
  priority: P4
  sla: {acknowledge: 1h, resolve: 1d}
  routes:
    - id: fire
      match: {category: fire}
      targets: [ward, agency:fire]
      priority: P1
"""


def refused(text: str) -> RulesFileError:
    with pytest.raises(RulesFileError) as caught:
        load_ruleset(textwrap.dedent(text), "r.yaml")
    return caught.value


def test_valid_base_loads_with_declared_version_and_content_hash() -> None:
    ruleset = load_ruleset(BASE, "r.yaml")
    assert ruleset.version.startswith("t1+") and len(ruleset.version) == len("t1+") + 7
    assert load_ruleset(BASE + "\n").version != ruleset.version  # content changes the hash
    assert [r.id for r in ruleset.routes()] == ["root", "fire"]


def test_refusal_is_a_rules_error_naming_source_line_and_column() -> None:
    error = refused(BASE.replace("match: {category: fire}", "match: {catgory: fire}"))
    assert isinstance(error, RulesError)
    assert str(error) == "r.yaml:10:15: unknown field 'catgory' in route.routes[0].match (did you mean 'category'?)"
    assert (error.problems[0].line, error.problems[0].column) == (10, 15)


def test_unknown_top_level_field() -> None:
    assert str(refused(BASE + "quiet_window: []\n")) == (
        "r.yaml:13:1: unknown field 'quiet_window' in (top level) (did you mean 'quiet_windows'?)"
    )


def test_unknown_route_field() -> None:
    error = refused(BASE.replace("      priority: P1\n", "      priorty: P1\n"))
    assert str(error) == "r.yaml:12:7: unknown field 'priorty' in route.routes[0] (did you mean 'priority'?)"


def test_yaml_syntax_error_names_line() -> None:
    error = refused(BASE.replace("targets: [ward, agency:fire]", "targets: [ward, agency:fire"))
    assert str(error).startswith("r.yaml:12:") and "YAML syntax error" in str(error)


def test_duplicate_key_is_refused() -> None:
    error = refused(BASE.replace("      priority: P1\n", "      priority: P1\n      priority: P2\n"))
    assert str(error) == "r.yaml:13:7: duplicate key 'priority'"


def test_empty_file() -> None:
    assert str(refused("")) == "r.yaml:1:1: the rules file is empty"


def test_not_a_mapping() -> None:
    assert str(refused("- a\n- b\n")) == "r.yaml:1:1: a rules file is a mapping with version, agencies and route"


def test_missing_version() -> None:
    assert str(refused(BASE.replace('version: "t1"\n', ""))) == "r.yaml:1:1: (top level): 'version' is required"


def test_missing_route_id() -> None:
    error = refused(BASE.replace("    - id: fire\n      match", "    - match"))
    assert str(error) == "r.yaml:9:7: route.routes[0]: 'id' is required"


def test_bad_priority_enum() -> None:
    error = refused(BASE.replace("priority: P1", "priority: P0"))
    assert str(error).startswith("r.yaml:12:17: route.routes[0].priority: 'P0' is not one of P1, P2, P3, P4")


def test_bad_id_pattern() -> None:
    error = refused(BASE.replace("id: fire", "id: Fire Route"))
    assert "r.yaml:9:11: route.routes[0].id: id 'Fire Route' must use lower-case letters" in str(error)


def test_unknown_category_value_suggests_the_known_one() -> None:
    error = refused(BASE.replace("category: fire", "category: fier"))
    assert str(error) == "r.yaml:10:25: unknown category 'fier' (did you mean 'fire'?)"


def test_unknown_label_and_sensor_kind() -> None:
    error = refused(BASE.replace("category: fire", "label: [fire_smoke, smoke]"))
    assert str(error) == "r.yaml:10:35: unknown label 'smoke' (did you mean 'fire_smoke'?)"
    error = refused(BASE.replace("category: fire", "sensor_kind: waterlevel"))
    assert str(error) == "r.yaml:10:28: unknown sensor_kind 'waterlevel' (did you mean 'water_level'?)"


def test_bad_regex_names_the_line() -> None:
    error = refused(BASE.replace("category: fire", 'description_regex: "(cháy"'))
    assert str(error).startswith("r.yaml:10:34: route.routes[0].match.description_regex: bad regex '(cháy':")


def test_bad_time_window_names_the_line() -> None:
    error = refused(BASE.replace("category: fire", 'time: "25:00-06:00"'))
    assert str(error) == ("r.yaml:10:21: bad time window '25:00-06:00': '25:00' is not a time of day "
                          "HH:MM (00:00-24:00)")


def test_empty_time_window() -> None:
    error = refused(BASE.replace("category: fire", 'time: ["08:00-08:00"]'))
    assert str(error) == "r.yaml:10:22: bad time window '08:00-08:00': start and end are equal (empty window)"


def test_bad_weekday() -> None:
    error = refused(BASE.replace("category: fire", "weekdays: [mon-fry]"))
    assert str(error) == "r.yaml:10:26: bad weekday 'mon-fry': use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri"


def test_bad_duration() -> None:
    error = refused(BASE.replace("acknowledge: 1h", "acknowledge: 1 hour"))
    assert str(error) == ("r.yaml:7:22: route.sla.acknowledge: bad duration '1 hour': write e.g. "
                          "90s, 10m, 2h, 1d or 1h30m")


def test_sla_acknowledge_after_resolve() -> None:
    error = refused(BASE.replace("      priority: P1\n", "      priority: P1\n      sla: {acknowledge: 2d}\n"))
    assert str(error) == "r.yaml:13:12: sla: acknowledge (172800s) is later than resolve (86400s)"


def test_undeclared_agency() -> None:
    error = refused(BASE.replace("agency:fire", "agency:fier"))
    assert str(error) == "r.yaml:11:23: agency 'fier' is not declared in agencies (did you mean 'fire'?)"


def test_unknown_target_kind() -> None:
    error = refused(BASE.replace("targets: [ward, agency:fire]", "targets: [wards]"))
    assert str(error) == "r.yaml:11:17: unknown target 'wards': use ward, city-ioc or agency:<name> (did you mean 'ward'?)"


def test_target_listed_twice() -> None:
    error = refused(BASE.replace("targets: [ward, agency:fire]", "targets: [ward, ward]"))
    assert str(error) == "r.yaml:11:23: target 'ward' is listed twice"


def test_duplicate_route_id() -> None:
    text = BASE + "    - id: fire\n      match: {category: flooding}\n"
    assert str(refused(text)) == "r.yaml:13:11: route id 'fire' is used twice"


def test_root_cannot_match() -> None:
    error = refused(BASE.replace("  id: root\n", "  id: root\n  match: {source: report}\n"))
    assert str(error) == ("r.yaml:5:3: the root route cannot have 'match': it is the default that "
                          "catches every event")


def test_root_must_set_defaults() -> None:
    error = refused(BASE.replace("  priority: P4\n", "", 1))
    assert str(error) == "r.yaml:4:3: the root route must set 'priority' (the defaults every route inherits)"


def test_ward_code_that_lost_its_leading_zeros() -> None:
    error = refused(BASE.replace("category: fire", "ward: [00004]"))
    assert str(error) == "r.yaml:10:22: ward code 4 lost its leading zeros: quote it, e.g. '00004'"


def test_ward_code_with_wrong_length() -> None:
    error = refused(BASE.replace("category: fire", 'ward: ["2713"]'))
    assert str(error) == "r.yaml:10:22: ward code '2713' must be 5 digits"


def test_confidence_out_of_range() -> None:
    error = refused(BASE.replace("category: fire", "confidence_gte: 1.5"))
    assert str(error) == "r.yaml:10:31: route.routes[0].match.confidence_gte: 1.5 is greater than the maximum of 1"


THRESHOLDS = BASE.replace('agencies:', """thresholds:
  - id: wl
    sensor_kind: water_level
    above: 0.5
    clear: 0.4
agencies:""")


def test_threshold_loads_and_route_can_use_it() -> None:
    ruleset = load_ruleset(THRESHOLDS.replace("category: fire", "threshold: wl"))
    assert ruleset.thresholds[0].rising and ruleset.thresholds[0].clear == 0.4


def test_threshold_reference_must_exist() -> None:
    error = refused(THRESHOLDS.replace("category: fire", "threshold: wl1"))
    assert str(error) == "r.yaml:15:26: threshold 'wl1' is not declared in thresholds (did you mean 'wl'?)"


def test_threshold_clear_on_the_wrong_side() -> None:
    error = refused(THRESHOLDS.replace("clear: 0.4", "clear: 0.6"))
    assert str(error) == ("r.yaml:6:12: threshold 'wl': clear (0.6) must not be above the opening level (0.5) "
                          "for a rising threshold")


def test_threshold_needs_exactly_one_direction() -> None:
    error = refused(THRESHOLDS.replace("    above: 0.5\n", "    above: 0.5\n    below: 0.1\n"))
    assert str(error) == "r.yaml:3:5: threshold 'wl' needs exactly one of 'above' or 'below'"


def test_quiet_window_must_end() -> None:
    error = refused(BASE + "quiet_windows:\n  - id: cam\n    match: {device: cam-1}\n    from: 2026-11-20T08:00\n")
    assert str(error) == "r.yaml:14:5: quiet window 'cam' never ends: set 'until', time_intervals or a time/weekdays matcher"


def test_quiet_window_until_before_from() -> None:
    error = refused(BASE + "quiet_windows:\n  - id: cam\n    match: {device: cam-1}\n"
                           "    from: 2026-11-20T08:00\n    until: 2026-11-19T08:00\n")
    assert str(error) == "r.yaml:17:12: quiet window 'cam': until is not after from"


def test_quiet_window_bad_date() -> None:
    error = refused(BASE + "quiet_windows:\n  - id: cam\n    match: {device: cam-1}\n    until: next tuesday\n")
    assert str(error) == "r.yaml:16:12: bad date-time 'next tuesday': write e.g. 2026-11-22T08:00 (Asia/Ho_Chi_Minh)"


def test_quiet_window_with_empty_match() -> None:
    error = refused(BASE + "quiet_windows:\n  - id: all\n    match: {}\n    until: 2026-11-20T08:00\n")
    assert str(error) == "r.yaml:15:12: a quiet window with an empty match would hold back every event"


def test_inhibit_rule_requires_fields_and_valid_scope() -> None:
    error = refused(BASE + "inhibit_rules:\n  - id: x\n    source: {category: fire}\n    target: {category: fire}\n"
                           "    scope: city\n    hold: 1h\n")
    assert str(error).startswith("r.yaml:17:12: inhibit_rules[0].scope: 'city' is not one of ward, province")


def test_several_problems_are_reported_in_file_order() -> None:
    error = refused(BASE.replace("agency:fire", "agency:fier").replace("category: fire", "category: fier"))
    assert [(p.line, p.column) for p in error.problems] == [(10, 25), (11, 23)]


def test_python_tags_are_refused_not_executed() -> None:
    error = refused(BASE.replace('"t1"', "!!python/object/apply:os.system ['echo pwned']"))
    assert "r.yaml:1:10" in str(error)


def test_alias_bomb_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 8):
        bomb += f"{'abcdefgh'[level]}: &{'abcdefgh'[level]} [" + ", ".join([f"*{'abcdefgh'[level - 1]}"] * 10) + "]\n"
    with pytest.raises(RulesError, match="YAML nodes"):
        load_ruleset(bomb, "r.yaml")


def test_merge_keys_and_anchors_work() -> None:
    text = BASE.replace("      priority: P1\n", "      priority: P1\n      sla: &fast {acknowledge: 2m, resolve: 1h}\n")
    text += "    - id: flood\n      match: {category: flooding}\n      sla: *fast\n"
    ruleset = load_ruleset(text)
    assert ruleset.route("flood").sla.ack_s == 120
