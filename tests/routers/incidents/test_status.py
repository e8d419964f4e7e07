"""The state machine as tables: every allowed step, and every rejection with its reason."""

from __future__ import annotations

import pytest

from routers.exceptions import Rejected
from routers.incidents.status import OPEN, TRANSITIONS, Status, check_transition, parse_status

S = Status

ALLOWED = [
    (S.ROUTED, S.ACKNOWLEDGED), (S.ROUTED, S.REASSIGNED),
    (S.ACKNOWLEDGED, S.DISPATCHED), (S.ACKNOWLEDGED, S.WAITING_CITIZEN), (S.ACKNOWLEDGED, S.RESOLVED),
    (S.ACKNOWLEDGED, S.REASSIGNED),
    (S.DISPATCHED, S.RESOLVED), (S.DISPATCHED, S.WAITING_CITIZEN),
    (S.WAITING_CITIZEN, S.ACKNOWLEDGED), (S.WAITING_CITIZEN, S.DISPATCHED), (S.WAITING_CITIZEN, S.RESOLVED),
    (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.REOPENED), (S.CLOSED, S.REOPENED),
    (S.REOPENED, S.ACKNOWLEDGED), (S.REOPENED, S.DISPATCHED), (S.REOPENED, S.RESOLVED), (S.REOPENED, S.REASSIGNED),
]

REJECTED = [
    (S.ROUTED, S.CLOSED, "illegal_transition"),
    (S.ROUTED, S.DISPATCHED, "illegal_transition"),
    (S.ROUTED, S.RESOLVED, "illegal_transition"),
    (S.DISPATCHED, S.ACKNOWLEDGED, "out_of_order"),
    (S.RESOLVED, S.DISPATCHED, "out_of_order"),
    (S.CLOSED, S.RESOLVED, "out_of_order"),
    (S.CLOSED, S.ACKNOWLEDGED, "out_of_order"),
    (S.ACKNOWLEDGED, S.ACKNOWLEDGED, "already_in_status"),
    (S.CLOSED, S.CLOSED, "already_in_status"),
    (S.ACKNOWLEDGED, S.ROUTED, "not_settable"),
    (S.ROUTED, S.NEW, "not_settable"),
    (S.WAITING_CITIZEN, S.CLOSED, "illegal_transition"),
    (S.DISPATCHED, S.REASSIGNED, "illegal_transition"),
    (S.REASSIGNED, S.ACKNOWLEDGED, "illegal_transition"),
]


@pytest.mark.parametrize(("current", "requested"), ALLOWED)
def test_allowed(current: Status, requested: Status) -> None:
    check_transition(current, requested)


@pytest.mark.parametrize(("current", "requested", "reason"), REJECTED)
def test_rejected_with_reason(current: Status, requested: Status, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        check_transition(current, requested)
    assert caught.value.reason == reason
    assert current.value in caught.value.detail or requested.value in caught.value.detail


def test_table_lists_exactly_the_ward_steps() -> None:
    ward_steps = {(c, r) for c, targets in TRANSITIONS.items() for r in targets if r not in (S.ROUTED,)}
    assert ward_steps == set(ALLOWED)


def test_system_may_route() -> None:
    check_transition(S.NEW, S.ROUTED, by_ward=False)
    check_transition(S.REASSIGNED, S.ROUTED, by_ward=False)


def test_open_statuses() -> None:
    assert S.RESOLVED not in OPEN and S.CLOSED not in OPEN and S.REASSIGNED not in OPEN
    assert S.WAITING_CITIZEN in OPEN and S.REOPENED in OPEN


def test_unknown_status_named() -> None:
    with pytest.raises(Rejected, match="unknown status 'done'") as caught:
        parse_status("done")
    assert caught.value.reason == "unknown_status"
