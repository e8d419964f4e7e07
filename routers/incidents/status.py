"""The incident status state machine: which status may follow which, and who may set it.

Main path::

    new -> routed -> acknowledged -> dispatched -> resolved -> closed

plus ``waiting_citizen`` (the ward needs more from the citizen; SLA clocks pause),
``reopened`` (after resolved or closed) and ``reassigned`` (a ward says "not ours"; the
incident is handed to another ward and becomes ``routed`` there).

``new`` and ``routed`` are set by ioc-router itself; ward systems may set the others.
A rejected change names a short stable reason:

* ``illegal_transition``: the change is never allowed from the current status
  (``routed -> closed``);
* ``out_of_order``: the requested status lies behind the incident on the main path
  (``acknowledged`` arriving after ``dispatched``): a late or replayed message;
* ``already_in_status``: the incident already has that status;
* ``not_settable``: a ward may not set ``new`` or ``routed``.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from routers.exceptions import Rejected


class Status(StrEnum):
    NEW = "new"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    WAITING_CITIZEN = "waiting_citizen"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REASSIGNED = "reassigned"


S = Status

TRANSITIONS: MappingProxyType[Status, frozenset[Status]] = MappingProxyType({
    S.NEW: frozenset({S.ROUTED}),
    S.ROUTED: frozenset({S.ACKNOWLEDGED, S.REASSIGNED}),
    S.ACKNOWLEDGED: frozenset({S.DISPATCHED, S.WAITING_CITIZEN, S.RESOLVED, S.REASSIGNED}),
    S.DISPATCHED: frozenset({S.WAITING_CITIZEN, S.RESOLVED}),
    S.WAITING_CITIZEN: frozenset({S.ACKNOWLEDGED, S.DISPATCHED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.ACKNOWLEDGED, S.DISPATCHED, S.RESOLVED, S.REASSIGNED}),
    # A reassigned incident is routed again by ioc-router, in the new ward.
    S.REASSIGNED: frozenset({S.ROUTED}),
})

SYSTEM_ONLY = frozenset({S.NEW, S.ROUTED})
WARD_SETTABLE = frozenset(Status) - SYSTEM_ONLY

# Position on the main path, used to tell a late message from a nonsensical one.
_RANK = MappingProxyType({S.ROUTED: 1, S.ACKNOWLEDGED: 2, S.DISPATCHED: 3, S.RESOLVED: 4, S.CLOSED: 5})

OPEN = frozenset({S.NEW, S.ROUTED, S.ACKNOWLEDGED, S.DISPATCHED, S.WAITING_CITIZEN, S.REOPENED})
"""Statuses that still need work from the ward (``reassigned`` is only a hand-over moment)."""


def check_transition(current: Status, requested: Status, by_ward: bool = True) -> None:
    """Raise :class:`Rejected` unless ``current -> requested`` is allowed (for a ward when ``by_ward``)."""
    if by_ward and requested in SYSTEM_ONLY:
        raise Rejected("not_settable", f"status {requested.value!r} is set by ioc-router, not by ward systems")
    if requested == current:
        raise Rejected("already_in_status", f"the incident is already {current.value}")
    if requested in TRANSITIONS[current]:
        return
    if requested in _RANK and current in _RANK and _RANK[requested] < _RANK[current]:
        raise Rejected(
            "out_of_order", f"{requested.value!r} arrived after the incident reached {current.value!r}"
        )
    allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing"
    raise Rejected(
        "illegal_transition", f"{current.value} -> {requested.value} is not allowed (allowed: {allowed})"
    )


def parse_status(raw: str) -> Status:
    try:
        return Status(raw)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise Rejected("unknown_status", f"unknown status {raw!r} (known: {known})") from None
