"""Citizen reports from the 1022 portal, hotline and app (topic ``ioc.in.reports``)."""

from __future__ import annotations

from typing import Any

from routers.categories import REPORT_CATEGORIES
from routers.events import Event, Reporter, Source
from routers.exceptions import Rejected
from routers.ingest import fields

CHANNELS = frozenset({"portal", "hotline", "app", "zalo", "email", "sms"})


def decode_report(obj: dict[str, Any]) -> Event:
    corrections: list[str] = []
    report_id = fields.required_text(obj, "id", fields.MAX_ID)
    category = fields.required_text(obj, "category", 64)
    if category not in REPORT_CATEGORIES:
        raise Rejected("unknown_category", f"category {category!r} is not a 1022 category")
    channel = fields.text(obj, "channel", 32)
    if channel is not None and channel not in CHANNELS:
        raise Rejected("unknown_channel", f"channel {channel!r} is not one of {sorted(CHANNELS)}")
    location = obj.get("location")
    if location is None:
        location = {}
    if not isinstance(location, dict):
        raise Rejected("wrong_type", "field 'location' must be an object")
    point = fields.point(location, corrections)
    address = fields.text(location, "address", fields.MAX_ADDRESS)
    if point is None and address is None:
        raise Rejected("no_location", "a report needs location.lat/lon or location.address")
    reporter = obj.get("reporter")
    person = None
    if reporter is not None:
        if not isinstance(reporter, dict):
            raise Rejected("wrong_type", "field 'reporter' must be an object")
        person = Reporter(fields.text(reporter, "name", fields.MAX_NAME), fields.text(reporter, "phone", 32))
    return Event(
        id=report_id,
        source=Source.REPORT,
        kind=category,
        occurred_at=fields.timestamp(obj, "reported_at"),
        point=point,
        address=address,
        description=fields.text(obj, "description", fields.MAX_TEXT),
        channel=channel,
        reporter=person,
        corrections=tuple(corrections),
    )
