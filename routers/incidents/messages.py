"""CloudEvents envelopes the lifecycle publishes. Ids are stable, so consumers dedupe redeliveries.

* ward notices (``ioc.ward.<code>``): ``vn.ioc.incident.opened|updated|escalated|resolved|reassigned``,
  id from (incident, version): the same state is always the same message. ``data`` is the compact
  incident (its evidence window, ``evidence_count``, ``report_ids``) without its history, and
  ``new_evidence``: the evidence items this change added or updated, each published once;
* audit state (``ioc.incidents``, compacted, key = incident id): ``vn.ioc.incident.state`` with the
  compact incident and its full history (the whole evidence list is in the serving index);
* escalations (``ioc.escalations``): ``vn.ioc.incident.escalation``, id from (incident, rung index);
* results (``ioc.out.results``, key = the original report id): ``vn.ioc.report.result``, id from
  (incident, report, resolution count), so a reopen + resolve sends a new result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from routers.envelope import SOURCE, SPECVERSION, iso, stable_id
from routers.incidents.escalation import LEVEL_NAMES
from routers.incidents.model import Escalation, Incident
from routers.incidents.timeutil import fmt

TYPE_PREFIX = "vn.ioc.incident."
TYPE_STATE = "vn.ioc.incident.state"
TYPE_ESCALATION = "vn.ioc.incident.escalation"
TYPE_RESULT = "vn.ioc.report.result"
NOTICE_CHANGES = ("opened", "updated", "escalated", "resolved", "reassigned")


def _envelope(id_: str, type_: str, subject: str, now: datetime, incident: Incident, data: Any) -> dict[str, Any]:
    return {
        "specversion": SPECVERSION,
        "id": id_,
        "source": f"{SOURCE}/lifecycle",
        "type": type_,
        "subject": subject,
        "time": fmt(now),  # the batch's one moment: formatted once (remembered)
        "datacontenttype": "application/json",
        "iocward": incident.ward,
        "iocpriority": incident.priority,
        "iocincident": incident.id,
        "data": data,
    }


def summary(incident: Incident, body: dict[str, Any] | None = None,
            added: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What a ward system needs to act on (the full history is on ``ioc.incidents`` and the API).
    ``body`` is ``incident.to_json()`` when the caller already has it; ``added``: the evidence
    items this change added (``new_evidence``)."""
    body = dict(body if body is not None else incident.to_json())
    body.pop("history")
    body["evidence_count"] = incident.evidence_count
    body["new_evidence"] = list(added or ())
    return body


def notice(
    incident: Incident, change: str, now: datetime, ward: str | None = None, body: dict[str, Any] | None = None,
    added: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A notice for a ward topic; ``ward`` overrides the addressee (the old ward on reassignment)."""
    if change not in NOTICE_CHANGES:
        raise ValueError(f"unknown notice change {change!r}")
    envelope = _envelope(
        stable_id(incident.id, "notice", change, str(incident.version), ward or incident.ward),
        TYPE_PREFIX + change, incident.id, now, incident, summary(incident, body, added),
    )
    if ward is not None:
        envelope["iocward"] = ward
    return envelope


def state(incident: Incident, now: datetime, body: dict[str, Any] | orjson.Fragment | None = None) -> dict[str, Any]:
    """The audit state of ``incident``; ``body``: its JSON when the caller has it (a dict, or the
    bytes as an ``orjson.Fragment``)."""
    return _envelope(
        stable_id(incident.id, "state", str(incident.version)), TYPE_STATE, incident.id, now, incident,
        body if body is not None else incident.to_json(),
    )


def escalation(incident: Incident, step: Escalation, index: int, now: datetime) -> dict[str, Any]:
    return _envelope(
        stable_id(incident.id, "escalation", str(index)), TYPE_ESCALATION, incident.id, now, incident,
        {
            "incident_id": incident.id,
            "ward": incident.ward,
            "level": step.level,
            "level_name": LEVEL_NAMES[step.level],
            "missed": step.kind,
            "due": iso(step.due),
            "targets": list(step.targets),
            "priority": incident.priority,
            "status": incident.status.value,
            "family": incident.family,
            "evidence_count": incident.evidence_count,
        },
    )


def result(incident: Incident, report_id: str, now: datetime) -> dict[str, Any]:
    outcome = incident.result or {}
    return _envelope(
        stable_id(incident.id, "result", report_id, str(incident.resolutions)), TYPE_RESULT, report_id, now,
        incident,
        {
            "report_id": report_id,
            "incident_id": incident.id,
            "ward": incident.ward,
            "ward_name": incident.ward_name,
            "status": incident.status.value,
            "outcome": outcome.get("outcome"),
            "summary": outcome.get("summary"),
            "resolved_at": None if incident.resolved_at is None else iso(incident.resolved_at),
            "evidence_count": incident.evidence_count,
        },
    )
