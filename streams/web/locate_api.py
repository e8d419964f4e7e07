"""``GET /api/locate`` on the worker's web server: which ward owns a point or an address.

Answers what ``ioc locate --json`` prints, with the worker's own boundary layers; the decision is
:func:`routers.locate.query.locate_query`. A plain handler: authentication, if any, wraps it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from routers.locate.query import locate_query
from streams.app import app


@app.page("/api/locate")
async def locate_page(web: Any, request: Any) -> Any:
    services = app.services.intake
    if services is None:  # a lifecycle-only worker has no boundaries loaded
        return web.json({"error": "not_routing", "detail": "this worker does not locate; ask a pipeline worker"},
                        status=503)
    params = {name: request.query.get(name) for name in request.query}
    if "address" in params:  # the first address pays for loading the name tables (~1 s): off the loop
        status, body = await asyncio.to_thread(locate_query, services.locator, params)
    else:
        status, body = locate_query(services.locator, params)
    return web.json(body, status=status)
