"""What the incident view shows of each piece of evidence beyond the incident state: the routed
event as the ward received it (snapshot or photo URL, reading and unit, the citizen's text, the
rules trace that routed it).

The incident state keeps only ids, kinds and values of its evidence. The dashboard already reads
every routed envelope on the city's ward topics (``dashboards.feed.KafkaFeed``); it keeps:

* in Redis (``<app>:dashboard:event:<event id>``, 7 days like resolved incidents): the event
  without personal data (description masked as on the agency topics) and the decision's trace, so
  the view survives a reload and a dashboard restart;
* in memory only (the last ``PERSONAL_MAX`` events): the reporter's name and phone and the
  unmasked description, shown to viewers authorized for the ward. Personal data is never written
  to storage by the dashboard; after a restart the view says it was not retained.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from dashboards.access import Viewer, mask_reporter
from routers.envelope import TYPE_ROUTED
from routers.privacy import mask_contacts

log = logging.getLogger(__name__)

EVENT_TTL_S = 7 * 24 * 3600
PERSONAL_MAX = 20_000
_EVENT_FIELDS = ("source", "kind", "occurred_at", "point", "address", "device_id", "confidence", "value", "unit",
                 "channel", "attributes", "media")


def detail_of(envelope: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
    """A routed envelope -> (event id, the detail kept in Redis, the personal part or ``None``)."""
    if envelope.get("type") != TYPE_ROUTED or not isinstance(envelope.get("data"), Mapping):
        return None
    data = envelope["data"]
    event = data.get("event") or {}
    decision = data.get("decision") or {}
    event_id = event.get("id")
    if not isinstance(event_id, str):
        return None
    detail: dict[str, Any] = {k: event[k] for k in _EVENT_FIELDS if k in event}
    if isinstance(event.get("description"), str):
        detail["description"] = mask_contacts(event["description"])
    detail.update({
        "ward": envelope.get("iocward"), "priority": envelope.get("iocpriority"), "rule": envelope.get("iocrule"),
        "rules_version": envelope.get("iocrulesversion"), "matched": decision.get("matched") or [],
        "targets": decision.get("targets") or [], "suppressed": decision.get("suppressed"),
        "trace": decision.get("trace") or [], "routed_at": envelope.get("time"),
    })
    personal = None
    if event.get("reporter") or event.get("description"):
        personal = {"reporter": event.get("reporter"), "description": event.get("description")}
    return event_id, detail, personal


class EventStore:
    def __init__(self, redis: Any, app_id: str) -> None:
        self.redis = redis
        self.prefix = f"{app_id}:dashboard:event:"
        self._personal: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def remember(self, envelopes: Iterable[Mapping[str, Any]]) -> int:
        """Keep what the view needs of each routed envelope; returns how many were kept."""
        pipe = None if self.redis is None else self.redis.pipeline(transaction=False)
        kept = 0
        for envelope in envelopes:
            found = detail_of(envelope)
            if found is None:
                continue
            event_id, detail, personal = found
            # the owning ward's copy carries the reporter; the other copies must not erase it
            if personal is not None and (personal.get("reporter") or event_id not in self._personal):
                self._personal[event_id] = personal
                self._personal.move_to_end(event_id)
                while len(self._personal) > PERSONAL_MAX:
                    self._personal.popitem(last=False)
            if pipe is not None:
                pipe.set(self.prefix + event_id, orjson.dumps(detail), ex=EVENT_TTL_S)
            kept += 1
        if pipe is not None and kept:
            await pipe.execute()
        return kept

    async def detail(self, event_id: str) -> dict[str, Any] | None:
        """The stored detail of one event (no personal data), ``None`` when unknown."""
        raw = None if self.redis is None else await self.redis.get(self.prefix + event_id)
        return None if raw is None else orjson.loads(raw)

    async def details(self, event_ids: list[str], ward: str | None, viewer: Viewer) -> dict[str, dict[str, Any]]:
        """Event id -> detail as this viewer may see it (personal data only for their wards)."""
        if not event_ids or self.redis is None:
            return {}
        raws = await self.redis.mget([self.prefix + i for i in event_ids])
        allowed = viewer.may_see_personal_data(ward)
        out: dict[str, dict[str, Any]] = {}
        for event_id, raw in zip(event_ids, raws, strict=True):
            if raw is None:
                continue
            detail = orjson.loads(raw)
            personal = self._personal.get(event_id)
            if personal is not None and personal.get("reporter"):
                if allowed:
                    detail["reporter"] = personal["reporter"]
                else:
                    detail["reporter"] = mask_reporter(personal["reporter"])
                    detail["masked"] = True
            elif detail.get("source") == "report":
                detail["reporter_retained"] = False
            if allowed and personal is not None and personal.get("description"):
                detail["description"] = personal["description"]
            detail["images"] = [f"/api/evidence/{quote(event_id, safe='')}/image/{n}" for n in range(len(images_of(detail)))]
            out[event_id] = detail
        return out


IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_TIMEOUT_S = 5.0


def images_of(detail: Mapping[str, Any]) -> list[str]:
    """The pictures of one piece of evidence, in order: the camera's snapshot, then the citizen's
    photos (``media``, issue 15; or a ``media_url`` attribute)."""
    attributes = detail.get("attributes") or {}
    found = [attributes.get("snapshot_url"), *(detail.get("media") or ()), attributes.get("media_url")]
    out: list[str] = []
    for url in found:
        if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in out:
            out.append(url)
    return out


class ImageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def fetch_image(url: str, session: Any) -> tuple[bytes, str]:
    """Fetch a picture for the page, which may load images from its own origin only (CSP):
    image content types only, at most ``IMAGE_MAX_BYTES``, no redirects, ``IMAGE_TIMEOUT_S``."""
    import aiohttp

    try:
        async with session.get(url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=IMAGE_TIMEOUT_S)) as response:
            if response.status != 200:
                raise ImageError(502, f"{url} answered {response.status}")
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not kind.startswith("image/") or kind == "image/svg+xml":  # svg may carry script
                raise ImageError(502, f"{url} is not a picture ({kind or 'no content type'})")
            body = await response.content.read(IMAGE_MAX_BYTES + 1)
            if len(body) > IMAGE_MAX_BYTES:
                raise ImageError(502, f"{url} is larger than {IMAGE_MAX_BYTES} bytes")
            return body, kind
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ImageError(502, f"{url} could not be fetched ({type(exc).__name__})") from None
