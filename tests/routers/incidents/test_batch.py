"""The lifecycle's batch decision, with no broker: order within a ward, forwarding to the owner's
partition, rejections, coalesced outputs with the ids of one-at-a-time processing, SLA grace."""

from __future__ import annotations

import copy
from datetime import timedelta

import orjson
import pytest

from routers.exceptions import Rejected
from routers.incidents.batch import (
    HandoffInput,
    MalformedInput,
    Origin,
    Received,
    Rejection,
    RoutedInput,
    SkippedInput,
    TickInput,
    UpdateInput,
    coalesce,
    command_input,
    decide_batch,
    refine_unknown,
)
from routers.incidents.book import Effects, IncidentBook
from routers.incidents.correlation import incident_id
from routers.incidents.model import Incident
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import BEN_THANH, T0, XUAN_HOA, envelope, minutes, offset, routed_event

WARD = XUAN_HOA.code


def received(offset_: int = 0, topic: str = "ioc.routed", key: bytes | None = WARD.encode(), value: bytes = b"{}") -> Received:
    return Received(value, key, Origin(topic, 0, offset_))


def routed(event_id: str, n: int = 0, keyed_by_owner: bool = True, **kw: object) -> RoutedInput:
    body = envelope(event_id, **kw)  # type: ignore[arg-type]
    return RoutedInput(routed_event(event_id, **kw), body, received(n, value=orjson.dumps(body)), keyed_by_owner)


def update(n: int, status: Status, incident: str, ward: str = WARD, in_place: bool = True, **kw: object) -> UpdateInput:
    body = {"update_id": f"u{n}", "incident_id": incident, "ward": ward, "status": status.value, "actor": "officer-7"}
    if "to_ward" in kw:
        body["to_ward"] = kw["to_ward"]
    origin = Origin("ioc.status", 1, n)
    item = StatusUpdate(f"u{n}", incident, ward, status, "officer-7", **kw)  # type: ignore[arg-type]
    return UpdateInput(item, body, Received(orjson.dumps(body), ward.encode(), origin), in_place, origin)


def one_at_a_time(book: IncidentBook, inputs: list[RoutedInput]) -> list[Effects]:
    return [book.on_routed(i.event, T0) for i in inputs]


def test_a_batch_leaves_the_same_state_as_one_message_at_a_time() -> None:
    inputs = [routed("rep-1", 1), routed("rep-2", 2, point=offset(80, 0)), routed("rep-3", 3, point=offset(0, 90)),
              routed("cam-1", 4, source="camera", kind="flooding", point=offset(40, 40))]
    batched, single = IncidentBook({}, {}, {}), IncidentBook({}, {}, {})
    result = decide_batch(batched, inputs, T0)
    single_effects = one_at_a_time(single, inputs)
    assert (batched.incidents, batched.wards, batched.seen) == (single.incidents, single.wards, single.seen)
    [incident] = batched.open_in(WARD)
    assert [e.event_id for e in incident.evidence] == ["rep-1", "rep-2", "rep-3", "cam-1"]  # batch order kept
    # the latest audit state of the batch is the one-at-a-time path's last, same stable id
    last_state = [o for o in single_effects[-1].outbound if o.channel == "incidents"][0]
    [state] = [o for o in result.effects.outbound if o.channel == "incidents"]
    assert state.value["id"] == last_state.value["id"] and state.value["data"]["version"] == incident.version
    assert result.counts == {"routed": 4}
    assert [i.version for i in result.effects.changed] == [incident.version]


def test_coalesced_notices_keep_the_opening_and_the_latest_update() -> None:
    book = IncidentBook({}, {}, {})
    result = decide_batch(book, [routed("rep-1", 1), routed("rep-2", 2), routed("rep-3", 3)], T0)
    notices = [(o.value["type"], o.value["data"]["version"]) for o in result.effects.outbound if o.channel == "ward"]
    version = book.open_in(WARD)[0].version
    assert notices == [("vn.ioc.incident.opened", 1), ("vn.ioc.incident.updated", version)]


@pytest.mark.parametrize(("kept", "dropped"), [
    # an update notice followed by a resolution: the resolution says more
    (["vn.ioc.incident.resolved"], ["vn.ioc.incident.updated"]),
    # escalations and reassignments are never folded
    (["vn.ioc.incident.escalated", "vn.ioc.incident.updated"], []),
])
def test_coalesce_drops_only_superseded_updates(kept: list[str], dropped: list[str]) -> None:
    from routers.incidents.book import Outbound

    def notice(kind: str, version: int) -> Outbound:
        return Outbound("ward", WARD, {"type": kind, "iocincident": "inc-1", "data": {"version": version}})

    messages = [notice(k, n) for n, k in enumerate([*dropped, *kept], 1)]
    assert [o.value["type"] for o in coalesce(messages)] == kept


def test_an_event_keyed_city_is_forwarded_to_its_ward_and_applies_there() -> None:
    book = IncidentBook({}, {}, {})
    item = routed("rep-9", 5, keyed_by_owner=False)
    result = decide_batch(book, [item], T0)
    assert result.effects.outbound == [] and book.incidents == {}
    [forward] = result.forwards
    assert forward.ward == WARD and forward.command["origin"] == ["ioc.routed", 0, 5]
    again = command_input(orjson.loads(orjson.dumps(forward.command)), received(0, topic="app-lifecycle-commands"))
    assert isinstance(again, RoutedInput) and again.received.origin == Origin("ioc.routed", 0, 5)
    decide_batch(book, [again], T0)
    assert [i.id for i in book.open_in(WARD)] == [incident_id("rep-9")]


def test_an_envelope_kept_as_its_bytes_is_forwarded_as_the_same_json() -> None:
    """The agent keeps a routed input's envelope as the bytes it read (an ``orjson.Fragment``), not
    decoded: the forwarded command carries the same JSON."""
    item = routed("rep-9", 5, keyed_by_owner=False)
    kept = RoutedInput(item.event, orjson.Fragment(item.received.value), item.received, keyed_by_owner=False)
    [forward] = decide_batch(IncidentBook({}, {}, {}), [kept], T0).forwards
    assert orjson.loads(orjson.dumps(forward.command))["envelope"] == item.envelope


def test_an_update_in_place_applies_in_order_behind_the_event_that_opened_its_incident() -> None:
    book = IncidentBook({}, {}, {})
    opened = incident_id("rep-1")
    result = decide_batch(book, [routed("rep-1", 1), update(1, Status.ACKNOWLEDGED, opened)], T0 + minutes(1))
    assert book.get(WARD, opened).status == Status.ACKNOWLEDGED  # type: ignore[union-attr]
    assert [u.update.update_id for u in result.applied] == ["u1"]
    [state] = [o for o in result.effects.outbound if o.channel == "incidents"]
    assert state.value["data"]["status"] == "acknowledged"


def test_an_update_read_off_its_ward_partition_is_forwarded_once_with_its_origin() -> None:
    book = IncidentBook({}, {}, {})
    decide_batch(book, [routed("rep-1", 1)], T0)
    before = copy.deepcopy(book.incidents)
    result = decide_batch(book, [update(7, Status.ACKNOWLEDGED, incident_id("rep-1"), in_place=False)], T0)
    assert book.incidents == before and result.applied == []
    [forward] = result.forwards
    item = command_input(forward.command, received(0, topic="app-lifecycle-commands"))
    assert isinstance(item, UpdateInput) and item.in_place and item.source == Origin("ioc.status", 1, 7)
    decide_batch(book, [item], T0 + minutes(1))
    assert book.get(WARD, incident_id("rep-1")).status == Status.ACKNOWLEDGED  # type: ignore[union-attr]


def test_rejections_name_ward_and_incident_and_change_nothing() -> None:
    book = IncidentBook({}, {}, {})
    decide_batch(book, [routed("rep-1", 1)], T0)
    before = copy.deepcopy((book.incidents, book.wards))
    result = decide_batch(book, [update(2, Status.CLOSED, incident_id("rep-1")),
                                 update(3, Status.ACKNOWLEDGED, "inc-nope")], T0)
    assert [(r.rejected.reason, r.ward, r.incident) for r in result.rejections] == [
        ("illegal_transition", WARD, incident_id("rep-1")), ("unknown_incident", WARD, "inc-nope")]
    assert (book.incidents, book.wards) == before


@pytest.mark.parametrize(("reason", "owner", "expected"), [
    ("unknown_incident", "26740", "wrong_ward"),
    ("unknown_incident", WARD, "unknown_incident"),
    ("unknown_incident", None, "unknown_incident"),
    ("illegal_transition", "26740", "illegal_transition"),
])
def test_refine_unknown(reason: str, owner: str | None, expected: str) -> None:
    rejection = Rejection(received(), Rejected(reason, "x"), WARD, "inc-1")
    assert refine_unknown(rejection, owner).rejected.reason == expected


def test_a_reassignment_hands_over_through_the_new_wards_partition() -> None:
    old_side, new_side = IncidentBook({}, {}, {}), IncidentBook({}, {}, {})
    decide_batch(old_side, [routed("rep-1", 1)], T0)
    moved = incident_id("rep-1")
    result = decide_batch(old_side, [update(1, Status.REASSIGNED, moved, to_ward=BEN_THANH.code)], T0 + minutes(1))
    [forward] = result.forwards
    assert forward.ward == BEN_THANH.code and all(o.channel != "handoff" for o in result.effects.outbound)
    item = command_input(orjson.loads(orjson.dumps(forward.command)), received(0, topic="app-lifecycle-commands"))
    assert isinstance(item, HandoffInput)
    taken = decide_batch(new_side, [item], T0 + minutes(2))
    assert [o.value["type"] for o in taken.effects.outbound if o.channel == "ward"] == ["vn.ioc.incident.opened"]
    assert new_side.get(BEN_THANH.code, moved).status == Status.ROUTED  # type: ignore[union-attr]


@pytest.mark.parametrize(("body", "reason"), [
    ([1, 2], "bad_command"),
    ({"kind": "tick"}, "bad_command"),
    ({"kind": "update", "update": {"ward": "1"}, "origin": {"topic": "t", "partition": 0, "offset": 1}}, "bad_update"),
])
def test_a_malformed_command_is_dead_lettered(body: object, reason: str) -> None:
    item = command_input(body, received(3, topic="app-lifecycle-commands"))
    assert isinstance(item, MalformedInput) and item.rejected.reason == reason
    result = decide_batch(IncidentBook({}, {}, {}), [item], T0)
    assert [r.rejected.reason for r in result.rejections] == [reason]


def test_an_unknown_command_and_telemetry_are_skipped() -> None:
    item = command_input({"kind": "future"}, received())
    result = decide_batch(IncidentBook({}, {}, {}), [item, SkippedInput("telemetry")], T0)
    assert isinstance(item, SkippedInput) and result.counts == {"skipped": 2}
    assert (result.effects.outbound, result.forwards, result.rejections) == ([], [], [])


def test_an_input_that_raises_is_parked_and_the_rest_of_the_batch_applies() -> None:
    book = IncidentBook({}, {}, {})
    broken = RoutedInput(routed_event("rep-x"), {}, received(8), True)
    object.__setattr__(broken, "event", None)  # a bug's shape: on_routed raises AttributeError
    result = decide_batch(book, [broken, routed("rep-1", 9)], T0)
    assert [r.rejected.reason for r in result.rejections] == ["lifecycle_error"]
    assert [i.id for i in book.open_in(WARD)] == [incident_id("rep-1")] and len(result.errors) == 1


def test_a_rung_fires_after_its_grace_so_an_acknowledgement_in_flight_wins() -> None:
    book = IncidentBook({}, {}, {}, grace_s=2.0)
    decide_batch(book, [routed("rep-1", 1, priority="P1")], T0)
    due = book.open_in(WARD)[0].ack_due
    assert due is not None
    assert book.due_wards(due + timedelta(seconds=1.5)) == []
    assert decide_batch(book, [TickInput(WARD)], due + timedelta(seconds=1.5)).effects.outbound == []
    # the acknowledgement sent just before the deadline lands 1.5 s after it: nothing escalates
    decide_batch(book, [update(1, Status.ACKNOWLEDGED, incident_id("rep-1"))], due + timedelta(seconds=1.5))
    late = decide_batch(book, [TickInput(WARD)], due + timedelta(seconds=30))
    assert [o for o in late.effects.outbound if o.channel == "escalations"] == []
    # without an acknowledgement the rung fires once the grace has passed, naming the deadline it missed
    other = IncidentBook({}, {}, {}, grace_s=2.0)
    decide_batch(other, [routed("rep-1", 1, priority="P1")], T0)
    assert other.due_wards(due + timedelta(seconds=2)) == [WARD]
    [escalation] = [o for o in decide_batch(other, [TickInput(WARD)], due + timedelta(seconds=2)).effects.outbound
                    if o.channel == "escalations"]
    assert escalation.value["data"]["due"].startswith(due.strftime("%Y-%m-%dT%H:%M"))


def test_a_batch_keeps_what_one_at_a_time_published_and_builds_nothing_it_drops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The messages a batch keeps are, ids and contents, the ones one-at-a-time processing published
    for the same versions (coalesced alike); the versions a later one superseded are never serialized."""
    opened = incident_id("rep-1")
    inputs = [routed("rep-1", 1), routed("rep-2", 2, point=offset(80, 0)), update(3, Status.ACKNOWLEDGED, opened),
              routed("cam-1", 4, source="camera", kind="flooding", point=offset(40, 40)),
              routed("rep-3", 5, point=offset(0, 90))]
    single = IncidentBook({}, {}, {})
    one_by_one = [o for item in inputs for o in decide_batch(single, [item], T0).effects.outbound]
    expected = [(o.channel, o.key, o.value) for o in coalesce(one_by_one)]

    built: list[int] = []
    to_json = Incident.to_json

    def counted(self: Incident, reports: bool = True) -> dict[str, object]:
        built.append(self.version)
        return to_json(self, reports)

    monkeypatch.setattr(Incident, "to_json", counted)
    result = decide_batch(IncidentBook({}, {}, {}), inputs, T0)
    assert built == []  # nothing serialized while deciding
    kept = [(o.channel, o.key, o.value) for o in result.effects.outbound]
    assert kept == expected
    assert [o.value["type"].rsplit(".", 1)[1] for o in result.effects.outbound] == ["opened", "state", "updated"]
    # one body per version kept (the opening notice's, and the last version's for its state and notice)
    assert sorted(built) == [1, 5]
    new = [i["event_id"] for o in result.effects.outbound if o.channel == "ward" for i in o.value["data"]["new_evidence"]]
    assert new == ["rep-1", "rep-2", "cam-1", "rep-3"]  # every item published once, dropped notices' too


def test_every_report_of_a_batch_reaches_the_kept_audit_state() -> None:
    """Reports joining one incident in one batch: the states coalesced away named some of them,
    so the kept one names them all (the Open311 tracker reads report ids off ioc.incidents)."""
    from routers.incidents.model import report_ids_of

    book = IncidentBook({}, {}, {})
    decide_batch(book, [routed("rep-0", 0)], T0)  # opened in an earlier batch
    result = decide_batch(book, [routed("rep-1", 1), routed("rep-2", 2), routed("rep-3", 3)], T0)
    [state] = [o for o in result.effects.outbound if o.channel == "incidents"]
    assert report_ids_of(state.value["data"]) == ["rep-1", "rep-2", "rep-3"]
    # the notice of the same version names them too, and so does the serving index's document
    [notice] = [o for o in result.effects.outbound if o.channel == "ward"]
    assert notice.value["data"]["new_report_ids"] == ["rep-1", "rep-2", "rep-3"]
    # an incident opened in the batch: its opening state named every report, so the kept one does
    opened = decide_batch(IncidentBook({}, {}, {}), [routed("rep-5", 5), routed("rep-6", 6)], T0)
    [state] = [o for o in opened.effects.outbound if o.channel == "incidents"]
    assert state.value["data"]["report_ids"] == ["rep-5", "rep-6"]
