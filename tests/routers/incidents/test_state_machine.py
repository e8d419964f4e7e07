"""Property test: no sequence of updates, evidence and clock ticks corrupts an incident,
and every rejected update is refused with a known reason and changes nothing."""

from __future__ import annotations

import copy
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from routers.decision import Sla
from routers.exceptions import Rejected
from routers.incidents.book import IncidentBook
from routers.incidents.correlation import incident_id
from routers.incidents.status import OPEN, TRANSITIONS, Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import T0, offset, routed_event

WARD, OTHER = "27142", "26740"
REASONS = {"illegal_transition", "out_of_order", "already_in_status", "not_settable", "unknown_incident", "wrong_ward"}


class IncidentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = IncidentBook({}, {}, {})
        self.now = T0
        self.book.on_routed(routed_event("rep-0", priority="P1", sla=Sla(300, 3600)), self.now)
        self.id = incident_id("rep-0")
        self.ward = WARD
        self.n = 0
        self.escalations_sent: list[str] = []

    @rule(status=st.sampled_from(list(Status)), ward=st.sampled_from([WARD, OTHER]), known=st.booleans())
    def update(self, status: Status, ward: str, known: bool) -> None:
        self.n += 1
        to_ward = OTHER if ward == WARD else WARD
        update = StatusUpdate(f"u{self.n}", self.id if known else "inc-unknown", ward, status, "o",
                              to_ward=to_ward if status == Status.REASSIGNED else None)
        before = copy.deepcopy((self.book.incidents, self.book.wards))
        current = self.book.for_update(ward, self.id) if known else None
        try:
            effects = self.book.on_update(update, self.now)
        except Rejected as rejected:
            assert rejected.reason in REASONS, rejected.reason
            assert (self.book.incidents, self.book.wards) == before
            if current is not None and current.moved_to is None and current.status != status:
                assert status not in TRANSITIONS[current.status] or status in (Status.ROUTED, Status.NEW)
            return
        assert current is not None and status in TRANSITIONS[current.status]
        for handoff in (o for o in effects.outbound if o.channel == "handoff"):
            self.book.on_handoff(handoff.value, self.now)  # same partition: the live copy moves keys
            self.ward = handoff.key

    @rule(seconds=st.integers(0, 3 * 3600))
    def advance_and_tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        for ward in self.book.due_wards(self.now):
            effects = self.book.on_tick(ward, self.now)
            self.escalations_sent += [o.value["id"] for o in effects.outbound if o.channel == "escalations"]

    @rule(dx=st.integers(-300, 300), source=st.sampled_from(["report", "camera"]))
    def evidence(self, dx: int, source: str) -> None:
        self.n += 1
        self.book.on_routed(routed_event(f"e{self.n}", source=source, at=self.now, point=offset(dx, 0)), self.now)

    @invariant()
    def consistent(self) -> None:
        live = self.book.for_update(self.ward, self.id)  # a closed one: the latest closed stay decoded
        assert live is not None and live.moved_to is None
        assert [h.seq for h in live.history] == list(range(1, len(live.history) + 1))
        assert live.history[-1].status == live.status
        for before, after in zip(live.history, live.history[1:], strict=False):
            assert after.previous == before.status
            assert after.status in TRANSITIONS[before.status], (before.status, after.status)
        assert (live.paused_since is not None) == (live.status == Status.WAITING_CITIZEN)
        assert len(set(live.breaches)) == len(live.breaches)
        assert len(set(self.escalations_sent)) == len(self.escalations_sent)  # each rung published once
        ward_open = self.book.wards.get(self.ward, {"open": []})["open"]
        assert (self.id in ward_open) == (live.status in OPEN)
        assert len({e.event_id for e in live.evidence}) == len(live.evidence)


IncidentMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestIncidentMachine = IncidentMachine.TestCase
