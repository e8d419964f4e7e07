"""Fixtures for the dashboard tests: the real default boundary generation, a served app, and a
stand-in worker that exposes real prometheus-client metrics on a real HTTP port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

from dashboards.access import AccessPolicy
from dashboards.boundaries import BoundaryView
from dashboards.config import DashboardConfig
from dashboards.feed import FeedHub
from dashboards.incidents import IncidentSource
from dashboards.server import MetricsSource, Parts, create_app
from streams.settings import Settings


@pytest.fixture(scope="session")
def generation(data_dir: Path) -> Any:
    from routers.boundaries.registry import BoundaryRegistry

    return BoundaryRegistry(data_dir).load_active()


def make_parts(generation: Any, metrics: MetricsSource | None = None, access: AccessPolicy | None = None,
               redis_url: str | None = None, city: str = "hcmc") -> Parts:
    province = {"hcmc": "79", "hanoi": "01", "danang": "48"}[city]
    config = DashboardConfig(Settings(redis_url=redis_url), city, province, (), "ioc-worker", access or AccessPolicy())
    return Parts(config, BoundaryView(lambda: generation, province), metrics, IncidentSource(redis_url, config.settings.app_id), FeedHub())


@contextlib.asynccontextmanager
async def serve(parts: Parts) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(parts)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


class StandInWorker:
    """A real HTTP server exposing the worker catalogue's names through prometheus-client."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingested = Counter("ioc_ingested_total", "x", ["source"], registry=r)
        self.routed = Counter("ioc_routed_total", "x", ["ward", "category"], registry=r)
        self.unroutable = Counter("ioc_unroutable_total", "x", ["reason"], registry=r)
        self.deadletter = Counter("ioc_deadletter_total", "x", ["reason", "source"], registry=r)
        self.latency = Histogram("ioc_routing_latency_seconds", "x", buckets=(0.01, 0.1, 1.0), registry=r)
        self.open = Gauge("ioc_open_incidents", "x", ["ward", "priority"], registry=r)
        self.breaches = Counter("ioc_sla_breaches_total", "x", ["kind", "priority"], registry=r)
        self.rules = Info("ioc_rules", "x", registry=r)
        self.boundaries = Info("ioc_boundary_generation", "x", registry=r)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> StandInWorker:
        async def page(request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(self.registry), content_type="text/plain")

        app = web.Application()
        app.router.add_get("/metrics", page)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/metrics"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
