"""Citizen reports from the 1022 portal, hotline and app (topic ``ioc.in.reports``)."""

from __future__ import annotations

from typing import Any

from routers.categories import REPORT_CATEGORIES
from routers.events import Event, Reporter, Source
from routers.exceptions import Rejected
from routers.ingest import fields

CHANNELS = frozenset({"portal", "hotline", "app", "zalo", "email", "sms"})
MAX_MEDIA = 10
MAX_URL = 2000
MAX_EMAIL = 254


def media_urls(obj: dict[str, Any]) -> tuple[str, ...]:
    """``media_urls``: up to :data:`MAX_MEDIA` absolute http(s) URLs of photos or videos."""
    value = obj.get("media_urls")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Rejected("wrong_type", "field 'media_urls' must be a list of URLs")
    if len(value) > MAX_MEDIA:
        raise Rejected("too_many_media", f"field 'media_urls' has {len(value)} URLs (limit {MAX_MEDIA})")
    urls = []
    for url in value:
        if not isinstance(url, str):
            raise Rejected("wrong_type", "field 'media_urls' must hold strings")
        url = url.strip()
        if len(url) > MAX_URL:
            raise Rejected("field_too_long", f"a media URL has {len(url)} characters (limit {MAX_URL})")
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or any(c.isspace() for c in url):
            raise Rejected("bad_media_url", f"media URL {url[:80]!r} is not an absolute http(s) URL")
        urls.append(url)
    return tuple(urls)


def decode_report(obj: dict[str, Any]) -> Event:
    corrections: list[str] = []
    report_id = fields.required_text(obj, "id", fields.MAX_ID)
    category = fields.required_text(obj, "category", 64)
    if category not in REPORT_CATEGORIES:
        raise Rejected("unknown_category", f"category {category!r} is not a 1022 category")
    channel = fields.text(obj, "channel", 32)
    if channel is not None and channel not in CHANNELS:
        raise Rejected("unknown_channel", f"channel {channel!r} is not one of {sorted(CHANNELS)}")
    location = fields.optional_object(obj, "location")
    point = fields.point(location, corrections)
    address = fields.text(location, "address", fields.MAX_ADDRESS)
    if point is None and address is None:
        raise Rejected("no_location", "a report needs location.lat/lon or location.address")
    reporter = obj.get("reporter")
    person = None
    if reporter is not None:
        if not isinstance(reporter, dict):
            raise Rejected("wrong_type", "field 'reporter' must be an object")
        person = Reporter(fields.text(reporter, "name", fields.MAX_NAME), fields.text(reporter, "phone", 32),
                          fields.text(reporter, "email", MAX_EMAIL))
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
        media=media_urls(obj),
    )
