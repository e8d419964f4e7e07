"""HTTP query handling for ``/api/incidents``, shared by the worker's pages and the dashboard.

``GET /api/incidents?ward=27142&status=open,acknowledged&since=2026-06-12T00:00:00Z&limit=50``
-> ``{"incidents": [...], "count": n}``; ``GET /api/incidents/<id>`` -> the incident with its
history. Bad parameters -> 400 ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routers.exceptions import Rejected
from routers.incidents.timeutil import parse_time
from routers.incidents.updates import WARD_CODE
from streams.lifecycle.serving import STATUS_NAMES, IncidentIndex, Query

MAX_LIMIT = 1000


def parse_query(params: Mapping[str, str]) -> Query:
    ward = params.get("ward") or None
    if ward is not None and not WARD_CODE.match(ward):
        raise Rejected("bad_ward", f"ward {ward!r} is not a 5-digit ward code")
    statuses = frozenset(s for s in (params.get("status") or "").split(",") if s)
    unknown = statuses - STATUS_NAMES
    if unknown:
        raise Rejected("bad_status", f"unknown status {sorted(unknown)} (known: {', '.join(sorted(STATUS_NAMES))})")
    since = None
    if params.get("since"):
        try:
            since = parse_time(params["since"])
        except ValueError as exc:
            raise Rejected("bad_since", str(exc)) from None
    try:
        limit = int(params.get("limit") or 200)
    except ValueError:
        raise Rejected("bad_limit", f"limit {params.get('limit')!r} is not a number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Rejected("bad_limit", f"limit must be between 1 and {MAX_LIMIT}")
    return Query(ward=ward, statuses=statuses, since=since, limit=limit)


async def list_response(index: IncidentIndex, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        query = parse_query(params)
    except Rejected as rejected:
        return 400, {"error": rejected.reason, "message": rejected.detail}
    incidents = await index.list(query)
    return 200, {"incidents": incidents, "count": len(incidents)}


async def detail_response(index: IncidentIndex, incident_id: str) -> tuple[int, dict[str, Any]]:
    body = await index.get(incident_id)
    if body is None:
        return 404, {"error": "unknown_incident", "message": f"no incident {incident_id} (or it aged out)"}
    return 200, body


async def scoped_list_response(index: IncidentIndex, params: Mapping[str, str],
                               wards: frozenset[str] | None) -> tuple[int, dict[str, Any]]:
    """:func:`list_response` for a caller who may see only ``wards`` (``None``: every ward): another
    ward asked for -> 403; no ward asked for -> its own wards, one query each, merged newest first."""
    if wards is None:
        return await list_response(index, params)
    asked = params.get("ward")
    if asked and asked not in wards:
        return 403, {"error": "forbidden_ward", "message": f"this caller may not see ward {asked}"}
    incidents: list[dict[str, Any]] = []
    for code in [asked] if asked else sorted(wards):
        status, body = await list_response(index, {**params, "ward": code})
        if status != 200:
            return status, body
        incidents.extend(body["incidents"])
    incidents.sort(key=lambda i: str(i.get("updated_at") or i.get("created_at") or ""), reverse=True)
    limit = parse_query(params).limit
    return 200, {"incidents": incidents[:limit], "count": min(len(incidents), limit)}


async def scoped_detail_response(index: IncidentIndex, incident_id: str,
                                 wards: frozenset[str] | None) -> tuple[int, dict[str, Any]]:
    """:func:`detail_response`; another ward's incident is as unknown to the caller as a missing one."""
    status, body = await detail_response(index, incident_id)
    if wards is not None and status == 200 and body.get("ward") not in wards:
        return 404, {"error": "unknown_incident", "message": f"no incident {incident_id} (or it aged out)"}
    return status, body
