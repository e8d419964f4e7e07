"""What happened to a report after the API produced it, read from the pipeline's public outputs:
``vn.ioc.incident.state`` (it joined an incident), ``vn.ioc.event.unroutable`` (no ward owns the
place) and ``vn.ioc.event.deadletter`` (the pipeline refused it). Each reader returns plain data
or None for a message about something else; none raises on a malformed message."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from routers.incidents.model import report_ids_of
from routers.open311.view import DEADLETTER, ROUTED, UNROUTABLE


@dataclass(frozen=True, slots=True)
class Outcome:
    report_id: str
    state: str  # routed | unroutable | deadletter
    incident_id: str | None = None
    reason: str | None = None
    # the incident's last known status, ward and result, kept with the request so that it still
    # reads "closed" with the ward's notes after the incident's own document aged out (7 days)
    incident_status: str | None = None
    ward: str | None = None
    ward_name: str | None = None
    summary: str | None = None


def _data(envelope: Any) -> dict[str, Any] | None:
    data = envelope.get("data") if isinstance(envelope, dict) else None
    return data if isinstance(data, dict) else None


def from_incident(envelope: Any) -> list[Outcome]:
    """Every citizen report of an incident -> ``routed`` to that incident."""
    data = _data(envelope)
    if data is None or not isinstance(data.get("id"), str):
        return []
    raw_result = data.get("result")
    result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
    known = {"incident_status": _str(data.get("status")), "ward": _str(data.get("ward")),
             "ward_name": _str(data.get("ward_name")), "summary": _str(result.get("summary"))}
    # report_ids: every report of the incident (its evidence is a window, see docs/lifecycle.md)
    return [Outcome(report_id, ROUTED, incident_id=data["id"], **known) for report_id in report_ids_of(data)]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def from_unroutable(envelope: Any) -> Outcome | None:
    data = _data(envelope)
    event = data.get("event") if data else None
    if not isinstance(event, dict) or event.get("source") != "report" or not isinstance(event.get("id"), str):
        return None
    assert data is not None
    return Outcome(event["id"], UNROUTABLE, reason=str(data.get("reason") or "unroutable"))


def from_deadletter(envelope: Any, reports_topic: str) -> Outcome | None:
    """A report refused by the pipeline: its id is read back from the original bytes."""
    data = _data(envelope)
    if data is None or data.get("topic") != reports_topic or not isinstance(data.get("original_base64"), str):
        return None
    try:
        original = orjson.loads(base64.b64decode(data["original_base64"], validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(original, dict) or not isinstance(original.get("id"), str):
        return None
    return Outcome(original["id"], DEADLETTER, reason=str(data.get("reason") or "deadletter"))
