"""The lifecycle state is bounded: redelivery marks age out after the window and go with their
incident, closed incidents are forgotten after the retention, open ones stay however old.

Time is the worker clock passed in as ``now``; housekeeping runs as the worker runs it (the timer
asks :meth:`IncidentBook.wards_to_housekeep`, the ward's partition calls ``on_housekeeping``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from routers.exceptions import Rejected
from routers.incidents.book import IncidentBook
from routers.incidents.correlation import incident_id
from routers.incidents.marks import Mark, mark, read_mark
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import BEN_THANH, T0, minutes, offset, routed_event

WARD = "27142"
HOUR = 3600


def upd(n: int | str, status: Status, incident: str, ward: str = WARD, **kw) -> StatusUpdate:
    return StatusUpdate(f"u{n}", incident, ward, status, "officer-7", **kw)


def resolve(book: IncidentBook, incident: str, at: datetime, ward: str = WARD) -> None:
    book.on_update(upd(f"{incident}-ack", Status.ACKNOWLEDGED, incident, ward), at)
    book.on_update(upd(f"{incident}-res", Status.RESOLVED, incident, ward), at)


def housekeep(book: IncidentBook, now: datetime) -> None:
    """One run of the worker's housekeeping timer, every due ward handled by its partition."""
    for ward in book.wards_to_housekeep(now):
        book.on_housekeeping(ward, now)


def make_book(**kw: float) -> IncidentBook:
    return IncidentBook({}, {}, {}, **({"retention_s": HOUR, "seen_window_s": HOUR, "prune_every_s": 600} | kw))


def test_marks_record_incident_ward_and_time() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    assert read_mark(book.seen["rep-1"]) == Mark(incident_id("rep-1"), WARD, T0.timestamp())


@pytest.mark.parametrize(("value", "expected"), [
    (mark("inc-1", WARD, T0), Mark("inc-1", WARD, T0.timestamp())),
    ("inc-1", Mark("inc-1", None, 0.0)),  # written before marks carried a time: pruned at once
    (["inc-1", WARD], None),
    ({"incident": "inc-1"}, None),
    (None, None),
])
def test_read_mark(value: object, expected: Mark | None) -> None:
    assert read_mark(value) == expected


def test_marks_older_than_the_window_are_pruned_and_the_evidence_still_guards() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    # a second report of the same flood, processed 55 minutes later
    book.on_routed(routed_event("rep-2", point=offset(40, 0), at=T0 + minutes(20)), T0 + minutes(55))
    done = book.on_housekeeping(WARD, T0 + minutes(65))
    assert (done.incidents, done.marks, done.pruned) == (0, 1, True)
    assert set(book.seen) == {"rep-2"}  # rep-1's mark is 65 minutes old, rep-2's 10
    [incident] = book.open_in(WARD)
    assert incident.evidence_count == 2  # the incident itself is untouched
    # a (very) late redelivery of rep-1 is still a no-op: the open incident's evidence knows it
    again = book.on_routed(routed_event("rep-1"), T0 + minutes(66))
    assert again.duplicate and again.outbound == []
    assert read_mark(book.seen["rep-1"]) == Mark(incident.id, WARD, (T0 + minutes(66)).timestamp())
    assert len(book.open_in(WARD)) == 1


def test_marks_are_aged_only_every_prune_interval() -> None:
    book = make_book(prune_every_s=600)
    book.on_routed(routed_event("rep-1"), T0)
    assert book.wards_to_housekeep(T0) == [WARD]  # never pruned: due at once
    assert book.on_housekeeping(WARD, T0).marks == 0  # the mark is fresh
    assert book.wards_to_housekeep(T0 + minutes(9)) == []
    assert book.on_housekeeping(WARD, T0 + minutes(9)).pruned is False
    assert book.wards_to_housekeep(T0 + minutes(10)) == [WARD]
    assert book.on_housekeeping(WARD, T0 + minutes(61)).marks == 1


def test_closed_incidents_are_forgotten_after_the_retention_with_their_marks() -> None:
    book = make_book(seen_window_s=24 * HOUR)  # marks far younger than their window: they go with the incident
    book.on_routed(routed_event("old-1"), T0)
    book.on_routed(routed_event("old-2", point=offset(30, 0)), T0 + minutes(5))
    book.on_routed(routed_event("open-1", kind="fire", point=offset(3000, 0)), T0)
    old = incident_id("old-1")
    resolve(book, old, T0 + minutes(10))
    housekeep(book, T0 + minutes(69))  # closed 59 minutes ago: kept
    assert book.get(WARD, old) is not None and {"old-1", "old-2"} <= set(book.seen)
    assert book.wards_to_housekeep(T0 + minutes(71)) == [WARD]
    done = book.on_housekeeping(WARD, T0 + minutes(71))
    assert (done.incidents, done.marks) == (1, 2)
    assert book.get(WARD, old) is None and set(book.seen) == {"open-1"}
    assert book.wards[WARD]["closed"] == [] and [i.id for i in book.open_in(WARD)] == [incident_id("open-1")]


def test_a_late_update_for_a_forgotten_incident_is_unknown_incident() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolve(book, inc, T0 + minutes(5))
    book.on_update(upd(9, Status.CLOSED, inc), T0 + minutes(30))  # within the hour: still applies
    housekeep(book, T0 + minutes(5) + timedelta(seconds=HOUR + 1))
    with pytest.raises(Rejected) as caught:
        book.on_update(upd(10, Status.REOPENED, inc), T0 + minutes(70))
    assert caught.value.reason == "unknown_incident"
    assert book.incidents == {} and book.seen == {}


def test_open_incidents_nobody_acts_on_stay_and_keep_escalating() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    book.on_routed(routed_event("rep-2", kind="fire", point=offset(3000, 0)), T0)
    resolve(book, incident_id("rep-2"), T0 + minutes(1))
    for hour in range(1, 73):  # three days of hourly timer runs
        book.on_tick(WARD, T0 + timedelta(hours=hour))
        housekeep(book, T0 + timedelta(hours=hour))
    [incident] = book.open_in(WARD)
    assert incident.id == incident_id("rep-1") and incident.escalation_level == 2
    assert book.get(WARD, incident_id("rep-2")) is None
    assert book.seen == {}  # the open incident's mark aged out; its evidence still guards it
    assert book.on_routed(routed_event("rep-1"), T0 + timedelta(days=3)).duplicate


def test_a_moved_stub_goes_after_the_retention_and_only_its_own_ward_drops_its_marks() -> None:
    book = make_book(seen_window_s=24 * HOUR)
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    moved = book.on_update(upd(1, Status.REASSIGNED, inc, to_ward=BEN_THANH.code), T0 + minutes(2))
    [handoff] = [o for o in moved.outbound if o.channel == "handoff"]
    book.on_handoff(handoff.value, T0 + minutes(2))
    # the new ward's copy is open; its housekeeping never deletes the marks the old ward wrote
    later = T0 + minutes(2) + timedelta(seconds=HOUR + 1)
    assert book.on_housekeeping(BEN_THANH.code, later).marks == 0
    assert read_mark(book.seen["rep-1"]) == Mark(inc, WARD, T0.timestamp())
    assert WARD in book.wards_to_housekeep(later)
    done = book.on_housekeeping(WARD, later)
    assert (done.incidents, done.marks) == (1, 1)
    assert book.get(WARD, inc) is None and book.seen == {}
    [copy] = book.open_in(BEN_THANH.code)
    assert copy.id == inc and copy.status == Status.ROUTED


def test_a_steady_stream_keeps_the_state_flat() -> None:
    """Ten reports a minute for six hours, each its own incident, resolved after 20 minutes, with
    housekeeping every minute: the tables stop growing once the retention is reached."""
    book = make_book()
    per_minute, resolve_after = 10, 20
    sizes: dict[int, tuple[int, int]] = {}
    for minute in range(6 * 60):
        now = T0 + minutes(minute)
        for k in range(per_minute):
            # no point, device or group: nothing correlates, every report opens an incident
            book.on_routed(routed_event(f"r-{minute}-{k}", at=now, point=None), now)
        if minute >= resolve_after:
            for k in range(per_minute):
                resolve(book, incident_id(f"r-{minute - resolve_after}-{k}"), now)
        assert book.on_routed(routed_event(f"r-{minute}-0", at=now, point=None), now).duplicate
        housekeep(book, now)
        sizes[minute] = (len(book.incidents), len(book.seen))
    # open: 20 minutes' worth; closed: up to the retention plus one timer run
    bound = per_minute * (resolve_after + 60 + 1)
    assert max(n for n, _ in sizes.values()) <= bound
    # marks: at most the window plus the prune interval
    assert max(m for _, m in sizes.values()) <= per_minute * (60 + 10 + 1)
    assert sizes[6 * 60 - 1][0] == sizes[3 * 60][0]
    assert abs(sizes[6 * 60 - 1][1] - sizes[3 * 60][1]) <= per_minute * 10
    assert len(book.open_in(WARD)) == per_minute * resolve_after


def test_a_standby_copy_drops_decoded_incidents_the_owner_forgot() -> None:
    """Two workers over one table: the owner forgets an incident, the standby's decoded copy goes
    at its next housekeeping timer run."""
    incidents: dict = {}
    wards: dict = {}
    seen: dict = {}
    owner = IncidentBook(incidents, wards, seen, retention_s=HOUR)
    standby = IncidentBook(incidents, wards, seen, retention_s=HOUR)
    owner.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolve(owner, inc, T0)
    assert standby.get(WARD, inc) is not None  # e.g. the SLA timer's scan decoded it
    housekeep(owner, T0 + timedelta(seconds=HOUR + 1))
    assert incidents == {} and standby.trim_cache() == 1
    assert standby._decoded == {} and standby.trim_cache() == 0
