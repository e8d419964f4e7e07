"""Inhibition that does not depend on arrival order (hypothesis), duplicates refused in set-like
lists, named time intervals, and silences as functions of time (model, validation, index)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routers.events import Event, Source
from routers.locate.result import Location
from routers.rules import RulesFileError, load_ruleset
from routers.rules.batch import evaluate_batch
from routers.rules.evaluate import build_facts
from routers.rules.silences import Silence, SilenceBook, SilenceError, SilenceIndex, new_silence
from routers.rules.state import EMPTY_CONTEXT, Inhibitor
from routers.rules.timeintervals import parse_location, parse_time_interval
from tests.routers.rules.rules_helpers import NOON_UTC, at_ward

RULES = load_ruleset("""
version: holdback-test
agencies: [flood-control]
route:
  id: root
  targets: [ward]
  priority: P4
  sla: {acknowledge: 1h, resolve: 1d}
inhibit_rules:
  - id: tide
    source: {sensor_kind: tide}
    target: {kind: [flooding, tide]}
    scope: province
    hold: 2h
  - id: fire-over-smoke
    source: {category: fire}
    target: {kind: [fire, fire_smoke]}
    equal: [device]
    scope: ward
    hold: 30m
""")
KINDS = [(Source.SENSOR, "tide"), (Source.REPORT, "flooding"), (Source.REPORT, "fire"), (Source.CAMERA, "fire_smoke"),
         (Source.CAMERA, "flooding"), (Source.REPORT, "noise")]


@st.composite
def batches(draw: Any) -> list[tuple[Event, Location]]:
    size = draw(st.integers(1, 12))
    items = []
    for n in range(size):
        source, kind = draw(st.sampled_from(KINDS))
        ward = draw(st.sampled_from(["27139", "27142", "00004"]))
        device = draw(st.sampled_from([None, "d1", "d2"])) if source is not Source.SENSOR else f"tide-{n}"
        when = NOON_UTC + timedelta(minutes=draw(st.integers(0, 90)))  # within the inhibition window
        items.append((Event(f"e{n}", source, kind, when, device_id=device, value=1.0 if source is Source.SENSOR else None),
                      at_ward(ward, "01" if ward == "00004" else "79")))
    return items


def held_back(result: Any, items: list[tuple[Event, Location]]) -> dict[str, str | None]:
    return {event.id: evaluation.decision.suppressed
            for (event, _), evaluation in zip(items, result.evaluations, strict=True)}


def decisions(result: Any, items: list[tuple[Event, Location]]) -> dict[str, Any]:
    return {event.id: evaluation.decision for (event, _), evaluation in zip(items, result.evaluations, strict=True)}


@settings(max_examples=200, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_any_permutation_of_a_batch_holds_back_the_same_events(items: list[tuple[Event, Location]],
                                                                rng: random.Random) -> None:
    shuffled = items[:]
    rng.shuffle(shuffled)
    first = evaluate_batch(RULES, items, {}, ())
    again = evaluate_batch(RULES, shuffled, {}, ())
    assert held_back(first, items) == held_back(again, shuffled)
    assert decisions(first, items) == decisions(again, shuffled)  # the whole decision, trace included


def test_a_target_before_its_source_in_a_batch_is_held_back() -> None:
    flood = (Event("flood", Source.REPORT, "flooding", NOON_UTC), at_ward("27139"))
    tide = (Event("tide", Source.SENSOR, "tide", NOON_UTC, device_id="t", value=1.8), at_ward("26734"))
    result = evaluate_batch(RULES, [flood, tide], {}, ())
    assert [e.decision.suppressed for e in result.evaluations] == ["inhibited:tide", None]
    assert [i.rule for i in result.raised] == ["tide"]


def test_an_event_matching_both_sides_is_held_back_by_another_source_only() -> None:
    """inhibit.go: a target that also matches the source side ignores sources matching both sides."""
    alone = evaluate_batch(RULES, [(Event("f1", Source.REPORT, "fire", NOON_UTC), at_ward())], {}, ())
    assert alone.evaluations[0].decision.suppressed is None  # only itself: never holds itself back
    two = evaluate_batch(RULES, [(Event("f1", Source.REPORT, "fire", NOON_UTC), at_ward()),
                                 (Event("f2", Source.REPORT, "fire", NOON_UTC), at_ward())], {}, ())
    assert [e.decision.suppressed for e in two.evaluations] == [None, None]  # both two-sided
    one_sided = Inhibitor("fire-over-smoke", NOON_UTC.timestamp() + 60, wards=frozenset({"27139"}), raised_by="x",
                          equal=(("device", ""),))
    held = evaluate_batch(RULES, [(Event("f3", Source.REPORT, "fire", NOON_UTC), at_ward())], {}, (one_sided,))
    assert held.evaluations[0].decision.suppressed == "inhibited:fire-over-smoke"


def test_equal_fields_must_agree_and_absent_equals_absent() -> None:
    fire = (Event("f", Source.REPORT, "fire", NOON_UTC), at_ward())
    same = (Event("c1", Source.CAMERA, "fire_smoke", NOON_UTC), at_ward())  # device absent on both
    other = (Event("c2", Source.CAMERA, "fire_smoke", NOON_UTC, device_id="d1"), at_ward())
    result = evaluate_batch(RULES, [fire, same, other], {}, ())
    assert [e.decision.suppressed for e in result.evaluations] == [None, "inhibited:fire-over-smoke", None]


# --- duplicates in lists that act as sets -----------------------------------------------------
BASE = ('version: "1"\nagencies: [fire]\nroute:\n  id: root\n  targets: [ward]\n  priority: P4\n'
        '  sla: {acknowledge: 1h, resolve: 4h}\n')


@pytest.mark.parametrize(("extra", "message"), [
    ("  group_by: [ward, kind, ward]\n", '8:26: duplicated label "ward" in group_by'),
    ("  routes:\n    - {id: a, match: {category: [fire, flooding, fire]}}\n",
     "9:50: duplicated category value 'fire': this list is a set"),
    ("  routes:\n    - {id: a, match: {weekdays: [mon, tue, Mon]}}\n", "9:44: duplicated weekday 'Mon': this list is a set"),
    ("  routes:\n    - {id: a, match: {device: [x, x]}}\n", "9:35: duplicated device value 'x': this list is a set"),
])
def test_duplicates_in_set_like_lists_are_refused_with_line_and_column(extra: str, message: str) -> None:
    with pytest.raises(RulesFileError) as caught:
        load_ruleset(BASE + extra, "r.yaml")
    assert str(caught.value) == f"r.yaml:{message}"


def test_duplicated_agency_and_inhibit_equal_field_are_refused() -> None:
    text = BASE.replace("agencies: [fire]", "agencies: [fire, fire]") + (
        "inhibit_rules:\n  - {id: i, source: {category: fire}, target: {kind: fire_smoke}, scope: ward, hold: 1h,"
        " equal: [device, device]}\n")
    with pytest.raises(RulesFileError) as caught:
        load_ruleset(text, "r.yaml")
    assert str(caught.value).splitlines() == [
        "r.yaml:2:18: duplicated agency 'fire': this list is a set",
        "r.yaml:9:106: duplicated equal field 'device': this list is a set",
    ]


# --- time intervals -------------------------------------------------------------------------------
def test_time_interval_reads_its_location_and_refuses_local() -> None:
    interval = parse_time_interval({"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "17:00"}],
                                    "location": "Asia/Ho_Chi_Minh"})
    assert interval.contains(NOON_UTC.timestamp())  # Monday 12:00 in Ho Chi Minh City
    assert not interval.contains((NOON_UTC + timedelta(hours=6)).timestamp())  # 18:00 local
    with pytest.raises(ValueError, match="location 'Local' is refused"):
        parse_location("Local")


def test_quiet_window_on_a_named_interval() -> None:
    ruleset = load_ruleset(BASE + "time_intervals:\n  - {name: nights, time_intervals: [{times: "
                           "[{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '06:00'}]}]}\n"
                           "quiet_windows:\n  - {id: night-pumps, match: {device: pump-1}, time_intervals: [nights]}\n")
    def at(hour: int) -> str | None:
        event = Event("p", Source.SENSOR, "water_level", NOON_UTC + timedelta(hours=hour - 12), device_id="pump-1")
        return evaluate_batch(ruleset, [(event, at_ward())], {}, ()).evaluations[0].decision.suppressed
    assert (at(23), at(3), at(12)) == ("quiet:night-pumps", "quiet:night-pumps", None)


# --- silences ---------------------------------------------------------------------------------------
def make(match: list[str], start: float = 0.0, end: float = 3600.0, sid: str = "s") -> Silence:
    return new_silence(match, starts_at=start, ends_at=end, created_by="an", comment="repair", silence_id=sid)


@pytest.mark.parametrize(("match", "problem"), [
    (["category=fier"], "unknown category 'fier' (did you mean 'fire'?)"),
    (["catgory=fire"], "unknown field 'catgory' in match (did you mean 'category'?)"),
    (["ward=1234"], "ward code '1234' must be 5 digits"),
    (["device!=x"], "at least one matcher must not match the empty string"),
    (["device=~.*"], "at least one matcher must not match the empty string"),
    (["description=~(a"], "bad regex '(a'"),
    (["threshold=wl"], "threshold cannot be silenced on"),
    (["device=a", "device=b"], "device is given twice"),
    (["device"], "bad matcher 'device'"),
])
def test_silence_matchers_are_validated_as_rules_matchers(match: list[str], problem: str) -> None:
    with pytest.raises(SilenceError) as caught:
        make(match)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_silence_needs_author_comment_and_an_end_after_its_start() -> None:
    with pytest.raises(SilenceError) as caught:
        new_silence(["device=x"], starts_at=10, ends_at=10, created_by=" ", comment="", silence_id="s")
    assert caught.value.problems == ["missing author (--author)", "missing comment (--comment)",
                                     "end time must not be before start time"]


def test_silence_states_expiry_and_round_trip() -> None:
    silence = make(["device=cam-1"], start=100, end=200)
    assert [silence.state(t) for t in (99, 100, 199, 200)] == ["pending", "active", "active", "expired"]
    ended = silence.expired_at(150)
    assert ended.ends_at == 150 and ended.updated_at == 150 and ended.state(150) == "expired"
    assert make(["device=cam-1"], start=100, end=200).expired_at(50).starts_at == 50  # pending: starts and ends now
    again = Silence.from_json(silence.to_json())
    assert again == silence and len(again.matchers) == 1


def test_book_keeps_the_latest_version_and_its_index_drops_expired_silences() -> None:
    book = SilenceBook()
    first = make(["device=cam-1"], 0, 100, "a")
    book.apply(first)
    book.apply(make(["device=cam-2"], 0, 300, "b"))
    facts, _ = build_facts(RULES, Event("c", Source.CAMERA, "flooding", NOON_UTC, device_id="cam-1"), at_ward(), None,
                           EMPTY_CONTEXT)
    assert [s.id for s in book.index(50).matching(facts, 50)] == ["a"]
    assert book.index(100).matching(facts, 100) == [] and book.index(100).size == 1
    assert not book.apply(first.expired_at(-1)) or book.get("a") is not None
    book.apply(first.expired_at(40))
    assert book.get("a").ends_at == 40 and book.count(50) == 1


FIELDS = {"device": ["cam-1", "cam-2", "cam-3"], "category": ["fire", "flooding", "noise"],
          "ward": ["27139", "27142"], "channel": ["app", "hotline"]}


@st.composite
def silence_sets(draw: Any) -> list[Silence]:
    out = []
    for n in range(draw(st.integers(0, 25))):
        match = []
        for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3, unique=True)):
            op = draw(st.sampled_from(["=", "!=", "=~"]))
            value = draw(st.sampled_from(FIELDS[name])) if op != "=~" else draw(st.sampled_from(["cam-.*", "f.*", "27.*"]))
            match.append(f"{name}{op}{value}")
        start = draw(st.integers(0, 50))
        try:
            out.append(make(match, start, start + draw(st.integers(1, 100)), f"s{n:02d}"))
        except SilenceError:  # e.g. only negative matchers: refused, as Alertmanager does
            continue
    return out


@settings(max_examples=150, deadline=None)
@given(silence_sets(), st.sampled_from(FIELDS["device"] + [None]), st.sampled_from(FIELDS["category"]),
       st.sampled_from(FIELDS["ward"]), st.sampled_from([None, "app", "hotline"]), st.integers(0, 160))
def test_silence_index_finds_exactly_what_testing_every_silence_finds(
        silences: list[Silence], device: str | None, category: str, ward: str, channel: str | None, now: int) -> None:
    event = Event("r", Source.REPORT, category, NOON_UTC, device_id=device, channel=channel)
    facts, _ = build_facts(RULES, event, at_ward(ward), None, EMPTY_CONTEXT)
    brute = sorted(s.id for s in silences if s.active(now) and s.matches(facts))
    assert [s.id for s in SilenceIndex(silences).matching(facts, now)] == brute


def test_a_silenced_event_names_the_silence_in_its_trace() -> None:
    silence = make(["category=flooding", "ward=27139"], NOON_UTC.timestamp() - 60, NOON_UTC.timestamp() + 60, "s-9")
    event = Event("r", Source.REPORT, "flooding", NOON_UTC)
    decision = evaluate_batch(RULES, [(event, at_ward())], {}, (), SilenceIndex([silence])).evaluations[0].decision
    assert decision.suppressed == "silenced:s-9" and decision.targets == ("ward:27139",)
    assert "silenced by s-9 (an: repair)" in decision.trace
    later = evaluate_batch(RULES, [(event, at_ward())], {}, (), SilenceIndex([silence]), now=NOON_UTC.timestamp() + 60)
    assert later.evaluations[0].decision.suppressed is None  # expired at its end, no restart needed


def test_book_forgets_silences_expired_longer_than_the_retention() -> None:
    book = SilenceBook(retention_s=1000)
    book.apply(make(["device=cam-1"], 0, 100, "old"))
    book.apply(make(["device=cam-2"], 0, 5000, "new"))
    book.index(1050)
    assert book.get("old") is not None  # expired 950 s ago: still listed by `ioc silence list --all`
    book.apply(make(["device=cam-3"], 0, 9000, "other"))  # any change rebuilds the index later
    book.index(1200)
    assert book.get("old") is None and book.get("new") is not None
