"""``ioc api`` (the Open311 GeoReport v2 API) and ``ioc deliver`` (results back to the portal)."""

from __future__ import annotations

import asyncio
import dataclasses
import signal

import click

from streams.settings import load_settings


def _serve(start: object, stop: object) -> None:
    """Run ``start()`` then wait for SIGINT/SIGTERM, then ``stop()``."""

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await start()  # type: ignore[operator]
        try:
            await stopping.wait()
        finally:
            await stop()  # type: ignore[operator]

    asyncio.run(main())


@click.command()
@click.option("--port", type=int, default=None, help="Port (default IOC_API_PORT, 8711; 0 picks a free one).")
@click.option("--host", default=None, help="Address to bind (default IOC_API_HOST, 127.0.0.1).")
def api(port: int | None, host: str | None) -> None:
    """Serve the Open311 GeoReport v2 API: services.json, POST/GET requests.json, requests/{id}.json.

    Reports go to ioc.in.reports (IOC_KAFKA_BOOTSTRAP); what became of them is read from the
    incident state (IOC_REDIS_URL). Clients need an api_key from IOC_API_KEYS(_FILE) to POST."""
    from routers.exceptions import Rejected
    from streams.open311.server import BASE, ApiService

    settings = load_settings()
    settings = dataclasses.replace(settings, api_port=settings.api_port if port is None else port,
                                   api_host=host or settings.api_host)
    try:
        service = ApiService(settings)
    except Rejected as exc:
        raise click.UsageError(f"{exc.reason}: {exc.detail}") from None

    async def start() -> None:
        bound = await service.start(settings.api_host, settings.api_port)
        clients = ", ".join(c.name for c in service.keys.clients) or "none (set IOC_API_KEYS: every POST is refused)"
        click.echo(f"open311 api: http://{settings.api_host}:{bound}{BASE}/  clients: {clients}", err=True)

    _serve(start, service.stop)


@click.command()
@click.option("--web-port", type=int, default=0, show_default=True, help="Port of /metrics and /healthz (0: a free one).")
def deliver(web_port: int) -> None:
    """POST every result on ioc.out.results to the portal (IOC_PORTAL_URLS), signed with
    IOC_PORTAL_SECRET(_FILE); retries with backoff, dead-letters after IOC_PORTAL_MAX_ATTEMPTS."""
    from aiohttp import web
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from streams import metrics
    from streams.open311.delivery import DeliveryService

    settings = load_settings()
    try:
        service = DeliveryService(settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    runner: list[web.AppRunner] = []

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "endpoints": len(service.urls)})

    async def start() -> None:
        await service.start()
        app = web.Application()
        app.router.add_get("/metrics", page)
        app.router.add_get("/healthz", health)
        runner.append(web.AppRunner(app, access_log=None))
        await runner[0].setup()
        site = web.TCPSite(runner[0], settings.worker_web_host, web_port)
        await site.start()
        click.echo(f"portal delivery: {len(service.urls)} endpoint(s), metrics on port {web_port}", err=True)

    async def stop() -> None:
        if runner:
            await runner[0].cleanup()
        await service.stop()

    _serve(start, stop)
