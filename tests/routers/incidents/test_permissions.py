"""Who may act on an incident (issue 16): tables over actors, plus hand-back and the SLA clock."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from routers.exceptions import Rejected
from routers.incidents import IncidentBook
from routers.incidents.escalation import next_due
from routers.incidents.permissions import as_actor, check_claim, check_permitted, is_hand_back, legacy_actor
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import DEFAULT_SLA, T0, XUAN_HOA, routed_event

WARD = XUAN_HOA.code  # 27142


def _update(status: Status, ward: str = WARD, incident: str = "inc-x", n: int = 1, **kw) -> StatusUpdate:
    return StatusUpdate(f"u{n}", incident, ward, status, kw.pop("actor", f"ward:{ward}"), **kw)


def _escalated_book() -> tuple[IncidentBook, str]:
    """An incident of ward 27142 targeted at flood-control, escalated to agency and city IOC."""
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("e1", targets=(f"ward:{WARD}", "agency:flood-control")), T0)
    [incident] = book.open_in(WARD)
    later = T0 + timedelta(seconds=DEFAULT_SLA.ack_s * 2 + 1)
    book.on_tick(WARD, later)
    return book, incident.id


@pytest.mark.parametrize(
    ("actor", "update_ward", "permitted"),
    [
        (f"ward:{WARD}", WARD, True),
        ("ward:26740", WARD, False),       # ward A naming ward B's incident: refused before any lookup
        ("ward:26740", "26740", True),     # its own ward: the lookup decides
        ("agency:fire", WARD, True),       # agencies name the incident's ward; the incident decides
        ("city-ioc", WARD, True),
    ],
)
def test_check_claim(actor: str, update_ward: str, permitted: bool) -> None:
    update = _update(Status.ACKNOWLEDGED, ward=update_ward)
    if permitted:
        check_claim(actor, update)
    else:
        with pytest.raises(Rejected, match="may only act on its own incidents") as caught:
            check_claim(actor, update)
        assert caught.value.reason == "not_permitted"


def test_a_ward_cannot_reassign_to_itself() -> None:
    with pytest.raises(Rejected, match="another ward than the sender") as caught:
        check_claim(f"ward:{WARD}", _update(Status.REASSIGNED, to_ward=WARD))
    assert caught.value.reason == "bad_update"


@pytest.mark.parametrize(
    ("actor", "permitted"),
    [
        (f"ward:{WARD}", True),            # the owning ward
        ("ward:26740", False),             # another ward
        ("agency:flood-control", True),    # a target of the routing decision
        ("department:construction", False),
        ("agency:fire", False),            # never routed nor escalated there
        ("city-ioc", False),               # not before the second rung
    ],
)
def test_check_permitted_before_escalation(actor: str, permitted: bool) -> None:
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("e1", targets=(f"ward:{WARD}", "agency:flood-control")), T0)
    [incident] = book.open_in(WARD)
    if permitted:
        check_permitted(actor, incident)
    else:
        with pytest.raises(Rejected) as caught:
            check_permitted(actor, incident)
        assert caught.value.reason == "not_permitted"


def test_escalation_makes_the_city_ioc_an_actor() -> None:
    book, incident_id = _escalated_book()
    incident = book.get(WARD, incident_id)
    assert incident is not None and incident.escalation_level == 2
    check_permitted("city-ioc", incident)
    with pytest.raises(Rejected):
        check_permitted("agency:fire", incident)


def test_an_agency_acknowledges_and_the_ack_clock_stops() -> None:
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("e1", targets=(f"ward:{WARD}", "agency:flood-control")), T0)
    [incident] = book.open_in(WARD)
    assert next_due(incident) == incident.ack_due
    actor = "agency:flood-control"
    update = as_actor(actor, _update(Status.ACKNOWLEDGED, incident=incident.id, actor="officer-3"))
    check_permitted(actor, incident)
    book.on_update(update, T0 + timedelta(seconds=60))
    acked = book.get(WARD, incident.id)
    assert acked is not None and acked.acknowledged_at == T0 + timedelta(seconds=60)
    assert next_due(acked) == acked.resolve_due  # only the resolve deadline is left
    assert acked.history[-1].actor == "agency:flood-control/officer-3"
    assert not book.on_tick(WARD, acked.ack_due + timedelta(seconds=DEFAULT_SLA.ack_s * 3)).outbound


def test_hand_back_to_the_ward_keeps_the_sla_and_the_audit_trail() -> None:
    book, incident_id = _escalated_book()
    before = book.get(WARD, incident_id)
    assert before is not None
    actor = "city-ioc"
    ack = as_actor(actor, _update(Status.ACKNOWLEDGED, incident=incident_id))
    book.on_update(ack, T0 + timedelta(hours=1))
    back = as_actor(actor, _update(Status.REASSIGNED, incident=incident_id, n=2, to_ward=WARD, note="ward's drain"))
    assert is_hand_back(actor, back) and not is_hand_back(f"ward:{WARD}", back)
    effects = book.on_update(back, T0 + timedelta(hours=2))
    after = book.get(WARD, incident_id)
    assert after is not None and after.status == Status.ROUTED and after.ward == WARD and after.moved_to is None
    assert (after.resolve_due, after.breaches, after.escalation_level) == (
        before.resolve_due, before.breaches, before.escalation_level)
    assert after.history[-1].actor == "city-ioc" and "handed back to ward 27142" in (after.history[-1].note or "")
    assert [o.channel for o in effects.outbound] == ["incidents", "ward"]  # no hand-over to another ward
    assert effects.outbound[1].value["type"] == "vn.ioc.incident.updated"


def test_hand_back_of_a_resolved_incident_is_illegal() -> None:
    book, incident_id = _escalated_book()
    actor = "city-ioc"
    book.on_update(as_actor(actor, _update(Status.ACKNOWLEDGED, incident=incident_id)), T0 + timedelta(hours=1))
    book.on_update(as_actor(actor, _update(Status.RESOLVED, incident=incident_id, n=2)), T0 + timedelta(hours=1))
    stored = book.incidents.copy()
    with pytest.raises(Rejected) as caught:
        book.on_update(as_actor(actor, _update(Status.REASSIGNED, incident=incident_id, n=3, to_ward=WARD)),
                       T0 + timedelta(hours=2))
    assert caught.value.reason == "illegal_transition" and book.incidents == stored


def test_legacy_actor_trusts_the_ward_field() -> None:
    assert legacy_actor(_update(Status.ACKNOWLEDGED, ward="26740")) == "ward:26740"


def test_as_actor_keeps_a_wards_update_as_sent() -> None:
    update = _update(Status.ACKNOWLEDGED, actor="officer-17")
    assert as_actor(f"ward:{WARD}", update) is update
    assert as_actor("agency:fire", dataclasses.replace(update, actor=f"ward:{WARD}")).actor == "agency:fire"
