"""Worker web pages, served by Faust's own web server on ``IOC_WORKER_WEB_PORT``."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import metrics
from streams.app import app


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    return web.bytes(generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/healthz")
async def health_page(web: Any, request: Any) -> Any:
    consumer_running = app.consumer is not None and app.consumer.started and not app.should_stop
    status = 200 if consumer_running else 503
    return web.json({"status": "ok" if consumer_running else "starting", "app": app.conf.id}, status=status)
