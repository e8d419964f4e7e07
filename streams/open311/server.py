"""``ioc api``: the Open311 GeoReport v2 API (aiohttp), JSON format, under ``/open311/v2``.

* ``GET  services.json``, ``GET services/{code}.json``: the 1022 categories (:mod:`routers.open311.services`);
* ``POST requests.json``: a citizen report -> ``ioc.in.reports`` (the existing contract, checked by
  the pipeline's decoder), answered with its ``service_request_id`` once the broker has it;
* ``GET  requests.json``, ``GET requests/{id}.json``: from what the API kept, the tracker's outcome
  and the incident state (Redis serving index);
* ``GET  /open311/discovery.json``, ``GET /open311/v2/openapi.json`` (the document kept in the repo,
  ``streams/open311/openapi.json``), ``GET /healthz``, ``GET /metrics``.

Every refusal is a GeoReport error array ``[{"code", "description"}]`` with 400, 403, 404, 405, 413
or 429; infrastructure trouble (broker or Redis away) is 503; nothing answers 500.

Middlewares are a plain list (:func:`middlewares`): an access or security-header middleware is
one more entry, ahead of or after the GeoReport error mapping.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from routers import topics
from routers.open311 import services as catalogue
from routers.open311.clients import ApiKeys, Jurisdictions, parse_api_keys, parse_jurisdictions
from routers.open311.errors import GeoReportError, bad_request, not_found
from routers.open311.intake import Form, authenticate, build_report, jurisdiction_of
from routers.open311.ratelimit import RateLimiter
from routers.open311.view import parse_request_query, select, service_request
from streams import metrics, webguard
from streams.lifecycle.serving import IncidentIndex
from streams.open311.store import RequestStore
from streams.settings import Settings

log = logging.getLogger(__name__)

BASE = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
GET_RATE_FACTOR = 10  # GETs allowed per minute = this x IOC_API_RATE_PER_MINUTE
MAX_LISTED = 10_000  # requests read from the time index per GET requests.json before filtering
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def openapi_document() -> bytes:
    return resources.files(__package__).joinpath("openapi.json").read_bytes()


@dataclass
class ApiParts:
    """Everything the handlers use; built by :func:`build_parts` (or by tests from real pieces)."""

    settings: Settings
    keys: ApiKeys
    jurisdictions: Jurisdictions
    store: RequestStore
    index: IncidentIndex
    produce: Callable[[str, bytes], Awaitable[None]]  # (key, value) -> the broker acknowledged it
    limiter: RateLimiter  # POSTs, per key
    get_limiter: RateLimiter  # GETs, per key or client address: reading is cheaper, clients poll
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[datetime], str] = field(default=lambda now: f"o311-{now:%Y%m%d}-{uuid.uuid4().hex[:16]}")


PARTS = web.AppKey("open311_parts", ApiParts)
OPERATION = web.RequestKey("open311_operation", str)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def error_response(error: GeoReportError, headers: Mapping[str, str] | None = None) -> web.Response:
    metrics.api_rejected.labels(error.code).inc()
    return _json(error.to_json(), status=error.status, headers=headers)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               429: "rate_limited"}


@web.middleware
async def georeport_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals -> GeoReport error arrays; broker/Redis trouble -> 503; never a 500."""
    try:
        return await handler(request)
    except GeoReportError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(GeoReportError(exc.status, code, exc.reason or code), headers)
    except asyncio.CancelledError:
        raise
    except Exception:  # broker or Redis away, or a bug: logged with its traceback, answered as unavailable
        log.exception("open311 %s %s failed", request.method, request.path)
        return error_response(GeoReportError(503, "service_unavailable", "the service cannot answer now; try again"))


@web.middleware
async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    info = request.match_info.route.resource
    operation = request.get(OPERATION) or (info.canonical if info is not None else "unmatched")
    metrics.api_requests.labels(operation, str(response.status)).inc()
    metrics.api_request_seconds.labels(operation).observe(time.perf_counter() - started)
    return response


def middlewares(extra: Iterable[Any] = ()) -> list[Any]:
    """Outermost first: metrics see the final status, errors are mapped inside them."""
    return [measured, *extra, georeport_errors]


# -- helpers ----------------------------------------------------------------------------------
def _limit(limiter: RateLimiter, subject: str) -> None:
    if not limiter.allow(subject, time.monotonic()):
        raise web.HTTPTooManyRequests(headers={"Retry-After": str(limiter.retry_after_s(subject))},
                                      reason=f"more than {limiter.capacity:.0f} requests a minute")


def _limit_get(request: web.Request) -> None:
    """GETs need no key; a client that sends one is limited per key, others per address."""
    parts = request.app[PARTS]
    client = parts.keys.client_for(request.query.get("api_key"))
    _limit(parts.get_limiter, f"key:{client.name}" if client is not None else f"addr:{request.remote or 'unknown'}")


def _check_jurisdiction(request: web.Request) -> None:
    jurisdiction_of({k: request.query.getall(k) for k in ("jurisdiction_id",) if k in request.query},
                    request.app[PARTS].jurisdictions)


async def _form(request: web.Request) -> Form:
    """The POST's fields: ``application/x-www-form-urlencoded`` (the spec), ``multipart/form-data``
    (file parts are ignored: media come as ``media_url``) or a JSON object."""
    length = request.content_length
    if length is not None and length > request.app[PARTS].settings.api_max_body_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=request.app[PARTS].settings.api_max_body_bytes, actual_size=length)
    if request.content_type == "application/json":
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise bad_request("bad_body", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise bad_request("bad_body", "the JSON body must be an object")
        form: dict[str, list[str]] = {}
        for name, value in body.items():
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
                raise bad_request("bad_body", f"field {str(name)[:40]!r} must be text or a number")
            form[str(name)] = [str(v) for v in values]
        return form
    try:
        posted = await request.post()
    except web.HTTPException:
        raise
    except (ValueError, UnicodeDecodeError, AssertionError) as exc:
        raise bad_request("bad_body", f"the form cannot be read: {type(exc).__name__}") from None
    fields: dict[str, list[str]] = {}
    for name, value in posted.items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    return fields


# -- handlers ---------------------------------------------------------------------------------
async def discovery(request: web.Request) -> web.Response:
    base = f"{request.scheme}://{request.host}{BASE}"
    return _json({
        "changeset": "2026-01-01T00:00:00+07:00",
        "contact": "Trung tâm Giám sát, điều hành đô thị thông minh (IOC)",
        "key_service": "Liên hệ quản trị hệ thống IOC để được cấp api_key",
        "endpoints": [{"specification": SPECIFICATION, "url": base, "changeset": "2026-01-01T00:00:00+07:00",
                       "type": "production", "formats": ["application/json"]}],
    })


async def services(request: web.Request) -> web.Response:
    _check_jurisdiction(request)
    _limit_get(request)
    return _json(catalogue.service_list())


async def service_definition(request: web.Request) -> web.Response:
    _check_jurisdiction(request)
    _limit_get(request)
    return _json(catalogue.service_definition(request.match_info["code"]))


async def create_request(request: web.Request) -> web.Response:
    parts = request.app[PARTS]
    form = await _form(request)
    if "api_key" not in form and "api_key" in request.query:  # some clients put the key in the URL
        form = {**form, "api_key": request.query.getall("api_key")}
    _limit(parts.limiter, f"key:{authenticate(form, parts.keys).name}")
    now = parts.clock()
    accepted = build_report(form, parts.keys, parts.jurisdictions, parts.new_id(now), now,
                            max_message_bytes=parts.settings.max_message_bytes)
    record = accepted.record
    await parts.store.add(record, now)
    try:
        await parts.produce(record["service_request_id"], orjson.dumps(accepted.report))
    except BaseException:
        await parts.store.discard(record["service_request_id"])
        raise
    metrics.api_reports.labels(accepted.client.name).inc()
    return _json([{"service_request_id": record["service_request_id"],
                   "service_notice": "Đã tiếp nhận phản ánh; kết quả xử lý sẽ được cập nhật tại requests/{id}.json.",
                   "account_id": None}])


async def _views(parts: ApiParts, ids: list[str]) -> list[dict[str, Any]]:
    rows = await parts.store.get_many(ids)
    incident_ids = [t.get("incident") for _, t in rows]
    wanted = [i for i in incident_ids if i]
    docs: dict[str, dict[str, Any]] = {}
    if wanted:
        raw = await parts.index.redis.mget([parts.index.keys.doc(i) for i in wanted])
        docs = {i: orjson.loads(r) for i, r in zip(wanted, raw, strict=True) if r is not None}
    return [service_request(record, tracking, docs.get(tracking.get("incident") or ""))
            for record, tracking in rows]


async def list_requests(request: web.Request) -> web.Response:
    parts = request.app[PARTS]
    _check_jurisdiction(request)
    _limit_get(request)
    query = parse_request_query(request.query, parts.clock())
    if query.ids:
        ids = list(query.ids)
    else:
        assert query.start is not None and query.end is not None
        ids = await parts.store.ids_between(query.start, query.end, MAX_LISTED)
    return _json(select(await _views(parts, ids), query))


async def get_request(request: web.Request) -> web.Response:
    parts = request.app[PARTS]
    _check_jurisdiction(request)
    _limit_get(request)
    request_id = request.match_info["id"]
    found = await _views(parts, [request_id])
    if not found:
        raise not_found("unknown_service_request", f"no service request {request_id[:128]!r} (or it aged out)")
    return _json(found)


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type="application/json", charset="utf-8")


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def metrics_page(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])


def build_app(parts: ApiParts, extra_middlewares: Iterable[Any] = ()) -> web.Application:
    app = web.Application(middlewares=middlewares(extra_middlewares), client_max_size=parts.settings.api_max_body_bytes)
    webguard.add_security_headers(app, webguard.API_CSP)  # issue 21: every answer, errors included
    app[PARTS] = parts
    app.router.add_get("/open311/discovery.json", discovery)
    app.router.add_get(f"{BASE}/services.json", services)
    app.router.add_get(BASE + "/services/{code}.json", service_definition)
    app.router.add_post(f"{BASE}/requests.json", create_request)
    app.router.add_get(f"{BASE}/requests.json", list_requests)
    app.router.add_get(BASE + "/requests/{id}.json", get_request)
    app.router.add_get(f"{BASE}/openapi.json", openapi)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics_page)
    return app


# -- the running service ----------------------------------------------------------------------
class ApiService:
    """The producer, Redis and the tracker around :func:`build_app`, started and stopped together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = parse_api_keys(settings.api_keys)
        self.jurisdictions = parse_jurisdictions(settings.api_jurisdictions)
        self.producer: Any = None
        self.redis: Any = None
        self.tracker: Any = None
        self.runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> int:
        from aiokafka import AIOKafkaProducer

        from streams import kafka_clients
        from streams.open311.tracker import Tracker
        from streams.redis_retry import client as redis_client

        if not self.settings.kafka_bootstrap or not self.settings.redis_url:
            raise RuntimeError("ioc api needs IOC_KAFKA_BOOTSTRAP and IOC_REDIS_URL (or run it under `ioc up`)")
        self.redis = redis_client(self.settings.redis_url)
        store = RequestStore(self.redis, self.settings.app_id)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        self.producer = AIOKafkaProducer(**kafka_clients.aiokafka(
            self.settings, acks="all", linger_ms=1, client_id="ioc-open311", request_timeout_ms=15000))
        await self.producer.start()
        self.tracker = Tracker(self.settings, store, clock)
        await self.tracker.start()  # placed before the first request can be accepted

        async def produce(key: str, value: bytes) -> None:
            await self.producer.send_and_wait(topics.REPORTS, value=value, key=key.encode())

        parts = ApiParts(self.settings, self.keys, self.jurisdictions, store,
                         IncidentIndex(self.redis, self.settings.app_id), produce,
                         RateLimiter(self.settings.api_rate_per_minute),
                         RateLimiter(self.settings.api_rate_per_minute * GET_RATE_FACTOR), clock)
        self.runner = web.AppRunner(build_app(parts), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.tracker is not None:
            await self.tracker.stop()
        if self.producer is not None:
            await self.producer.stop()
        if self.redis is not None:
            await self.redis.aclose()
