"""``POST requests.json``: a GeoReport v2 form -> a report in the ``ioc.in.reports`` contract.

The report is checked with the pipeline's own decoder (:func:`routers.ingest.reports.decode_report`)
before it is produced: what the API accepts, the pipeline accepts, and a refusal names the same
reason code the dead-letter topic would. There is no second path into the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from routers.envelope import iso
from routers.events import Event
from routers.exceptions import Rejected
from routers.ingest.reports import MAX_MEDIA, decode_report
from routers.open311.clients import ApiClient, ApiKeys, Jurisdiction, Jurisdictions
from routers.open311.errors import GeoReportError, bad_request
from routers.privacy import mask_contacts

Form = Mapping[str, Sequence[str]]  # every value of every field, as an HTTP form carries them

MAX_FIELD_CHARS = 5000
FIELD_LIMITS = {"first_name": 100, "last_name": 100}  # the rest is limited by the report contract
# GeoReport fields this API reads; anything else (device_id, account_id, attribute[...]) is ignored.
SINGLE_FIELDS = (
    "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "description",
    "first_name", "last_name", "phone", "email",
)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A POST that passed: the report to produce (key ``report["id"]``) and what the API keeps
    about it (no personal data: that travels only inside the report, to the owning ward)."""

    report: dict[str, Any]
    record: dict[str, Any]
    client: ApiClient


def _one(form: Form, name: str) -> str | None:
    values = form.get(name) or ()
    if len(values) > 1:
        raise bad_request("repeated_parameter", f"{name} is given {len(values)} times")
    if not values:
        return None
    value = values[0].strip()
    limit = FIELD_LIMITS.get(name, MAX_FIELD_CHARS)
    if len(value) > limit:
        raise bad_request("field_too_long", f"{name} has {len(value)} characters (limit {limit})")
    return value or None


def _coordinate(form: Form, name: str) -> float | None:
    raw = _one(form, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request("bad_coordinates", f"{name} {raw[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise bad_request("bad_coordinates", f"{name} must be a finite number")
    return value


def media_from(form: Form) -> list[str]:
    """``media_url`` once, several times, or as ``media_url[]`` (how PHP-style clients send lists)."""
    urls = [u.strip() for name in ("media_url", "media_url[]") for u in form.get(name) or () if u.strip()]
    if len(urls) > MAX_MEDIA:
        raise bad_request("too_many_media", f"{len(urls)} media_url values (limit {MAX_MEDIA})")
    return urls


def authenticate(form: Form, keys: ApiKeys) -> ApiClient:
    client = keys.client_for(_one(form, "api_key"))
    if client is None:
        raise GeoReportError(403, "invalid_api_key", "api_key is missing or not valid")
    return client


def jurisdiction_of(form: Form, jurisdictions: Jurisdictions) -> Jurisdiction:
    jid = _one(form, "jurisdiction_id")
    found = jurisdictions.get(jid)
    if found is None:
        raise GeoReportError(404, "jurisdiction_not_found", f"jurisdiction_id {str(jid)[:64]!r} is not served here")
    return found


def build_report(form: Form, keys: ApiKeys, jurisdictions: Jurisdictions, request_id: str, now: datetime,
                 max_message_bytes: int | None = None) -> Accepted:
    """Check the form and build the report; raises :class:`GeoReportError` (403, 404 or 400)."""
    client = authenticate(form, keys)
    jurisdiction = jurisdiction_of(form, jurisdictions)
    service_code = _one(form, "service_code")
    if service_code is None:
        raise bad_request("missing_service_code", "service_code is required; see services.json")
    lat, lon = _coordinate(form, "lat"), _coordinate(form, "long")
    if (lat is None) != (lon is None):
        raise bad_request("bad_coordinates", "lat and long must be given together")
    address = _one(form, "address_string")
    if lat is None and address is None:
        raise bad_request("no_location", "a request needs lat and long, or address_string (address_id is not used here)")
    location: dict[str, Any] = {}
    if lat is not None:
        location.update(lat=lat, lon=lon)
    if address is not None:
        location["address"] = jurisdiction.complete_address(address)
    report: dict[str, Any] = {
        "id": request_id, "channel": client.channel, "category": service_code, "reported_at": iso(now),
        "location": location,
    }
    description = _one(form, "description")
    if description is not None:
        report["description"] = description
    name = " ".join(p for p in (_one(form, "first_name"), _one(form, "last_name")) if p) or None
    reporter = {k: v for k, v in (("name", name), ("phone", _one(form, "phone")), ("email", _one(form, "email"))) if v}
    if reporter:
        report["reporter"] = reporter
    media = media_from(form)
    if media:
        report["media_urls"] = media
    event = _checked(report)
    if max_message_bytes is not None:
        import orjson

        size = len(orjson.dumps(report))
        if size > max_message_bytes:
            raise bad_request("too_large", f"the report is {size} bytes (limit {max_message_bytes})")
    return Accepted(report, record_of(event, service_code, jurisdiction, client, address), client)


def _checked(report: dict[str, Any]) -> Event:
    try:
        return decode_report(report)
    except Rejected as rejected:
        if rejected.reason == "unknown_category":
            raise bad_request("unknown_service_code", f"service_code {report['category'][:64]!r} is not offered; "
                              "see services.json") from None
        raise bad_request(rejected.reason, rejected.detail) from None


def record_of(event: Event, service_code: str, jurisdiction: Jurisdiction, client: ApiClient,
              address: str | None) -> dict[str, Any]:
    """What ``GET requests`` shows later, kept by the API: no name, phone or email; a phone number
    typed into the description is masked, as on every topic but the ward's."""
    return {
        "service_request_id": event.id,
        "service_code": service_code,
        "jurisdiction_id": jurisdiction.id,
        "client": client.name,
        "requested_datetime": iso(event.occurred_at),
        "description": None if event.description is None else mask_contacts(event.description),
        "address": address,
        "lat": None if event.point is None else event.point.lat,
        "long": None if event.point is None else event.point.lon,
        "media_urls": list(event.media),
    }
