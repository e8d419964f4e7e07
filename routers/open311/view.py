"""``GET requests.json`` and ``GET requests/{id}.json``: what the API kept at POST time, what the
pipeline made of the report (tracking) and the incident it joined -> a GeoReport v2 service request.

Status is GeoReport's two-valued one: ``closed`` once the ward resolved or closed the incident, and
also when the pipeline could not take the report at all (dead-lettered, or unroutable: no ward
owns the place); ``extended_attributes.ioc_state`` says which, so a request never stays "open"
with nobody working on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routers.categories import REPORT_CATEGORIES
from routers.incidents.timeutil import parse_time
from routers.open311.errors import bad_request

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_RANGE = timedelta(days=90)  # GeoReport v2: a search "may not span more than 90 days"
MAX_PAGE_SIZE = 1000
MAX_IDS = 200

# tracking states, in the order they can follow each other
RECEIVED, ROUTED, UNROUTABLE, DEADLETTER = "received", "routed", "unroutable", "deadletter"
TERMINAL = frozenset({UNROUTABLE, DEADLETTER})
CLOSED_STATUSES = frozenset({"resolved", "closed"})

NOTES = {
    UNROUTABLE: "Không xác định được phường/xã phụ trách địa điểm này ({reason}); vui lòng gửi lại với vị trí hoặc địa chỉ rõ hơn.",
    DEADLETTER: "Phản ánh không được tiếp nhận ({reason}).",
    RECEIVED: "Đã tiếp nhận, đang chuyển đến phường/xã phụ trách.",
    ROUTED: "Đã chuyển đến {agency}.",
}


def w3(moment: str | datetime | None) -> str | None:
    """An instant in the W3C profile of ISO 8601 GeoReport asks for, in Vietnam time:
    ``2026-06-12T23:00:00+07:00``."""
    if moment is None:
        return None
    instant = parse_time(moment) if isinstance(moment, str) else moment
    return instant.astimezone(VIETNAM).isoformat(timespec="seconds")


def _later(*moments: str | None) -> str | None:
    known = [parse_time(m) for m in moments if m]
    return None if not known else w3(max(known))


def _notes(tracking: Mapping[str, Any], incident: Mapping[str, Any] | None, agency: str | None) -> str:
    state = tracking.get("state") or RECEIVED
    if state in TERMINAL:
        return NOTES[state].format(reason=tracking.get("reason") or state)
    if incident is not None:
        result = incident.get("result") or {}
        if incident.get("status") in CLOSED_STATUSES and result.get("summary"):
            return str(result["summary"])
        for entry in reversed(incident.get("history") or ()):
            if entry.get("note"):
                return str(entry["note"])
        return NOTES[ROUTED].format(agency=agency or "phường/xã phụ trách")
    return NOTES[RECEIVED]


def remembered(tracking: Mapping[str, Any]) -> dict[str, Any]:
    """What the tracker kept of an incident: enough for status, notes and the responsible ward."""
    return {"id": tracking.get("incident"), "status": tracking.get("incident_status"), "ward": tracking.get("ward"),
            "ward_name": tracking.get("ward_name"), "result": {"summary": tracking.get("summary")}, "history": []}


def service_request(record: Mapping[str, Any], tracking: Mapping[str, Any],
                    incident: Mapping[str, Any] | None) -> dict[str, Any]:
    """One GeoReport v2 service request (no personal data: the API never kept any)."""
    state = tracking.get("state") or RECEIVED
    if state == ROUTED and incident is None and tracking.get("incident_status"):
        incident = remembered(tracking)  # the incident's document aged out of the serving index
    if state == ROUTED and incident is None:
        state = RECEIVED  # not indexed yet
    closed = state in TERMINAL or (incident is not None and incident.get("status") in CLOSED_STATUSES)
    agency = None
    expected = None
    service_notice = None
    updated = _later(record.get("requested_datetime"), tracking.get("updated_at"))
    lat, lon = record.get("lat"), record.get("long")
    if incident is not None:
        agency = f"{incident.get('ward_name') or 'Phường/xã'} ({incident.get('ward')})"
        expected = w3(incident.get("resolve_due"))
        resolve_s = (incident.get("sla") or {}).get("resolve_s")
        if isinstance(resolve_s, int):
            service_notice = f"Thời hạn xử lý: {resolve_s / 3600:g} giờ kể từ khi tiếp nhận."
        updated = _later(updated, incident.get("updated_at"), incident.get("created_at"))
        if lat is None and isinstance(incident.get("point"), dict):
            lat, lon = incident["point"].get("lat"), incident["point"].get("lon")
    media = list(record.get("media_urls") or ())
    code = str(record["service_code"])
    extended: dict[str, Any] = {"ioc_state": state, "media_urls": media}
    if incident is not None:
        extended.update(incident_id=incident.get("id"), incident_status=incident.get("status"), ward=incident.get("ward"))
    if state in TERMINAL:
        extended["reason"] = tracking.get("reason")
    return {
        "service_request_id": record["service_request_id"],
        "status": "closed" if closed else "open",
        "status_notes": _notes(tracking, incident, agency),
        "service_name": REPORT_CATEGORIES[code][0] if code in REPORT_CATEGORIES else code,
        "service_code": code,
        "description": record.get("description"),
        "agency_responsible": agency,
        "service_notice": service_notice,
        "requested_datetime": w3(record.get("requested_datetime")),
        "updated_datetime": updated,
        "expected_datetime": expected,
        "address": record.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": media[0] if media else None,
        "extended_attributes": extended,
    }


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """``GET requests.json`` filters. ``ids`` (when given) override every other filter."""

    ids: tuple[str, ...] = ()
    service_codes: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None
    page_size: int = MAX_PAGE_SIZE
    page: int = 1

    def wants(self, request: Mapping[str, Any]) -> bool:
        if self.ids:
            return True
        if self.service_codes and request["service_code"] not in self.service_codes:
            return False
        return not self.statuses or request["status"] in self.statuses


def _list(params: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in (params.get(name) or "").split(",") if v.strip()]


def _instant(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw.strip())
    except (ValueError, TypeError, OverflowError):
        raise bad_request("bad_date", f"{name} {raw[:40]!r} is not a W3C date-time (2026-06-12T00:00:00+07:00)") from None


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"bad_{name}", f"{name} {raw[:20]!r} is not a whole number") from None
    if not low <= value <= high:
        raise bad_request(f"bad_{name}", f"{name} must be between {low} and {high}")
    return value


def parse_request_query(params: Mapping[str, str], now: datetime) -> RequestQuery:
    ids = tuple(dict.fromkeys(_list(params, "service_request_id")))
    if len(ids) > MAX_IDS:
        raise bad_request("too_many_ids", f"{len(ids)} service_request_id values (limit {MAX_IDS})")
    codes = frozenset(_list(params, "service_code"))
    unknown = sorted(codes - set(REPORT_CATEGORIES))
    if unknown:
        raise bad_request("unknown_service_code", f"service_code {unknown[0][:64]!r} is not offered; see services.json")
    statuses = frozenset(_list(params, "status"))
    if statuses - {"open", "closed"}:
        raise bad_request("bad_status", "status is open, closed or both (comma-separated)")
    start, end = _instant(params, "start_date"), _instant(params, "end_date")
    if start is None and end is None:
        end = now
    try:
        if start is None:
            assert end is not None
            start = end - MAX_RANGE
        if end is None:
            end = start + MAX_RANGE
    except OverflowError:
        raise bad_request("bad_date", "start_date/end_date out of range") from None
    if end < start:
        raise bad_request("bad_date", "end_date is before start_date")
    if end - start > MAX_RANGE:
        raise bad_request("bad_date", "start_date and end_date may not span more than 90 days")
    return RequestQuery(ids=ids, service_codes=codes, statuses=statuses, start=start, end=end,
                        page_size=_int(params, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
                        page=_int(params, "page", 1, 1, 10_000))


def select(requests: Sequence[dict[str, Any]], query: RequestQuery) -> list[dict[str, Any]]:
    """Filter (newest first already) and cut the page."""
    wanted = [r for r in requests if query.wants(r)]
    first = (query.page - 1) * query.page_size
    return wanted[first : first + query.page_size]
