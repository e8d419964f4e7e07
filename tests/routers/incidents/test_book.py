"""The incident book over plain dicts: redeliveries, suppressed evidence, updates, hand-over, results."""

from __future__ import annotations

import copy

import orjson
import pytest

from routers.exceptions import Rejected
from routers.incidents.book import IncidentBook, table_key
from routers.incidents.correlation import incident_id
from routers.incidents.model import incident_from_json, table_json
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import T0, minutes, offset, routed_event

WARD = "27142"


def upd(n: int, status: Status, incident: str, ward: str = WARD, **kw) -> StatusUpdate:
    return StatusUpdate(f"u{n}", incident, ward, status, "officer-7", **kw)


@pytest.fixture()
def book() -> IncidentBook:
    return IncidentBook({}, {}, {})


def test_opened_message_set(book: IncidentBook) -> None:
    effects = book.on_routed(routed_event("rep-1"), T0)
    assert [(o.channel, o.key) for o in effects.outbound] == [
        ("incidents", incident_id("rep-1")), ("ward", WARD)]
    notice = effects.outbound[1].value
    assert notice["type"] == "vn.ioc.incident.opened" and notice["iocincident"] == incident_id("rep-1")
    state = effects.outbound[0].value
    assert [h["status"] for h in state["data"]["history"]] == ["new", "routed"]
    assert [s.name for s in effects.signals] == ["opened"]


def test_redelivery_changes_nothing(book: IncidentBook) -> None:
    book.on_routed(routed_event("rep-1"), T0)
    book.on_routed(routed_event("rep-2", point=offset(50, 0)), T0 + minutes(1))
    before = copy.deepcopy((book.incidents, book.wards))
    for event_id in ("rep-1", "rep-2"):
        effects = book.on_routed(routed_event(event_id), T0 + minutes(2))
        assert effects.duplicate and effects.outbound == []
    assert (book.incidents, book.wards) == before
    [incident] = book.open_in(WARD)
    assert len(incident.evidence) == 2


def test_first_event_replayed_after_its_seen_mark_was_lost_is_still_one_incident(book: IncidentBook) -> None:
    book.on_routed(routed_event("rep-1", origin="ioc.in.reports/0/7"), T0)
    assert book.seen == {f"{WARD}|routed|ioc.in.reports/0": 7}
    book.seen.clear()
    assert book.on_routed(routed_event("rep-1", origin="ioc.in.reports/0/7"), T0 + minutes(11)).duplicate
    assert len(book.open_in(WARD)) == 1


def test_redelivery_after_the_incident_closed_opens_nothing(book: IncidentBook) -> None:
    book.on_routed(routed_event("rep-1", origin="ioc.in.reports/0/1"), T0)
    book.on_routed(routed_event("rep-2", point=offset(20, 0), origin="ioc.in.reports/0/2"), T0)
    inc = incident_id("rep-1")
    book.on_update(upd(1, Status.ACKNOWLEDGED, inc), T0)
    book.on_update(upd(2, Status.RESOLVED, inc), T0)
    again = routed_event("rep-2", point=offset(20, 0), origin="ioc.in.reports/0/2")
    assert book.on_routed(again, T0 + minutes(5)).duplicate
    assert book.open_in(WARD) == []


def test_suppressed_attaches_but_never_opens(book: IncidentBook) -> None:
    assert book.on_routed(routed_event("s-1", suppressed="quiet_window"), T0).outbound == []
    assert book.open_in(WARD) == []
    book.on_routed(routed_event("rep-1"), T0)
    book.on_routed(routed_event("s-2", point=offset(30, 30), suppressed="inhibited", priority="P1"), T0)
    [incident] = book.open_in(WARD)
    assert [e.suppressed for e in incident.evidence] == [None, "inhibited"]
    assert incident.priority == "P2"  # suppressed evidence does not raise priority


def test_higher_priority_evidence_raises_priority(book: IncidentBook) -> None:
    from routers.decision import Sla

    book.on_routed(routed_event("rep-1"), T0)
    book.on_routed(routed_event("cam-1", source="camera", point=offset(10, 0), priority="P1", sla=Sla(300, 3600)),
                   T0 + minutes(1))
    [incident] = book.open_in(WARD)
    assert incident.priority == "P1" and incident.ack_due == T0 + minutes(5)


def test_full_loop_ack_dispatch_resolve_results(book: IncidentBook) -> None:
    for n, event_id in enumerate(["rep-1", "rep-2", "cam-1"]):
        source = "camera" if event_id.startswith("cam") else "report"
        book.on_routed(routed_event(event_id, source=source, point=offset(n * 20, 0)), T0)
    inc = incident_id("rep-1")
    ack = book.on_update(upd(1, Status.ACKNOWLEDGED, inc), T0 + minutes(3))
    assert [(s.name, s.value) for s in ack.signals] == [("status", 1.0), ("acknowledged", 180.0)]
    book.on_update(upd(2, Status.DISPATCHED, inc), T0 + minutes(4))
    done = book.on_update(upd(3, Status.RESOLVED, inc, outcome="fixed", summary="Drain cleared"), T0 + minutes(50))
    results = [o for o in done.outbound if o.channel == "results"]
    assert [o.key for o in results] == ["rep-1", "rep-2"]  # keyed by the original report ids, not the camera
    assert results[0].value["data"]["outcome"] == "fixed" and results[0].value["type"] == "vn.ioc.report.result"
    assert any(o.value["type"] == "vn.ioc.incident.resolved" for o in done.outbound if o.channel == "ward")
    assert book.open_in(WARD) == [] and book.get(WARD, inc) is None  # a stub in the table
    incident = book.for_update(WARD, inc)
    assert incident is not None
    assert [h.status for h in incident.history] == [Status.NEW, Status.ROUTED, Status.ACKNOWLEDGED,
                                                    Status.DISPATCHED, Status.RESOLVED]
    assert [h.seq for h in incident.history] == [1, 2, 3, 4, 5]
    # a repeated update id is a redelivery: no effect, no rejection
    assert book.on_update(upd(3, Status.RESOLVED, inc), T0 + minutes(51)).duplicate
    reopened = book.on_update(upd(4, Status.REOPENED, inc), T0 + minutes(60))
    assert book.open_in(WARD)[0].status == Status.REOPENED and reopened.outbound


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda inc: upd(1, Status.ACKNOWLEDGED, "inc-nope"), "unknown_incident"),
        (lambda inc: upd(1, Status.ACKNOWLEDGED, inc, ward="26740"), "unknown_incident"),
        (lambda inc: upd(1, Status.CLOSED, inc), "illegal_transition"),
        (lambda inc: upd(1, Status.ROUTED, inc), "not_settable"),
    ],
)
def test_rejections_leave_state_untouched(book: IncidentBook, make, reason: str) -> None:
    book.on_routed(routed_event("rep-1"), T0)
    before = copy.deepcopy((book.incidents, book.wards))
    with pytest.raises(Rejected) as caught:
        book.on_update(make(incident_id("rep-1")), T0 + minutes(1))
    assert caught.value.reason == reason
    assert (book.incidents, book.wards) == before


def test_out_of_order_after_dispatch(book: IncidentBook) -> None:
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    book.on_update(upd(1, Status.ACKNOWLEDGED, inc), T0)
    book.on_update(upd(2, Status.DISPATCHED, inc), T0)
    with pytest.raises(Rejected) as caught:
        book.on_update(upd(3, Status.ACKNOWLEDGED, inc), T0)
    assert caught.value.reason == "out_of_order"


def test_reassignment_hands_over_to_the_right_ward() -> None:
    old_side, new_side = IncidentBook({}, {}, {}), IncidentBook({}, {}, {})  # two partitions
    old_side.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    effects = old_side.on_update(upd(1, Status.REASSIGNED, inc, to_ward="26740", note="other side of the canal"),
                                 T0 + minutes(2))
    [handoff] = [o for o in effects.outbound if o.channel == "handoff"]
    assert handoff.key == "26740"
    assert [o.value["type"] for o in effects.outbound if o.channel == "ward"] == ["vn.ioc.incident.reassigned"]
    assert old_side.open_in(WARD) == []
    taken = new_side.on_handoff(handoff.value, T0 + minutes(2))
    assert [(o.channel, o.key) for o in taken.outbound][-1] == ("ward", "26740")
    assert new_side.on_handoff(handoff.value, T0 + minutes(3)).duplicate
    [incident] = new_side.open_in("26740")
    assert incident.status == Status.ROUTED and incident.ward == "26740"
    assert incident.targets[0] == "ward:26740" and "ward:27142" not in incident.targets
    assert incident.ack_due == T0 + minutes(2) + minutes(15)
    assert [h.status.value for h in incident.history][-2:] == ["reassigned", "routed"]
    assert "other side of the canal" in (incident.history[-2].note or "")
    # the old ward can no longer update it
    with pytest.raises(Rejected) as caught:
        old_side.on_update(upd(2, Status.ACKNOWLEDGED, inc), T0 + minutes(4))
    assert caught.value.reason == "wrong_ward"
    new_side.on_update(upd(3, Status.ACKNOWLEDGED, inc, ward="26740"), T0 + minutes(5))


def test_stored_json_round_trips(book: IncidentBook) -> None:
    book.on_routed(routed_event("rep-1"), T0)
    book.on_routed(routed_event("wl-1", source="sensor", kind="water_level", device_id="d1", value=0.4), T0)
    stored = book.incidents[table_key(WARD, incident_id("rep-1"))]
    body = table_json(stored)  # the changelog record: the table holds the incident decoded
    assert incident_from_json(body) == stored and incident_from_json(body).to_json() == body
    # a table restored from its changelog holds JSON: read back, it is the same incident
    restored = IncidentBook({table_key(WARD, stored.id): body}, dict(book.wards), {})
    assert restored.get(WARD, stored.id) == stored


def test_the_changelog_encoder_reuses_the_json_the_batch_built(book: IncidentBook) -> None:
    effects = book.on_routed(routed_event("rep-1"), T0)
    stored = book.incidents[table_key(WARD, incident_id("rep-1"))]
    [state] = [o for o in effects.outbound if o.channel == "incidents"]
    encoded = book.encode(stored)
    assert isinstance(encoded, orjson.Fragment)  # the very bytes the audit state embeds, not a new dump
    assert orjson.dumps(encoded) == state.saved.body_json() == orjson.dumps(stored.to_json())
    assert orjson.loads(state.payload())["data"] == stored.to_json() == state.value["data"]
    book.begin_batch()  # the next batch: built again, the same JSON
    assert book.encode(stored) == stored.to_json()
    assert book.encode({"stub": True}) == {"stub": True}  # other values as they are


def test_evolve_is_dataclasses_replace(book: IncidentBook) -> None:
    import dataclasses

    from routers.incidents.model import evolve

    book.on_routed(routed_event("rep-1"), T0)
    [incident] = book.open_in(WARD)
    changes = {"version": 9, "moved_to": "26740", "acknowledged_at": None, "evidence": ()}
    assert evolve(incident, **changes) == dataclasses.replace(incident, **changes)
    assert evolve(incident) == incident and evolve(incident) is not incident
    with pytest.raises(TypeError, match="no field"):
        evolve(incident, colour="red")


def test_new_incident_is_the_constructor(book: IncidentBook) -> None:
    import dataclasses

    from routers.incidents.model import Incident, new_incident

    book.on_routed(routed_event("rep-1"), T0)
    [incident] = book.open_in(WARD)
    given = {f.name: getattr(incident, f.name) for f in dataclasses.fields(Incident)
             if f.name not in ("moved_to", "resolutions", "breaches")}  # defaults left out
    assert new_incident(**given) == Incident(**given) == incident
    with pytest.raises(TypeError, match="missing: \\['ward'\\]"):
        new_incident(**{k: v for k, v in given.items() if k != "ward"})
    with pytest.raises(TypeError, match="unknown: \\['colour'\\]"):
        new_incident(**given, colour="red")
    with pytest.raises(TypeError, match="missing: \\['ward'\\]; unknown: \\['colour'\\]"):
        new_incident(**{k: v for k, v in given.items() if k != "ward"}, colour="red")


def test_a_routed_time_in_the_wire_shape_is_formatted_as_it_came() -> None:
    from routers.envelope import iso
    from routers.incidents.timeutil import fmt, forget_formatted, parse_wire_time

    for raw in ("2026-06-12T09:00:00.123Z", "2026-W24-5T09:00:00.123Z", "2026-06-12T16:00:00.123+07:00",
                "2026-06-12T09:00:00Z"):
        forget_formatted()
        moment = parse_wire_time(raw)
        assert fmt(moment) == iso(moment)  # a week date or an offset is not taken as the formatting
    forget_formatted()
    raw = "".join(("2026-06-12", "T09:00:00.123Z"))  # a string of its own, as a decoded message's
    assert fmt(parse_wire_time(raw)) is raw  # remembered: not formatted anew


def test_an_inhibited_report_without_a_point_joins_the_alert_covering_its_ward(book: IncidentBook) -> None:
    """The default rules' ward-flood-alert: a gauge in severe flooding holds back single flooding
    reports in its ward. A report located by its address alone (no point) still joins the gauge's
    incident, so its request gets that incident's result; a quiet-window hold has no alert to join."""
    book.on_routed(routed_event("gauge-1", source="sensor", kind="water_level", point=offset(900, 900)), T0)
    [alert] = book.open_in(WARD)
    report = routed_event("rep-9", point=None, suppressed="inhibited:ward-flood-alert")
    assert report.family == alert.family
    effects = book.on_routed(report, T0 + minutes(5))
    [joined] = book.open_in(WARD)
    assert joined.id == alert.id and "rep-9" in joined.report_ids
    assert [o.kind for o in effects.outbound if o.channel == "ward"] == ["vn.ioc.incident.updated"]
    held = book.on_routed(routed_event("rep-10", point=None, suppressed="quiet_window"), T0 + minutes(6))
    assert held.outbound == [] and "rep-10" not in book.open_in(WARD)[0].report_ids


def _matching_ids(book: IncidentBook, kind: str, group_key: str | None) -> list[str]:
    probe = routed_event("probe", kind=kind, group_key=group_key)
    return sorted(i.id for i in book._matching(probe))


def test_the_cached_open_list_is_what_a_fresh_read_of_the_tables_gives() -> None:
    """Openings extend the ward's cached open list in place of reading it anew; after every step of
    a mixed run (openings, joins, resolutions, reopenings, batches) it lists what the tables hold,
    and the incidents an event may correlate with (its family's, its rule group's) are those a
    fresh read finds."""
    import random

    rng = random.Random(17)
    book = IncidentBook({}, {}, {})
    kinds = ("flooding", "fallen_tree", "traffic_congestion", "fire")
    groups = (None, None, "storm|ward=27142", "corridor-7")  # a rule group may span families
    resolved: list[str] = []
    for step in range(400):
        if step % 25 == 0:
            book.end_batch()
            book.begin_batch()
        cached, at = book.open_in(WARD), T0 + minutes(step)
        if cached and rng.random() < 0.15:
            target = rng.choice(cached).id
            book.on_update(upd(step, Status.ACKNOWLEDGED, target), at)
            book.on_update(upd(10_000 + step, Status.RESOLVED, target, outcome="fixed", summary="done"), at)
            resolved.append(target)
        elif resolved and rng.random() < 0.05:
            book.on_update(upd(step, Status.REOPENED, resolved.pop(rng.randrange(len(resolved)))), at)
        else:
            point = offset(rng.choice((0, 400, 900, 3000)), rng.choice((0, 700, 2500)))
            book.on_routed(routed_event(f"rep-{step}", kind=rng.choice(kinds), point=point, at=at,
                                        group_key=rng.choice(groups)), at)
        fresh = IncidentBook(book.incidents, book.wards, book.seen)
        assert [(i.id, i.version) for i in book.open_in(WARD)] == [(i.id, i.version) for i in fresh.open_in(WARD)]
        for kind in kinds:
            for group in groups:
                family = routed_event("probe", kind=kind).family
                wanted = sorted(i.id for i in fresh.open_in(WARD)
                                if i.family == family or (group is not None and i.group_key == group))
                assert _matching_ids(book, kind, group) == wanted
    assert len(book.open_in(WARD)) > 10 and len(resolved) > 5  # the run did build a long list
    cross = [i for i in book.open_in(WARD) if i.group_key == "corridor-7"]
    assert len({i.family for i in cross}) > 1  # a group's incidents of other families were looked up too
