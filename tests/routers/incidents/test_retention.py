"""The lifecycle state is bounded: a closed incident becomes a stub, the stub is forgotten after the
retention, open ones stay however old; a late update or a reopen of a stub applies to the whole
incident recalled from the serving index (or is rejected saying its state is gone).

Time is the worker clock passed in as ``now``; housekeeping runs as the worker runs it (the timer
asks :meth:`IncidentBook.wards_to_housekeep`, the ward's partition calls ``on_housekeeping``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from routers.exceptions import Rejected
from routers.incidents.book import IncidentBook, table_key
from routers.incidents.correlation import incident_id
from routers.incidents.model import STUB_KEYS, is_stub, table_json
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import BEN_THANH, T0, minutes, offset, routed_event

WARD = "27142"
HOUR = 3600


def upd(n: int | str, status: Status, incident: str, ward: str = WARD, **kw) -> StatusUpdate:
    return StatusUpdate(f"u{n}", incident, ward, status, "officer-7", **kw)


def resolve(book: IncidentBook, incident: str, at: datetime, ward: str = WARD) -> dict[str, Any]:
    """Acknowledge and resolve; returns the resolved incident's JSON (what the serving index holds)."""
    book.on_update(upd(f"{incident}-ack", Status.ACKNOWLEDGED, incident, ward), at)
    done = book.on_update(upd(f"{incident}-res", Status.RESOLVED, incident, ward), at)
    return done.changed[-1].to_json()


def housekeep(book: IncidentBook, now: datetime) -> None:
    """One run of the worker's housekeeping timer, every due ward handled by its partition."""
    for ward in book.wards_to_housekeep(now):
        book.on_housekeeping(ward, now)


def make_book(**kw: float) -> IncidentBook:
    return IncidentBook({}, {}, {}, **({"retention_s": HOUR} | kw))


def restarted(book: IncidentBook) -> IncidentBook:
    """A worker restarted from the changelog: the same tables, nothing in process memory."""
    return IncidentBook(book.incidents, book.wards, book.seen, retention_s=book.retention_s)


def test_a_closed_incident_is_a_stub_in_the_table() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolved = resolve(book, inc, T0 + minutes(5))
    stub = book.incidents[table_key(WARD, inc)]
    assert is_stub(stub) and set(stub) == {*STUB_KEYS, "stub"}
    assert (stub["status"], stub["version"]) == ("resolved", resolved["version"])
    assert book.get(WARD, inc) is None and book.open_in(WARD) == []
    assert book.version_of(WARD, inc) == resolved["version"]


def test_a_reopen_right_after_the_resolve_needs_no_recall() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolve(book, inc, T0 + minutes(5))
    assert not book.needs_recall(WARD, inc)  # the latest closed incidents stay decoded
    reopened = book.on_update(upd(9, Status.REOPENED, inc), T0 + minutes(30))
    assert reopened.changed[-1].status == Status.REOPENED and [i.id for i in book.open_in(WARD)] == [inc]
    assert not is_stub(book.incidents[table_key(WARD, inc)])


def test_after_a_restart_a_stub_is_applied_to_the_recalled_incident() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolved = resolve(book, inc, T0 + minutes(5))
    book = restarted(book)
    assert book.needs_recall(WARD, inc)
    done = book.on_update(upd(9, Status.REOPENED, inc), T0 + minutes(30), recalled={inc: resolved})
    [incident] = done.changed
    assert incident.status == Status.REOPENED and incident.version == resolved["version"] + 1
    assert [h.update_id for h in incident.history][-3:] == [f"u{inc}-ack", f"u{inc}-res", "u9"]
    # its results go back to its reports again when it is resolved a second time
    again = book.on_update(upd(10, Status.RESOLVED, inc), T0 + minutes(40))
    assert [o.key for o in again.outbound if o.channel == "results"] == ["rep-1"]
    # a redelivered update of a stub is recognised in the recalled history
    book = restarted(book)
    latest = again.changed[-1].to_json()
    assert book.on_update(upd(10, Status.RESOLVED, inc), T0 + minutes(41), recalled={inc: latest}).duplicate


@pytest.mark.parametrize("recalled", [None, "older", "other-ward"])
def test_a_stub_whose_state_is_not_in_the_index_is_rejected_with_the_reason(recalled: str | None) -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolved = resolve(book, inc, T0 + minutes(5))
    book = restarted(book)
    stub = dict(book.incidents[table_key(WARD, inc)])
    doc = None
    if recalled == "older":
        doc = {**resolved, "version": resolved["version"] - 1}
    elif recalled == "other-ward":
        doc = {**resolved, "ward": BEN_THANH.code}
    with pytest.raises(Rejected) as caught:
        book.on_update(upd(9, Status.REOPENED, inc), T0 + minutes(30), recalled={inc: doc} if doc else None)
    assert caught.value.reason == "unknown_incident"
    assert "no longer in the serving index" in caught.value.detail
    assert book.incidents[table_key(WARD, inc)] == stub  # untouched


def test_closed_incidents_are_forgotten_after_the_retention() -> None:
    book = make_book()
    book.on_routed(routed_event("old-1"), T0)
    book.on_routed(routed_event("old-2", point=offset(30, 0)), T0 + minutes(5))
    book.on_routed(routed_event("open-1", kind="fire", point=offset(3000, 0)), T0)
    old = incident_id("old-1")
    resolve(book, old, T0 + minutes(10))
    housekeep(book, T0 + minutes(69))  # closed 59 minutes ago: kept
    assert book.version_of(WARD, old) is not None
    assert book.wards_to_housekeep(T0 + minutes(71)) == [WARD]
    done = book.on_housekeeping(WARD, T0 + minutes(71))
    assert done.incidents == 1
    assert book.version_of(WARD, old) is None
    assert book.wards[WARD]["closed"] == [] and [i.id for i in book.open_in(WARD)] == [incident_id("open-1")]


def test_a_late_update_for_a_forgotten_incident_is_unknown_incident() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    resolve(book, inc, T0 + minutes(5))
    book.on_update(upd(9, Status.CLOSED, inc), T0 + minutes(30))  # within the hour: still applies
    housekeep(book, T0 + minutes(30) + timedelta(seconds=HOUR + 1))
    with pytest.raises(Rejected) as caught:
        book.on_update(upd(10, Status.REOPENED, inc), T0 + minutes(100))
    assert caught.value.reason == "unknown_incident"
    assert book.incidents == {}


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
    assert book.version_of(WARD, incident_id("rep-2")) is None
    assert book.on_routed(routed_event("rep-1"), T0 + timedelta(days=3)).duplicate


def test_a_moved_stub_goes_after_the_retention_and_the_new_copy_stays() -> None:
    book = make_book()
    book.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    moved = book.on_update(upd(1, Status.REASSIGNED, inc, to_ward=BEN_THANH.code), T0 + minutes(2))
    assert is_stub(book.incidents[table_key(WARD, inc)])
    assert book.incidents[table_key(WARD, inc)]["moved_to"] == BEN_THANH.code
    [handoff] = [o for o in moved.outbound if o.channel == "handoff"]
    book.on_handoff(handoff.value, T0 + minutes(2))
    later = T0 + minutes(2) + timedelta(seconds=HOUR + 1)
    assert book.on_housekeeping(BEN_THANH.code, later).incidents == 0
    assert WARD in book.wards_to_housekeep(later)
    assert book.on_housekeeping(WARD, later).incidents == 1
    assert book.version_of(WARD, inc) is None
    [copy] = book.open_in(BEN_THANH.code)
    assert copy.id == inc and copy.status == Status.ROUTED


def test_a_steady_stream_keeps_the_state_flat() -> None:
    """Ten reports a minute for six hours, each its own incident, resolved after 20 minutes, with
    housekeeping every minute: the tables stop growing once the retention is reached, and the
    redelivery marks are one per intake partition, not one per event."""
    book = make_book()
    per_minute, resolve_after = 10, 20
    sizes: dict[int, tuple[int, int, int]] = {}
    for minute in range(6 * 60):
        now = T0 + minutes(minute)
        for k in range(per_minute):
            # no point, device or group: nothing correlates, every report opens an incident
            origin = f"ioc.in.reports/{k % 3}/{minute * per_minute + k}"
            book.on_routed(routed_event(f"r-{minute}-{k}", at=now, point=None, origin=origin), now)
        if minute >= resolve_after:
            for k in range(per_minute):
                resolve(book, incident_id(f"r-{minute - resolve_after}-{k}"), now)
        again = routed_event(f"r-{minute}-0", at=now, point=None, origin=f"ioc.in.reports/0/{minute * per_minute}")
        assert book.on_routed(again, now).duplicate
        housekeep(book, now)
        stubs = sum(1 for body in book.incidents.values() if is_stub(body))
        sizes[minute] = (len(book.incidents), stubs, len(book.seen))
    # open: 20 minutes' worth; closed stubs: up to the retention plus one timer run
    assert max(n for n, _, _ in sizes.values()) <= per_minute * (resolve_after + 60 + 1)
    assert max(s for _, s, _ in sizes.values()) <= per_minute * (60 + 1)
    assert sizes[6 * 60 - 1][:2] == sizes[3 * 60][:2]
    assert {m for _, _, m in sizes.values()} == {3}  # one mark per intake partition, from the first minute on
    assert len(book.open_in(WARD)) == per_minute * resolve_after


def test_a_standby_copy_drops_decoded_incidents_the_owner_forgot() -> None:
    """The owner writes its table; a standby holds the same table as the changelog brings it (JSON)
    and decodes what it reads. The owner closes and forgets an incident: the standby's decoded copy
    goes at its next housekeeping timer run."""
    incidents: dict = {}
    wards: dict = {}
    owner = IncidentBook(incidents, wards, {}, retention_s=HOUR)
    replica: dict = {}
    standby = IncidentBook(replica, wards, {}, retention_s=HOUR)

    def replicate() -> None:  # what the changelog carries to the standby
        replica.clear()
        replica.update({key: table_json(value) for key, value in incidents.items()})

    owner.on_routed(routed_event("rep-1"), T0)
    inc = incident_id("rep-1")
    replicate()
    assert standby.get(WARD, inc) is not None  # e.g. the SLA timer's scan decoded it
    assert standby.get(WARD, inc) == owner.get(WARD, inc)
    resolve(owner, inc, T0)
    housekeep(owner, T0 + timedelta(seconds=HOUR + 1))
    replicate()
    assert replica == {} and standby.trim_cache() == 1
    assert standby._decoded == {} and standby.trim_cache() == 0
