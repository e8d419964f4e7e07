"""The operator's drill-downs: a ward, an incident, KPIs over a period, the monthly ranking (CSV).

Routes (behind the dashboard's access middleware, like every ``/api`` route):

* ``GET /api/config``: what the page needs to start (city, optional basemap tile URL, viewer);
* ``GET /api/wards/<code>?period=``: open incidents with SLA clocks, recent incidents, the ward's KPIs;
* ``GET /api/incidents/<id>/view``: the incident with its evidence details (masked per viewer);
* ``GET /api/kpis?period=|from=&to=``: the city's and every ward's KPIs;
* ``GET /api/ranking?month=YYYY-MM[&format=csv]``: wards by on-time rate;
* ``GET /api/devices``: cameras and sensors of the device registry, for the map's layers;
* ``GET /api/evidence/<event id>/image/<n>``: a camera snapshot or citizen photo, fetched for the page.

Figures come from the incident state (``dashboards.kpistore`` over the Redis index) and are
computed by ``routers.kpi``; nothing is kept in the browser.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from redis.exceptions import RedisError

from dashboards.access import Viewer, for_viewer
from dashboards.evidence import EventStore, ImageError, fetch_image, images_of
from dashboards.kpistore import KpiStore
from routers import kpi
from routers.incidents.updates import WARD_CODE
from streams.devices import DEVICES_KEY
from streams.lifecycle.serving import Query

KPI = web.AppKey("kpi_store", KpiStore)
HTTP = web.AppKey("http_session", aiohttp.ClientSession)
OPEN_HORIZON = timedelta(days=31)  # open incidents live 30 days in the index
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RANKING_COLUMNS = ("rank", "ward", "ward_name", "received", "reports", "resolve_on_time_rate", "ack_on_time_rate",
                   "resolve_on_time", "resolve_decided", "ack_on_time", "ack_decided", "median_ack_s", "p90_ack_s",
                   "median_resolve_s", "p90_resolve_s", "overdue_now")


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def parse_period(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime, str]:
    """``period=24h|7d|30d|YYYY-MM`` or ``from=&to=`` (ISO 8601) -> start, end, a label."""
    if params.get("from"):
        try:
            start = datetime.fromisoformat(params["from"])
            end = datetime.fromisoformat(params["to"]) if params.get("to") else now
        except ValueError as exc:
            raise BadRequest("bad_period", f"from/to: {exc}") from None
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRequest("bad_period", "from/to need a UTC offset (2026-12-01T00:00:00+07:00)")
        if end <= start:
            raise BadRequest("bad_period", "to must be after from")
        return start, end, f"{start.isoformat()}/{end.isoformat()}"
    period = params.get("period") or "24h"
    if period in PERIODS:
        return now - PERIODS[period], now + timedelta(seconds=1), period
    try:
        start, end = kpi.month_bounds(period)
    except ValueError:
        raise BadRequest("bad_period", f"period must be one of {', '.join(PERIODS)} or YYYY-MM, not {period!r}") from None
    return start, end, period


def _store(request: web.Request) -> KpiStore | None:
    return request.app.get(KPI)


def _parts(request: web.Request) -> Any:
    from dashboards.server import PARTS

    return request.app[PARTS]


def _viewer(request: web.Request) -> Viewer:
    from dashboards.server import VIEWER

    return request[VIEWER]


def _scope_of(viewer: Viewer) -> list[str] | str:
    """What the figures cover: ``"city"``, or a ward viewer's own wards (then ``city`` is their sum)."""
    return "city" if viewer.ward_scope is None else sorted(viewer.ward_scope)


def _no_store() -> web.Response:
    return _json({"error": "no_redis", "message": "IOC_REDIS_URL is not set: incident figures are unavailable"},
                 status=503)


def _unavailable(exc: Exception) -> web.Response:
    return _json({"error": "store_unavailable", "message": f"the incident store does not answer ({type(exc).__name__}: {exc})"},
                 status=503)


async def _figures(store: KpiStore, wards: tuple[str, ...], start: datetime, end: datetime,
                   now: datetime) -> tuple[kpi.Kpis, dict[str, kpi.Kpis]]:
    await store.sync(now)
    facts = await store.facts(min(start, now - OPEN_HORIZON), max(end, now + timedelta(seconds=1)))
    wanted = set(wards)
    facts = [f for f in facts if f.ward in wanted]
    by_ward = kpi.kpis_by_ward(wards, facts, start, end, now)
    city = kpi.kpis("city", facts, start, end, now, current=facts)
    return city, by_ward


async def config(request: web.Request) -> web.Response:
    parts = _parts(request)
    return _json({
        "city": parts.config.city, "province_code": parts.config.province_code,
        "tile_url": parts.config.settings.dashboard_tile_url,
        "viewer": _viewer(request).to_json(), "periods": list(PERIODS),
    })


@dataclass(frozen=True, slots=True)
class CityFigures:
    start: datetime
    end: datetime
    label: str
    now: datetime
    city: kpi.Kpis
    by_ward: dict[str, kpi.Kpis]


async def _city_figures(request: web.Request,
                        window: Callable[[datetime], tuple[datetime, datetime, str]]) -> CityFigures | web.Response:
    """The city's and its wards' figures over ``window(now)``, or the error answer."""
    store = _store(request)
    if store is None:
        return _no_store()
    now = datetime.now(UTC)
    try:
        start, end, label = window(now)
        wards = tuple(_parts(request).boundaries.city_codes)
        own = _viewer(request).ward_scope
        if own is not None:  # least privilege: a ward viewer's figures and ranking cover its own wards only
            wards = tuple(code for code in wards if code in own)
        city, by_ward = await _figures(store, wards, start, end, now)
    except BadRequest as exc:
        return _json({"error": exc.code, "message": str(exc)}, status=400)
    except (RedisError, OSError) as exc:
        return _unavailable(exc)
    return CityFigures(start, end, label, now, city, by_ward)


async def kpis_view(request: web.Request) -> web.Response:
    found = await _city_figures(request, lambda now: parse_period(request.query, now))
    if isinstance(found, web.Response):
        return found
    names = _parts(request).boundaries.name_of
    return _json({"period": found.label, "from": found.start.isoformat(), "to": found.end.isoformat(),
                  "computed_at": found.now.isoformat(), "city": found.city.to_json(),
                  "scope": _scope_of(_viewer(request)),
                  "wards": {code: {**k.to_json(), "name": names(code)} for code, k in found.by_ward.items()}})


def _ranking_window(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime, str]:
    if params.get("from"):
        return parse_period(params, now)
    month = params.get("month") or kpi.month_of(now)
    try:
        start, end = kpi.month_bounds(month)
    except ValueError as exc:
        raise BadRequest("bad_month", str(exc)) from None
    return start, end, month


async def ranking_view(request: web.Request) -> web.Response:
    """``month=YYYY-MM`` (default: this month, Vietnam time), or any window with ``from=&to=``."""
    found = await _city_figures(request, lambda now: _ranking_window(request.query, now))
    if isinstance(found, web.Response):
        return found
    parts = _parts(request)
    month = None if request.query.get("from") else found.label
    start, end, now, by_ward = found.start, found.end, found.now, found.by_ward
    rows = [{**row, "ward_name": parts.boundaries.name_of(row["ward"])} for row in kpi.ranking(by_ward)]
    if request.query.get("format") == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=RANKING_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in RANKING_COLUMNS})
        name = f"ioc-ward-ranking-{parts.config.city}-{month or start.strftime('%Y%m%dT%H%M%S')}.csv"
        return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"),  # BOM: Excel opens UTF-8 names right
                            content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return _json({"month": month, "period": found.label, "from": start.isoformat(), "to": end.isoformat(),
                  "computed_at": now.isoformat(), "scope": _scope_of(_viewer(request)),
                  "columns": list(RANKING_COLUMNS), "rows": rows})


async def ward_view(request: web.Request) -> web.Response:
    parts = _parts(request)
    code = request.match_info["code"]
    if not WARD_CODE.match(code):
        return _json({"error": "bad_ward", "message": f"ward {code!r} is not a 5-digit ward code"}, status=400)
    if not _viewer(request).may_see_ward(code):  # least privilege: a ward viewer sees its own wards only
        return _json({"error": "forbidden_ward", "message": f"this viewer may not see ward {code}"}, status=403)
    name = parts.boundaries.name_of(code)
    if not name:
        return _json({"error": "unknown_ward", "message": f"no ward {code} in the boundary generation"}, status=404)
    index = parts.incidents.index()
    store = _store(request)
    if index is None or store is None:
        return _no_store()
    now = datetime.now(UTC)
    try:
        start, end, label = parse_period(request.query, now)
        open_list = await index.list(Query(ward=code, statuses=frozenset({"open"}), limit=500))
        recent = await index.list(Query(ward=code, limit=30))
        _, by_ward = await _figures(store, (code,), start, end, now)
    except BadRequest as exc:
        return _json({"error": exc.code, "message": str(exc)}, status=400)
    except (RedisError, OSError) as exc:
        return _unavailable(exc)
    order = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}
    open_list.sort(key=lambda b: (order.get(b.get("priority"), 9), b.get("ack_due") or "", b["id"]))
    return _json({
        "code": code, "name": name, "period": label, "now": now.isoformat(),
        "open": [_brief(b, now) for b in open_list],
        "recent": [_brief(b, now) for b in recent],
        # what reached the ward's topic lately (the feed's backlog), personal data per viewer
        "events": [for_viewer(i, _viewer(request)) for i in reversed(parts.hub.items) if i.get("ward") == code][:15],
        "kpis": by_ward[code].to_json(),
    })


def _brief(body: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    fact = kpi.fact_of(body)
    return {
        "id": body["id"], "kind": body.get("kind"), "family": body.get("family"), "priority": body.get("priority"),
        "status": body.get("status"), "created_at": body.get("created_at"), "updated_at": body.get("updated_at"),
        "ack_due": body.get("ack_due"), "resolve_due": body.get("resolve_due"),
        "acknowledged_at": body.get("acknowledged_at"), "resolved_at": body.get("resolved_at"),
        "paused_since": body.get("paused_since"), "escalation_level": body.get("escalation_level", 0),
        "evidence_count": len(body.get("evidence") or ()) + int(body.get("evidence_dropped") or 0),
        "overdue": kpi.is_overdue(fact, now), "at_risk": kpi.at_risk(fact, now),
    }


async def incident_view(request: web.Request) -> web.Response:
    parts = _parts(request)
    index = parts.incidents.index()
    if index is None:
        return _no_store()
    incident_id = request.match_info["incident_id"]
    try:
        body = await index.get(incident_id)
        if body is None or not _viewer(request).may_see_ward(body.get("ward")):
            return _json({"error": "unknown_incident", "message": f"no incident {incident_id} (or it aged out)"}, status=404)
        events: EventStore | None = parts.events
        ids = [e["event_id"] for e in body.get("evidence") or ()]
        details = {} if events is None else await events.details(ids, body.get("ward"), _viewer(request))
    except (RedisError, OSError) as exc:
        return _unavailable(exc)
    now = datetime.now(UTC)
    evidence = [{**e, "detail": details.get(e["event_id"])} for e in body.get("evidence") or ()]
    first = next((d for d in (details.get(i) for i in ids) if d and not d.get("suppressed")), None)
    return _json({**body, "evidence": evidence, "now": now.isoformat(),
                  "overdue": kpi.is_overdue(kpi.fact_of(body), now), "at_risk": kpi.at_risk(kpi.fact_of(body), now),
                  "routing": None if first is None else {k: first.get(k) for k in
                                                          ("rule", "rules_version", "matched", "targets", "trace")}})


async def evidence_image(request: web.Request) -> web.Response:
    """A camera snapshot or citizen photo, fetched by the dashboard so the page loads pictures from
    its own origin only (its Content-Security-Policy allows no other)."""
    parts = _parts(request)
    events: EventStore | None = parts.events
    if events is None:
        return _no_store()
    try:
        detail = await events.detail(request.match_info["event_id"])
        n = int(request.match_info["n"])
    except (RedisError, OSError) as exc:
        return _unavailable(exc)
    if detail is not None and not _viewer(request).may_see_ward(detail.get("ward")):
        detail = None  # another ward's evidence: as unknown to this viewer as a missing one
    urls = [] if detail is None else images_of(detail)
    if not 0 <= n < len(urls):
        return _json({"error": "unknown_image", "message": "no such picture for this event"}, status=404)
    session = request.app.get(HTTP)
    if session is None:
        return _json({"error": "not_ready", "message": "the dashboard is starting"}, status=503)
    try:
        body, kind = await fetch_image(urls[n], session)
    except ImageError as exc:
        return _json({"error": "image_unavailable", "message": str(exc)}, status=exc.status)
    return web.Response(body=body, content_type=kind, headers={"Cache-Control": "private, max-age=300"})


async def devices(request: web.Request) -> web.Response:
    parts = _parts(request)
    client = parts.incidents.client()
    if client is None:
        return _no_store()
    try:
        raw = await client.hgetall(DEVICES_KEY)
    except (RedisError, OSError) as exc:
        return _unavailable(exc)
    out = []
    for key, value in raw.items():
        try:
            body = orjson.loads(value)
            out.append({"id": key.decode(), "kind": body.get("kind", ""), "lat": float(body["lat"]),
                        "lon": float(body["lon"]), "description": body.get("description", "")})
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    out.sort(key=lambda d: d["id"])
    return _json({"devices": out, "count": len(out)}, headers={"Cache-Control": "max-age=30"})


async def _start_kpi(app: web.Application) -> None:
    from dashboards.server import PARTS

    parts = app[PARTS]
    index = parts.incidents.index()
    if index is not None:
        app[KPI] = KpiStore(parts.incidents.client(), index, parts.config.settings.app_id)
    app[HTTP] = aiohttp.ClientSession()


async def _close_http(app: web.Application) -> None:
    session = app.get(HTTP)
    if session is not None:
        await session.close()


def register(app: web.Application) -> None:
    """Add the drill-down routes to the dashboard's application (before ``/api/incidents/{id}``)."""
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/kpis", kpis_view)
    app.router.add_get("/api/ranking", ranking_view)
    app.router.add_get("/api/wards/{code}", ward_view)
    app.router.add_get("/api/incidents/{incident_id}/view", incident_view)
    app.router.add_get("/api/devices", devices)
    app.router.add_get("/api/evidence/{event_id}/image/{n:\\d+}", evidence_image)
    app.on_startup.append(_start_kpi)
    app.on_cleanup.append(_close_http)
