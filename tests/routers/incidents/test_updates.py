"""Status update meaning checks: each rejection names its reason."""

from __future__ import annotations

import pytest

from routers.exceptions import Rejected
from routers.incidents.status import Status
from routers.incidents.updates import update_from_json

GOOD = {"update_id": "u1", "incident_id": "inc-1", "ward": "27142", "status": "acknowledged"}


def test_minimal_update() -> None:
    update = update_from_json(GOOD)
    assert update.status == Status.ACKNOWLEDGED and update.actor == "ward:27142" and update.at is None


def test_full_resolution() -> None:
    update = update_from_json({**GOOD, "status": "resolved", "at": "2026-06-12T16:00:00+07:00", "actor": "o-1",
                               "result": {"outcome": "fixed", "summary": "Drain cleared"}})
    assert update.outcome == "fixed" and update.summary == "Drain cleared"
    assert update.at is not None and update.at.hour == 9


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        ([], "bad_update", "JSON object"),
        ({**GOOD, "update_id": ""}, "bad_update", "'update_id' is required"),
        ({k: v for k, v in GOOD.items() if k != "incident_id"}, "bad_update", "'incident_id' is required"),
        ({**GOOD, "ward": "2714"}, "bad_update", "not a 5-digit ward code"),
        ({**GOOD, "status": "done"}, "unknown_status", "unknown status 'done'"),
        ({**GOOD, "status": "reassigned"}, "bad_update", "needs 'to_ward'"),
        ({**GOOD, "at": "yesterday"}, "bad_update", "not an ISO 8601"),
        ({**GOOD, "at": "2026-06-12T09:00:00"}, "bad_update", "without a time zone"),
        ({**GOOD, "result": {"outcome": "magic"}}, "bad_update", "unknown outcome 'magic'"),
        ({**GOOD, "result": "done"}, "bad_update", "'result' is an object"),
    ],
)
def test_rejections(body, reason: str, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        update_from_json(body)
    assert caught.value.reason == reason


def test_a_reassignment_to_the_same_ward_parses_it_is_a_hand_back_or_refused_by_permissions() -> None:
    """``to_ward`` = ``ward`` is how an agency hands an incident back; a ward sending it is refused
    by ``routers.incidents.permissions.check_claim`` (tests/routers/incidents/test_permissions.py)."""
    update = update_from_json({**GOOD, "status": "reassigned", "to_ward": "27142"})
    assert update.to_ward == "27142"
