"""``ioc dashboard``: the operations dashboard (ward map, live feed, per-ward table, panels)."""

from __future__ import annotations

import dataclasses

import click

from streams.settings import load_settings


@click.command()
@click.option("--port", type=int, default=None, help="Port to listen on (default IOC_DASHBOARD_PORT, 8700).")
@click.option("--city", type=click.Choice(["hcmc", "hanoi", "danang"]), default=None,
              help="City whose wards the map and the feed show (default IOC_CITY).")
@click.option("--host", default=None,
              help="Address to bind (default IOC_DASHBOARD_HOST, 127.0.0.1); 0.0.0.0 in a container.")
def dashboard(port: int | None, city: str | None, host: str | None) -> None:
    """Serve the dashboard: numbers from Prometheus (IOC_PROMETHEUS_URL) or straight from the
    workers (IOC_WORKER_METRICS_URLS), incidents from Redis (IOC_REDIS_URL), the live feed from
    the ward topics (IOC_KAFKA_BOOTSTRAP). Set IOC_DASHBOARD_TOKEN to require a token and
    IOC_DASHBOARD_VIEWERS to let ward staff see their reporters' names and phones."""
    from aiohttp import web

    from dashboards.config import load_config
    from dashboards.server import build_parts, create_app
    from routers.exceptions import Rejected
    from streams.webguard import closed_message, is_loopback

    settings = load_settings()
    if port is not None:
        settings = dataclasses.replace(settings, dashboard_port=port)
    if host is not None:
        settings = dataclasses.replace(settings, dashboard_host=host)
    try:
        config = load_config(settings, city)
    except (Rejected, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    host = config.host
    parts = build_parts(config)
    s = config.settings
    source = {"prometheus": f"Prometheus {s.prometheus_url}",
              "workers": f"{len(config.worker_metrics_urls)} worker /metrics URL(s)",
              "none": "none (set IOC_PROMETHEUS_URL or IOC_WORKER_METRICS_URLS)"}[config.metrics_source]
    access = ("token required" if config.access.required else "open (no IOC_DASHBOARD_TOKEN, loopback only)"
              if is_loopback(host) else f"CLOSED: {closed_message(host)}")
    click.echo(f"dashboard: http://{host}:{s.dashboard_port}/  city {config.city}, metrics from {source}, {access}",
               err=True)
    web.run_app(create_app(parts), host=host, port=s.dashboard_port, print=None, shutdown_timeout=3.0,
                access_log=None)
