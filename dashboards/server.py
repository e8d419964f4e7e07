"""The dashboard's web server (aiohttp): the page, its JSON API and the live feed.

Routes (all but ``/healthz`` and ``/metrics`` need a credential when access is configured):

* ``GET /`` the page; ``/static/*`` its script and styles (no CDN, works offline);
* ``GET /api/overview?scope=city|national`` metrics, boundaries, per-ward figures, feed state;
* ``GET /api/map?scope=city|national`` the ward map (ETag per generation, gzip);
* ``GET /api/feed`` server-sent events: ``status`` and ``item`` events, personal data per viewer;
* ``GET /api/incidents`` and ``/api/incidents/<id>`` the serving state (``streams.lifecycle.queries``);
* ``GET /healthz``, ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboards import selfmetrics, vendor, views
from dashboards.access import COOKIE, Viewer, for_viewer
from dashboards.boundaries import BoundaryView
from dashboards.config import DashboardConfig
from dashboards.evidence import EventStore
from dashboards.feed import FeedHub, KafkaFeed, item_from_incident
from dashboards.incidents import IncidentSource, IncidentSummary
from dashboards.mapdata import Scope
from dashboards.overview import MetricsView
from dashboards.silences import add_silences
from routers.categories import CAMERA_LABELS, REPORT_CATEGORIES, SENSOR_KINDS
from routers.exceptions import BoundaryError
from streams import webguard
from streams.lifecycle import queries
from streams.viewers import access_gate

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
HEARTBEAT_S = 15.0
MAP_SCOPES = ("city", "national", "province")


class MetricsSource(Protocol):
    kind: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def view(self) -> MetricsView: ...


@dataclass
class Parts:
    """Everything the handlers read; built by :func:`build_parts` or by tests from real pieces."""

    config: DashboardConfig
    boundaries: BoundaryView
    metrics: MetricsSource | None
    incidents: IncidentSource
    hub: FeedHub
    feed: KafkaFeed | None = None
    events: EventStore | None = None  # evidence details for the incident view (dashboards.evidence)


PARTS = web.AppKey("parts", Parts)
VIEWER = web.RequestKey("viewer", Viewer)
T = TypeVar("T")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _scope(request: web.Request, allowed: tuple[str, ...] = ("city", "national")) -> Scope | None:
    scope = request.query.get("scope", "city")
    return scope if scope in allowed else None  # type: ignore[return-value]


def _bad_scope(request: web.Request, allowed: tuple[str, ...] = ("city", "national")) -> web.Response:
    return _json({"error": "bad_scope", "message": f"scope must be {' or '.join(allowed)}, not {request.query.get('scope')!r}"},
                 status=400)


# -- access -----------------------------------------------------------------------------------
def dashboard_gate(config: DashboardConfig) -> webguard.Gate[Viewer]:
    """The access policy's viewer of a request; closed beyond loopback when nothing is configured."""
    return access_gate(config.access, config.host, VIEWER, "ioc-dashboard", cookie=COOKIE,
                       refusal="this dashboard needs a token (Bearer, basic auth or ?token=)")


def visible_wards(request: web.Request) -> frozenset[str] | None:
    """The wards whose incidents and feed this viewer may see; ``None``: all of them."""
    return request[VIEWER].ward_scope


# -- pages ------------------------------------------------------------------------------------
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def health(request: web.Request) -> web.Response:
    parts = request.app[PARTS]
    info = parts.boundaries.info()
    healthy = info["state"] != "missing"
    return _json({"status": "ok" if healthy else "degraded", "boundaries": info["state"],
                  "metrics_source": parts.config.metrics_source, "feed": parts.hub.status["state"]},
                 status=200 if healthy else 503)


async def metrics_page(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(selfmetrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])


# -- API --------------------------------------------------------------------------------------
async def metrics_view(parts: Parts) -> MetricsView:
    if parts.metrics is None:
        view = MetricsView(state="no_source", source="none",
                           message="no metrics source: set IOC_PROMETHEUS_URL or IOC_WORKER_METRICS_URLS")
    else:
        view = await parts.metrics.view()
    selfmetrics.source_up.labels(view.source).set(0 if view.state in ("unreachable", "no_source") else 1)
    return view


def ward_rows(parts: Parts, view: MetricsView, summary: IncidentSummary) -> list[dict[str, Any]]:
    """The per-ward table of the city: metrics' open and routed counts, the serving state's overdue
    and median time to acknowledge; ``None`` wherever the source of a column said nothing."""
    rows: list[dict[str, Any]] = []
    for code in parts.boundaries.city_codes:
        figures = summary.wards.get(code)
        rows.append({
            "code": code,
            "name": parts.boundaries.name_of(code),
            "open": view.open_by_ward.get(code, 0) if view.has_numbers else None,
            "routed": view.routed_by_ward.get(code, 0) if view.has_numbers else None,
            "open_serving": None if figures is None else figures.open,
            "overdue": None if figures is None else figures.overdue,
            "median_ack_s": None if figures is None else figures.median_ack_s,
        })
    def shown_open(row: dict[str, Any]) -> float:  # what the page shows: metrics, else the serving state
        value = row["open"] if row["open"] is not None else row["open_serving"]
        return float(value or 0)

    rows.sort(key=lambda r: (-shown_open(r), -(r["overdue"] or 0), r["code"]))
    return rows


def _only(by_ward: Mapping[str, T], wards: frozenset[str]) -> dict[str, T]:
    return {code: value for code, value in by_ward.items() if code in wards}


async def overview(request: web.Request) -> web.Response:
    parts = request.app[PARTS]
    scope = _scope(request)
    if scope is None:
        return _bad_scope(request)
    view, summary = await asyncio.gather(metrics_view(parts), parts.incidents.summary(parts.boundaries.city_codes))
    parts.boundaries.maybe_stale(view.boundary_generations)
    wanted = None if scope == "national" else set(parts.boundaries.city_codes)
    own = visible_wards(request)
    if own is not None:  # least privilege: a ward viewer's overview holds its own wards' figures only
        wanted = set(own) if wanted is None else wanted & own
        view = dataclasses.replace(view, open_by_ward=_only(view.open_by_ward, own),
                                   routed_by_ward=_only(view.routed_by_ward, own))
        summary = dataclasses.replace(summary, wards=_only(summary.wards, own))
    return _json({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "city": parts.config.city,
        "province_code": parts.config.province_code,
        "scope": scope,
        "viewer": request[VIEWER].to_json(),
        "boundaries": parts.boundaries.info(),
        "metrics": view.to_json(),
        "map_values": {
            "open": {k: v for k, v in view.open_by_ward.items() if wanted is None or k in wanted},
            "overdue": {k: f.overdue for k, f in summary.wards.items() if f.overdue},
            "at_risk": {k: f.at_risk for k, f in summary.wards.items() if f.at_risk},
        },
        "incidents": {"state": summary.state, "message": summary.message},
        "wards": [r for r in ward_rows(parts, view, summary) if own is None or r["code"] in own],
        "feed": parts.hub.status,
    })


async def map_layer(request: web.Request) -> web.StreamResponse:
    parts = request.app[PARTS]
    scope = _scope(request, MAP_SCOPES)
    if scope is None:
        return _bad_scope(request, MAP_SCOPES)
    try:
        layer = await parts.boundaries.layer(scope, request.query.get("province"))
    except BoundaryError as exc:
        return _json({"error": "no_boundaries", "message": str(exc)}, status=503)
    # the page revalidates (ETag per generation), so a new generation shows without a stale cache
    headers = {"ETag": layer.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == layer.etag:
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=layer.gzipped, headers=headers, content_type="application/json")
    return web.Response(body=layer.body, headers=headers, content_type="application/json")


# camera labels and sensor kinds have no Vietnamese label in the vocabulary
_VIETNAMESE = {
    "fire_smoke": "Khói, lửa", "accident": "Tai nạn", "congestion": "Ùn tắc", "illegal_parking": "Đỗ xe trái phép",
    "crowd": "Tụ tập đông người", "water_level": "Mực nước", "rainfall": "Lượng mưa", "tide": "Triều cường",
    "pm25": "Bụi mịn PM2.5",
}


def category_labels() -> dict[str, dict[str, str]]:
    """Event kinds in both languages: Vietnamese from the category vocabulary, English from the code."""
    kinds = {*REPORT_CATEGORIES, *CAMERA_LABELS, *SENSOR_KINDS}
    out = {}
    for kind in sorted(kinds):
        english = kind.replace("_", " ").capitalize()
        vietnamese = REPORT_CATEGORIES[kind][0] if kind in REPORT_CATEGORIES else _VIETNAMESE.get(kind, english)
        out[kind] = {"vi": vietnamese, "en": english}
    return out


async def labels(request: web.Request) -> web.Response:
    return _json({"categories": category_labels()}, headers={"Cache-Control": "max-age=3600"})


async def _send(response: web.StreamResponse, event: str, payload: dict[str, Any]) -> None:
    await response.write(b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")


async def feed(request: web.Request) -> web.StreamResponse:
    parts = request.app[PARTS]
    viewer: Viewer = request[VIEWER]
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    queue = parts.hub.subscribe()
    selfmetrics.feed_clients.set(parts.hub.subscriber_count)
    try:
        await _send(response, "status", parts.hub.status)
        for item in list(parts.hub.items):
            if viewer.may_see_ward(item.get("ward")):
                await _send(response, "item", for_viewer(item, viewer))
        while True:
            try:
                kind, payload = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if kind == "close":
                break
            if kind != "item":
                await _send(response, kind, payload)
            elif viewer.may_see_ward(payload.get("ward")):
                await _send(response, kind, for_viewer(payload, viewer))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        parts.hub.unsubscribe(queue)
        selfmetrics.feed_clients.set(parts.hub.subscriber_count)
    return response


async def incidents_list(request: web.Request) -> web.Response:
    index = request.app[PARTS].incidents.index()
    if index is None:
        return _json({"error": "no_redis", "message": "IOC_REDIS_URL is not set"}, status=503)
    status, body = await queries.scoped_list_response(index, request.query, visible_wards(request))
    return _json(body, status=status)


async def incident_detail(request: web.Request) -> web.Response:
    index = request.app[PARTS].incidents.index()
    if index is None:
        return _json({"error": "no_redis", "message": "IOC_REDIS_URL is not set"}, status=503)
    status, body = await queries.scoped_detail_response(index, request.match_info["incident_id"], visible_wards(request))
    return _json(body, status=status)


# -- life cycle -------------------------------------------------------------------------------
async def _startup(app: web.Application) -> None:
    parts = app[PARTS]
    await parts.boundaries.start()
    if parts.metrics is not None:
        await parts.metrics.start()
    with contextlib.suppress(Exception):  # an unreachable incident store only leaves the feed empty at first
        parts.hub.seed([item_from_incident(i) for i in reversed(await parts.incidents.recent())])
    if parts.feed is not None:
        await parts.feed.start()


async def _shutdown(app: web.Application) -> None:
    parts = app[PARTS]
    parts.hub.close_all()


async def _cleanup(app: web.Application) -> None:
    parts = app[PARTS]
    if parts.feed is not None:
        await parts.feed.stop()
    if parts.metrics is not None:
        await parts.metrics.stop()
    await parts.incidents.stop()


def create_app(parts: Parts) -> web.Application:
    app = web.Application()
    config = parts.config
    login = webguard.token_login(lambda token: config.access.viewer_for_token(token) is not None, COOKIE,
                                 config.trust_forwarded_proto)
    webguard.harden(app, dashboard_gate(config), webguard.PAGE_CSP, before_gate=(login,))
    app[PARTS] = parts
    app.router.add_get("/", index)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/api/overview", overview)
    app.router.add_get("/api/map", map_layer)
    app.router.add_get("/api/feed", feed)
    app.router.add_get("/api/labels", labels)
    app.router.add_get("/api/incidents", incidents_list)
    views.register(app)
    app.router.add_get("/api/incidents/{incident_id}", incident_detail)
    add_silences(app, parts.config.settings.kafka_bootstrap)
    app.router.add_static("/static", STATIC, append_version=False)
    vendor.register(app, vendor.node_modules(config.settings))
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)
    return app


def build_parts(config: DashboardConfig) -> Parts:
    """The production wiring: registry, Prometheus or workers, Redis, Kafka, per the configuration."""
    from dashboards.boundaries import registry_loader
    from dashboards.sources.prometheus import PrometheusMetrics
    from dashboards.sources.workers import WorkerMetrics

    s = config.settings
    metrics: MetricsSource | None = None
    if s.prometheus_url:
        metrics = PrometheusMetrics(s.prometheus_url, config.prometheus_worker_job)
    elif config.worker_metrics_urls:
        metrics = WorkerMetrics(config.worker_metrics_urls)
    boundaries = BoundaryView(registry_loader(s.data_dir), config.province_code)
    hub = FeedHub()
    incidents = IncidentSource(s.redis_url, s.app_id)
    events = EventStore(incidents.client(), s.app_id) if s.redis_url else None
    feed_source = None
    if s.kafka_bootstrap:
        feed_source = KafkaFeed(s.kafka_bootstrap, lambda: boundaries.city_codes, hub,
                                on_envelopes=None if events is None else events.remember)
    return Parts(config, boundaries, metrics, incidents, hub, feed_source, events)
