"""Property-based tests (hypothesis): matcher semantics and the fan-out walk against a reference.

The reference below is written from the documented semantics over the plain YAML data, without
the compiled matchers, the dispatch tables or the merge code, so a bug in any of them shows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from routers.categories import REPORT_CATEGORIES
from routers.rules import evaluate, load_ruleset
from routers.rules.clock import LOCAL_TZ, in_window, local_minute_and_weekday, parse_window
from tests.routers.rules.rules_helpers import ambiguous, at_ward, report, unresolved

CATEGORIES = sorted(REPORT_CATEGORIES)[:8]
WARDS = ["26734", "27139", "27142"]
PRIORITIES = ["P1", "P2", "P3", "P4"]


@st.composite
def matchers(draw: Any) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if draw(st.booleans()):
        block["category"] = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
    if draw(st.integers(0, 4)) == 0:
        block["category_not"] = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 3)) == 0:
        block["ward"] = draw(st.lists(st.sampled_from(WARDS), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 4)) == 0:
        block["description_regex"] = draw(st.sampled_from(["(?i).*smoke.*", "a.*", ".*b", ".*", "a*"]))
    return block


@st.composite
def trees(draw: Any, depth: int = 0) -> dict[str, Any]:
    node: dict[str, Any] = {"match": draw(matchers())}
    if draw(st.booleans()):
        node["continue"] = True
    if draw(st.booleans()):
        node["priority"] = draw(st.sampled_from(PRIORITIES))
    if draw(st.booleans()):
        node["targets"] = draw(st.lists(st.sampled_from(["ward", "city-ioc", "agency:a", "agency:b"]),
                                        min_size=1, max_size=2, unique=True))
    if depth < 2:
        node["routes"] = draw(st.lists(trees(depth=depth + 1), max_size=6))
    return node


def number_ids(node: dict[str, Any], counter: list[int]) -> None:
    node["id"] = f"n{counter[0]}"
    counter[0] += 1
    for child in node.get("routes", []):
        number_ids(child, counter)


def reference_matches(block: dict[str, Any], category: str, ward: str | tuple[str, ...],
                      description: str | None) -> bool:
    wards = (ward,) if isinstance(ward, str) else ward  # several: the candidates of an ambiguous location
    if "category" in block and category not in block["category"]:
        return False
    if "category_not" in block and category in block["category_not"]:
        return False
    if "ward" in block and not set(wards) & set(block["ward"]):
        return False
    # an absent description reads as "" (Alertmanager's missing label)
    return not ("description_regex" in block
                and re.fullmatch(block["description_regex"], description or "") is None)


def reference_walk(node: dict[str, Any], category: str, ward: str | tuple[str, ...],
                   description: str | None) -> list[dict] | None:
    if not reference_matches(node.get("match", {}), category, ward, description):
        return None
    found: list[dict] = []
    for child in node.get("routes", []):
        got = reference_walk(child, category, ward, description)
        if got:
            found.extend(got)
            if not child.get("continue"):
                break
    return found or [node]


def inherited(node: dict[str, Any], path: list[dict[str, Any]], key: str) -> Any:
    for ancestor in reversed([*path, node]):
        if key in ancestor:
            return ancestor[key]
    raise AssertionError(key)


def with_parents(root: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    parents: dict[str, list[dict[str, Any]]] = {}

    def visit(node: dict[str, Any], path: list[dict[str, Any]]) -> None:
        parents[node["id"]] = path
        for child in node.get("routes", []):
            visit(child, [*path, node])

    visit(root, [])
    return parents


# A random routing tree and one report to walk it with (both walk tests draw the same inputs).
TREE_AND_REPORT = {
    "children": st.lists(trees(), max_size=8),
    "category": st.sampled_from(CATEGORIES),
    "ward": st.sampled_from(WARDS),
    "description": st.one_of(st.none(), st.sampled_from(["a smoke b", "ab", "no", "Smoke"])),
}


@settings(max_examples=150, deadline=None)
@given(**TREE_AND_REPORT)
def test_walk_and_merge_agree_with_the_reference(children, category, ward, description) -> None:
    root = {"targets": ["ward"], "priority": "P4", "sla": {"acknowledge": "1h", "resolve": "2h"}, "routes": children}
    number_ids(root, [0])
    root.pop("match", None)
    ruleset = load_ruleset(yaml.safe_dump({"version": "prop", "agencies": ["a", "b"], "route": root}))
    decision = evaluate(ruleset, report(category, description=description), at_ward(ward))

    expected = reference_walk(root, category, ward, description)
    assert expected is not None  # the root matches everything
    assert decision.matched == tuple(node["id"] for node in expected)
    parents = with_parents(root)
    wanted_targets: list[str] = []
    for node in expected:
        for target in inherited(node, parents[node["id"]], "targets"):
            name = f"ward:{ward}" if target == "ward" else target
            if name not in wanted_targets:
                wanted_targets.append(name)
    assert decision.targets == tuple(wanted_targets)
    assert decision.priority == min(inherited(node, parents[node["id"]], "priority") for node in expected)
    assert decision.targets  # every event ends somewhere


@settings(max_examples=150, deadline=None)
@given(**TREE_AND_REPORT)
def test_targets_and_trace_agree_with_the_reference_whatever_the_location(children, category, ward,
                                                                         description) -> None:
    """The same matched nodes under each location status, on one ruleset (evaluation reuses what it
    derived from the nodes): the "ward" target expands, duplicates drop, and the ward note sits
    right after the first node that targets the ward."""
    root = {"targets": ["ward"], "priority": "P4", "sla": {"acknowledge": "1h", "resolve": "2h"}, "routes": children}
    number_ids(root, [0])
    ruleset = load_ruleset(yaml.safe_dump({"version": "prop", "agencies": ["a", "b"], "route": root}))
    parents = with_parents(root)
    other = "99999"
    cases = [
        (at_ward(ward), (ward,), [f"ward:{ward}"], None),
        (ambiguous(ward, other), (ward, other), [f"ward:{ward}", f"ward:{other}"],
         "ward target: ambiguous location, sent to all 2 candidate wards"),
        (unresolved(), (), ["city-ioc"], "ward target: location unresolved, sent to city-ioc instead"),
    ]
    for location, wards, expanded, note in cases:
        decision = evaluate(ruleset, report(category, description=description), location)
        expected = reference_walk(root, category, wards, description)
        assert expected is not None
        assert decision.matched == tuple(node["id"] for node in expected)
        wanted_targets: list[str] = []
        wanted_trace: list[str] = []
        for node in expected:
            wanted_trace.append(f"route {node['id']} (")
            for target in inherited(node, parents[node["id"]], "targets"):
                if target == "ward" and note is not None and note not in wanted_trace:
                    wanted_trace.append(note)
                for name in expanded if target == "ward" else [target]:
                    if name not in wanted_targets:
                        wanted_targets.append(name)
        assert decision.targets == tuple(wanted_targets)
        body = decision.trace[2:]  # after the rules version and the boundary line
        assert len(body) == len(wanted_trace)
        for line, wanted in zip(body, wanted_trace, strict=True):
            assert line == wanted if wanted == note else line.startswith(wanted)


@given(
    values=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True),
    category=st.sampled_from(CATEGORIES),
    negate=st.booleans(),
)
def test_set_matcher_is_membership_and_not_is_its_negation(values, category, negate) -> None:
    key = "category_not" if negate else "category"
    text = yaml.safe_dump({"version": "p", "agencies": [], "route": {
        "id": "root", "targets": ["ward"], "priority": "P4", "sla": {"acknowledge": "1h", "resolve": "1h"},
        "routes": [{"id": "hit", "match": {key: values}}]}})
    hit = evaluate(load_ruleset(text), report(category), at_ward()).matched == ("hit",)
    assert hit == ((category in values) != negate)


@given(bound=st.floats(0, 1), confidence=st.one_of(st.none(), st.floats(0, 1)))
def test_numeric_matchers_split_the_line_and_absent_values_never_match(bound, confidence) -> None:
    from tests.routers.rules.rules_helpers import camera

    text = yaml.safe_dump({"version": "p", "agencies": [], "route": {
        "id": "root", "targets": ["ward"], "priority": "P4", "sla": {"acknowledge": "1h", "resolve": "1h"},
        "routes": [{"id": "high", "match": {"confidence_gte": bound}},
                   {"id": "low", "match": {"confidence_lt": bound}}]}})
    ruleset = load_ruleset(text)
    event = camera("fire_smoke", 0.5)
    event = type(event)(event.id, event.source, event.kind, event.occurred_at, device_id="c", confidence=confidence)
    matched = evaluate(ruleset, event, at_ward()).matched
    if confidence is None:
        assert matched == ("root",)
    else:
        assert matched == (("high",) if confidence >= bound else ("low",))


@given(start=st.integers(0, 1439), end=st.integers(0, 1439), minute=st.integers(0, 1439))
def test_time_window_is_half_open_and_wraps_midnight(start, end, minute) -> None:
    if start == end:
        return
    window = parse_window(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
    inside = in_window(minute, window)
    if start < end:
        assert inside == (start <= minute < end)
    else:
        assert inside == (not (end <= minute < start))


@given(st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_local_time_agrees_with_zoneinfo(moment) -> None:
    local = moment.astimezone(LOCAL_TZ)  # includes the pre-1975 UTC+8 years in the south
    assert local_minute_and_weekday(moment) == (local.hour * 60 + local.minute, local.weekday())
    if moment.year >= 1976:
        plus7 = moment + timedelta(hours=7)
        assert (plus7.hour, plus7.weekday()) == (local.hour, local.weekday())
