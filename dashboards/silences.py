"""``GET /api/silences``: the silences on ``ioc.config.silences`` with author, comment and time left.

Read from the topic (a few records, one partition) at most every ``ttl_s`` in a thread, so a
page polling every few seconds costs one read per interval whatever the number of viewers.
Answer: ``{"silences": [Silence.describe(now)...], "active": N, "pending": N}``, active and
pending ones only, soonest to end first; 503 when no broker is configured.

A ward viewer is refused (403): silences name their author and say why, and most match on labels
(kind, family, rule) that reach every ward, so none can be shown as "only its wards'" without
telling it about others. The operator and city-wide viewers see them all.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from routers.rules.silences import SilenceBook


class SilencesView:
    def __init__(self, bootstrap: str | None, ttl_s: float = 2.0) -> None:
        self.bootstrap = bootstrap
        self.ttl_s = ttl_s
        self._book: SilenceBook | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def book(self) -> SilenceBook:
        from streams.rules_live.silences import read_silences

        async with self._lock:
            if self._book is None or time.monotonic() - self._read_at >= self.ttl_s:
                self._book = await asyncio.to_thread(read_silences, str(self.bootstrap))
                self._read_at = time.monotonic()
            return self._book

    async def payload(self, now: float) -> dict[str, Any]:
        live = [s for s in (await self.book()).all() if s.state(now) != "expired"]
        live.sort(key=lambda s: (s.ends_at, s.id))
        return {"silences": [s.describe(now) for s in live],
                "active": sum(1 for s in live if s.state(now) == "active"),
                "pending": sum(1 for s in live if s.state(now) == "pending")}


SILENCES = web.AppKey("silences", SilencesView)


async def silences_endpoint(request: web.Request) -> web.Response:
    from dashboards.server import VIEWER

    viewer = request.get(VIEWER)
    if viewer is not None and viewer.ward_scope is not None:
        return web.json_response({"error": "forbidden", "message": "silences are city-wide: a ward viewer may not list them"},
                                 status=403)
    view = request.app[SILENCES]
    if not view.bootstrap:
        return web.json_response({"error": "no_kafka", "message": "IOC_KAFKA_BOOTSTRAP is not set"}, status=503)
    try:
        body = await view.payload(time.time())
    except Exception as exc:  # an unreachable broker must answer, not crash the page
        return web.json_response({"error": "kafka_unreachable", "message": str(exc)}, status=503)
    return web.json_response(body)


def add_silences(app: web.Application, bootstrap: str | None) -> None:
    """Serve ``/api/silences`` from ``bootstrap``'s ``ioc.config.silences``."""
    app[SILENCES] = SilencesView(bootstrap)
    app.router.add_get("/api/silences", silences_endpoint)
