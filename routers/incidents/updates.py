"""A ward system's status update, as domain data (the wire contract is
``streams/contracts/status.schema.json``; this module checks meaning, not shape).

Example::

    {"update_id": "w26734-000123", "incident_id": "inc-...", "ward": "26734",
     "status": "resolved", "at": "2026-05-01T10:42:00+07:00", "actor": "officer-17",
     "result": {"outcome": "fixed", "summary": "Drain cleared"}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from routers.exceptions import Rejected
from routers.incidents.status import Status, parse_status
from routers.incidents.timeutil import parse_time

WARD_CODE = re.compile(r"^\d{5}$")
OUTCOMES = ("fixed", "no_action_needed", "duplicate", "referred", "not_found")


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    update_id: str
    incident_id: str
    ward: str
    status: Status
    actor: str
    at: datetime | None = None
    note: str | None = None
    to_ward: str | None = None
    outcome: str | None = None
    summary: str | None = None


def update_from_json(body: Any) -> StatusUpdate:
    """Decoded JSON -> :class:`StatusUpdate`, or :class:`Rejected` (``bad_update``/``unknown_status``)."""
    if not isinstance(body, dict):
        raise Rejected("bad_update", "a status update is a JSON object")
    for key in ("update_id", "incident_id", "ward", "status"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise Rejected("bad_update", f"field {key!r} is required (a non-empty string)")
    if not WARD_CODE.match(body["ward"]):
        raise Rejected("bad_update", f"ward {body['ward']!r} is not a 5-digit ward code")
    status = parse_status(body["status"])
    to_ward = body.get("to_ward")
    if status == Status.REASSIGNED and (not isinstance(to_ward, str) or not WARD_CODE.match(to_ward)):
        raise Rejected("bad_update", "a reassignment needs 'to_ward', the 5-digit code of the right ward")
    # ``to_ward`` equal to ``ward``: an agency or the city IOC handing the incident back to its ward;
    # a ward cannot reassign to itself (routers.incidents.permissions.check_claim refuses it).
    at = None
    if body.get("at") is not None:
        try:
            at = parse_time(str(body["at"]))
        except ValueError as exc:
            raise Rejected("bad_update", str(exc)) from None
    result = body.get("result") or {}
    if not isinstance(result, dict):
        raise Rejected("bad_update", "'result' is an object with 'outcome' and 'summary'")
    outcome = result.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise Rejected("bad_update", f"unknown outcome {outcome!r} (known: {', '.join(OUTCOMES)})")
    return StatusUpdate(
        update_id=body["update_id"], incident_id=body["incident_id"], ward=body["ward"], status=status,
        actor=str(body.get("actor") or f"ward:{body['ward']}"), at=at, note=body.get("note"),
        to_ward=to_ward if status == Status.REASSIGNED else None,
        outcome=outcome, summary=result.get("summary"),
    )
