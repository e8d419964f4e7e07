"""The Frigate mapping: operators' examples as a table, and one test per load-time refusal, with
its exact ``source:line:column`` message (the rules file's reporting)."""

from __future__ import annotations

import pytest

from routers.exceptions import FilteredOut
from routers.ingest.frigate import read_frigate
from routers.ingest.frigate_mapping import default_mapping, load_mapping
from routers.rules.problems import RulesFileError


def event(label: str, zones: list[str] = (), fp: bool = False, score: float | None = 0.8, kind: str = "new"):  # type: ignore[assignment]
    return read_frigate({"type": kind, "after": {"id": "1.0-a", "camera": "cam", "label": label, "start_time": 1.0,
                                                 "current_zones": list(zones), "false_positive": fp, "top_score": score}})


def review(objects: list[str], zones: list[str], severity: str, kind: str = "new"):  # type: ignore[no-untyped-def]
    return read_frigate({"type": kind, "after": {"id": "2.0-r", "camera": "cam", "start_time": 1.0,
                                                 "severity": severity, "data": {"objects": objects, "zones": zones}}})


@pytest.mark.parametrize(("message", "expected"), [
    (event("car", ["no_parking"]), "illegal_parking"),
    (event("motorcycle", ["via_he"]), "illegal_parking"),
    (event("car", ["driveway"]), "unmapped"),
    (event("person", ["plaza"]), "unmapped"),  # an event has no severity: a crowd needs a review's alert
    (review(["person"], ["plaza"], "alert"), "crowd"),
    (review(["person"], ["plaza"], "detection"), "unmapped"),
    (review(["car", "bus"], ["junction"], "alert"), "congestion"),
    (event("fire"), "fire_smoke"),
    (event("smoke", fp=True, score=0.1), "fire_smoke"),
    (event("dog", ["flooding"]), "flooding"),
    (review(["fire"], [], "detection", kind="genai"), "fire_smoke"),
])
def test_default_mapping_examples(message, expected: str) -> None:  # type: ignore[no-untyped-def]
    result = default_mapping().label_for(message)
    assert (result.reason if isinstance(result, FilteredOut) else result) == expected


def test_false_positives_and_thresholds_say_why_they_were_filtered() -> None:
    mapping = load_mapping(
        "version: 1\nrules:\n"
        "  - {id: parked, labels: [car], zones: [no_parking], min_score: 0.7, to: illegal_parking}\n")
    assert mapping.label_for(event("car", ["no_parking"], fp=True)).reason == "false_positive"  # type: ignore[union-attr]
    assert mapping.label_for(event("car", ["no_parking"], score=0.5)).reason == "below_threshold"  # type: ignore[union-attr]
    assert mapping.label_for(event("car", ["no_parking"], score=None)).reason == "below_threshold"  # type: ignore[union-attr]
    assert mapping.label_for(event("car", ["no_parking"], score=0.9)) == "illegal_parking"


def test_first_matching_rule_wins() -> None:
    mapping = load_mapping("version: 1\nrules:\n"
                           "  - {id: a, cameras: [cam], to: accident}\n"
                           "  - {id: b, labels: [car], to: congestion}\n")
    assert mapping.label_for(event("car")) == "accident"


@pytest.mark.parametrize(("text", "message"), [
    ("version: 1\nrules:\n  - id: a\n    lables: [car]\n    to: crowd\n",
     "m.yaml:4:5: unknown field 'lables' in rules[0] (did you mean 'labels'?)"),
    ("version: 1\nrules:\n  - id: a\n    labels: [car]\n    to: parking\n",
     "m.yaml:5:9: rules[0].to: 'parking' is not one of accident, congestion, crowd, fire_smoke, flooding, "
     "illegal_parking (did you mean 'illegal_parking'?)"),
    ("version: 1\nrules:\n  - {id: a, labels: [car], to: crowd}\n  - {id: a, labels: [bus], to: crowd}\n",
     "m.yaml:4:10: rules[1].id: duplicate id 'a'"),
    ("version: 1\nrules:\n  - id: everything\n    to: crowd\n",
     "m.yaml:3:5: rules[0] (everything) names no condition and would map every Frigate message to crowd; give at "
     "least one of labels, sub_labels, zones, cameras, severity, streams, types, min_score, min_threat_level"),
    ("version: 1\nrules:\n  - {id: a, severity: [urgent], to: crowd}\n",
     "m.yaml:3:24: rules[0].severity[0]: 'urgent' is not one of alert, detection"),
    ("version: 1\nrules:\n  - {id: a, labels: [car], to: crowd\n",
     "m.yaml:4:1: YAML syntax error: expected ',' or '}', but got '<stream end>'"),
    ("version: 1\nrules:\n  - {id: a, labels: car, to: crowd}\n",
     "m.yaml:3:21: rules[0].labels: 'car' is not of type 'array'"),
])
def test_refused_at_load_with_line_and_column(text: str, message: str) -> None:
    with pytest.raises(RulesFileError) as caught:
        load_mapping(text, "m.yaml")
    assert str(caught.value) == message


def test_default_mapping_loads_and_names_realistic_zones() -> None:
    mapping = default_mapping()
    assert [r.id for r in mapping.rules][0] == "fire-smoke"
    assert {r.to for r in mapping.rules} == {"fire_smoke", "flooding", "accident", "illegal_parking", "crowd",
                                            "congestion"}
