"""The dashboard's HTTP API on a real aiohttp server: auth, the overview in every data state, the
map's caching, the live feed's per-viewer masking, health and metrics."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from dashboards.access import COOKIE, AccessPolicy, Viewer, token_hash
from dashboards.feed import item_from_envelope
from dashboards.server import Parts
from dashboards.sources.prometheus import PrometheusMetrics
from dashboards.sources.workers import WorkerMetrics
from routers.decision import Decision, Sla
from routers.envelope import routed
from routers.events import Event, GeoPoint, Reporter, Source
from routers.locate.result import Location, WardRef
from streams.embedded.process import free_port
from tests.dashboards.conftest import StandInWorker, make_parts, serve

BEN_THANH = WardRef("26740", "Phường Bến Thành", "79")


def run(parts: Parts, body: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with serve(parts) as client:
            await body(client)

    asyncio.run(main())


async def overview(client: TestClient, **headers: str) -> dict[str, Any]:
    response = await client.get("/api/overview", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


def test_no_metrics_source_says_so_instead_of_zeros(generation: Any) -> None:
    async def body(client: TestClient) -> None:
        ov = await overview(client)
        assert ov["metrics"]["state"] == "no_source"
        assert "IOC_PROMETHEUS_URL" in ov["metrics"]["message"]
        assert ov["metrics"]["totals"]["ingested"] is None
        assert len(ov["wards"]) == 168
        assert all(row["open"] is None and row["overdue"] is None for row in ov["wards"])
        assert ov["incidents"]["state"] == "no_source"
        assert ov["boundaries"]["generation"] == generation.id
        assert ov["boundaries"]["approximate"] is (generation.source == "approximate")
        assert ov["boundaries"]["reference"] is (generation.source == "reference")
        assert ov["feed"]["state"] == "off"

    run(make_parts(generation), body)


def test_unreachable_prometheus(generation: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    async def body(client: TestClient) -> None:
        ov = await overview(client)
        assert ov["metrics"]["state"] == "unreachable"
        assert url in ov["metrics"]["message"]
        assert ov["map_values"]["open"] == {}

    run(make_parts(generation, PrometheusMetrics(url, timeout_s=1.0)), body)


def test_stopped_worker_then_live_numbers(generation: Any) -> None:
    async def main() -> None:
        worker = await StandInWorker().start()
        down = f"http://127.0.0.1:{free_port()}/metrics"
        source = WorkerMetrics([worker.url, down], interval_s=60)
        async with serve(make_parts(generation, source)) as client:
            ov = await overview(client)
            assert ov["metrics"]["state"] == "no_data"  # one answers, nothing ingested yet
            worker.ingested.labels("report").inc(40)
            worker.routed.labels("26740", "flooding").inc(30)
            worker.unroutable.labels("outside_boundaries").inc(4)
            worker.open.labels("26740", "P2").set(2)
            worker.rules.info({"version": "rules-7", "source": "default", "applied_by": "-"})
            await source.refresh()
            ov = await overview(client)
            m = ov["metrics"]
            assert m["state"] == "partial" and m["targets_down"] == 1
            assert m["totals"]["routed"] == 30
            assert m["unroutable_by_reason"] == {"outside_boundaries": 4}
            assert m["rules_versions"] == [{"version": "rules-7", "source": "default", "applied_by": "-"}]
            assert ov["map_values"]["open"] == {"26740": 2}
            row = next(r for r in ov["wards"] if r["code"] == "26740")
            assert (row["open"], row["routed"]) == (2, 30)
            assert ov["wards"][0]["code"] == "26740"  # busiest ward first
            quiet = next(r for r in ov["wards"] if r["code"] != "26740")
            assert (quiet["open"], quiet["routed"]) == (0, 0)  # numbers known: a real zero
        await worker.stop()

    asyncio.run(main())


def test_map_is_cached_by_etag_and_gzipped(generation: Any) -> None:
    async def body(client: TestClient) -> None:
        response = await client.get("/api/map", params={"scope": "city"}, headers={"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert response.headers["Content-Encoding"] == "gzip"
        layer = await response.json()
        assert layer["ward_count"] == 168 and layer["generation"] == generation.id
        again = await client.get("/api/map", params={"scope": "city"}, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status == 304
        national = await client.get("/api/map", params={"scope": "national"})
        assert (await national.json())["ward_count"] == len(generation.wards)
        bad = await client.get("/api/map", params={"scope": "galaxy"})
        assert bad.status == 400 and (await bad.json())["error"] == "bad_scope"

    run(make_parts(generation), body)


def test_missing_boundaries_are_reported(tmp_path: Path) -> None:
    from dashboards.boundaries import BoundaryView
    from routers.boundaries.registry import BoundaryRegistry

    async def body(client: TestClient) -> None:
        ov = await overview(client)
        assert ov["boundaries"]["state"] == "missing"
        assert "no boundary generation could be loaded" in ov["boundaries"]["message"]
        response = await client.get("/api/map")
        assert response.status == 503 and (await response.json())["error"] == "no_boundaries"
        health = await client.get("/healthz")
        assert health.status == 503

    parts = make_parts(None)
    parts.boundaries = BoundaryView(lambda: BoundaryRegistry(tmp_path).load_active(), "79")  # nothing active
    run(parts, body)


WARD_TOKEN = "ward-26740-token"


def access(tmp_path: Path) -> AccessPolicy:
    from dashboards.access import load_viewers

    viewers = tmp_path / "viewers.yaml"
    viewers.write_text(f"viewers:\n  - name: ben-thanh\n    token_sha256: {token_hash(WARD_TOKEN)}\n    wards: ['26740']\n")
    return AccessPolicy("operator-token", load_viewers(viewers))


def test_auth_required_when_configured(generation: Any, tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        denied = await client.get("/api/overview")
        assert denied.status == 401
        assert denied.headers["WWW-Authenticate"].startswith("Basic")
        assert (await client.get("/", allow_redirects=False)).status == 401
        assert (await client.get("/healthz")).status == 200  # probes need no token
        assert (await client.get("/metrics")).status == 200
        ov = await overview(client, Authorization=f"Bearer {WARD_TOKEN}")
        assert ov["viewer"] == {"name": "ben-thanh", "wards": ["26740"]}
        basic = base64.b64encode(b"wall:operator-token").decode()
        assert (await overview(client, Authorization=f"Basic {basic}"))["viewer"]["name"] == "operator"
        wrong = await client.get("/api/overview", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401

    run(make_parts(generation, access=access(tmp_path)), body)


def test_wall_screen_link_sets_a_cookie_and_hides_the_token(generation: Any, tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        response = await client.get("/", params={"token": "operator-token", "lang": "en"}, allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == "/?lang=en"
        assert response.cookies[COOKIE].value == "operator-token"
        assert response.cookies[COOKIE]["httponly"]
        page = await client.get("/?lang=en")  # the client keeps the cookie
        assert page.status == 200 and "/static/app.js" in await page.text()
        client.session.cookie_jar.clear()
        bad = await client.get("/", params={"token": "guess"}, allow_redirects=False)
        assert bad.status == 401

    run(make_parts(generation, access=access(tmp_path)), body)


def routed_envelope(event_id: str) -> dict[str, Any]:
    event = Event(
        id=event_id, source=Source.REPORT, kind="flooding", occurred_at=datetime(2026, 6, 12, 9, tzinfo=UTC),
        point=GeoPoint(10.7725, 106.6980), description="Ngập tới gối, gọi 0903123456",
        reporter=Reporter("Trần Thị Bình", "0903123456"),
    )
    location = Location("resolved", BEN_THANH, "point", "gen-1", "approximate")
    decision = Decision(("ward:26740",), "P2", Sla(900, 14400), ("root", "flooding"), "rules-1")
    return routed(event, location, decision, target="ward:26740", now=datetime(2026, 6, 12, 9, tzinfo=UTC))


async def read_feed(client: TestClient, headers: dict[str, str], items: int) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    async with client.get("/api/feed", headers=headers) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        kind = ""
        while sum(1 for k, _ in events if k == "item") < items:
            line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, orjson.loads(line[6:])))
    return events


def test_feed_shows_reporters_only_to_their_ward(generation: Any, tmp_path: Path) -> None:
    parts = make_parts(generation, access=access(tmp_path))
    item = item_from_envelope(routed_envelope("ev-1"))
    assert item is not None and item["reporter"]["name"] == "Trần Thị Bình"
    parts.hub.publish(item)
    parts.hub.set_status("live", "reading 168 ward topics")

    async def body(client: TestClient) -> None:
        own = await read_feed(client, {"Authorization": f"Bearer {WARD_TOKEN}"}, 1)
        assert own[0] == ("status", {"state": "live", "message": "reading 168 ward topics"})
        assert own[1][1]["reporter"] == {"name": "Trần Thị Bình", "phone": "0903123456"}
        other = await read_feed(client, {"Authorization": "Bearer operator-token"}, 1)
        assert other[1][1]["reporter"] == {"name": "***", "phone": "********56"}
        assert "0903123456" not in orjson.dumps(other).decode()

        async def later() -> None:
            await asyncio.sleep(0.2)
            parts.hub.publish(item_from_envelope(routed_envelope("ev-2")) or {})

        assert not parts.hub.publish(item_from_envelope(routed_envelope("ev-1")) or {})  # a copy: dropped
        live, _ = await asyncio.gather(read_feed(client, {"Authorization": "Bearer operator-token"}, 2), later())
        assert [p["id"] for k, p in live if k == "item"] == ["event:ev-1", "event:ev-2"]

    run(parts, body)


def test_feed_items_from_incident_notices() -> None:
    from routers.incidents.book import IncidentBook
    from routers.incidents.messages import notice
    from tests.routers.incidents.factories import T0, routed_event

    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("a1"), T0)
    incident = book.open_in("27142")[0]
    item = item_from_envelope(notice(incident, "opened", T0))
    assert item is not None
    assert (item["type"], item["change"], item["ward"], item["incident_id"]) == ("incident", "opened", "27142", incident.id)
    assert item["event_ids"] == ["event:a1"]
    # a notice folds in the feed items of the evidence it adds, also those beyond the incident's window
    for n in range(2, 12):
        effects = book.on_routed(routed_event(f"a{n}"), T0)
    [latest] = [o.value for o in effects.outbound if o.channel == "ward"]
    grown = item_from_envelope({**latest, "data": {**latest["data"], "evidence": latest["data"]["evidence"][:1]}})
    assert grown is not None and grown["event_ids"] == ["event:a1", "event:a11"]
    assert item_from_envelope({"type": "vn.ioc.incident.state", "data": {}}) is None
    assert item_from_envelope({"type": "something.else", "data": {}}) is None
    assert item_from_envelope({"type": "vn.ioc.event.routed", "data": "not an object"}) is None


def test_incidents_api_without_redis_and_labels(generation: Any) -> None:
    async def body(client: TestClient) -> None:
        response = await client.get("/api/incidents")
        assert response.status == 503 and (await response.json())["error"] == "no_redis"
        labels = await (await client.get("/api/labels")).json()
        assert labels["categories"]["flooding"] == {"vi": "Ngập nước", "en": "Flooding"}
        metrics = await (await client.get("/metrics")).text()
        assert "ioc_dashboard_feed_clients" in metrics
        static = await client.get("/static/feed.js")
        assert static.status == 200 and "EventSource" in await static.text()
        # the map library comes from node_modules (npm ci), served by the dashboard itself
        leaflet = await client.get("/vendor/leaflet/leaflet.js")
        assert leaflet.status == 200 and "Leaflet" in (await leaflet.text())[:400]
        page = await (await client.get("/")).text()
        assert "/vendor/leaflet/leaflet.js" in page and "<script>" not in page and "style=" not in page  # CSP-friendly

    run(make_parts(generation), body)


def test_viewer_json() -> None:
    assert Viewer("x", frozenset({"2", "1"})).to_json() == {"name": "x", "wards": ["1", "2"]}


@pytest.mark.integration
def test_ward_figures_from_the_serving_index(generation: Any, redis_url: str) -> None:
    """Overdue and median time to acknowledge come from the lifecycle's own Redis index."""
    import redis.asyncio as aioredis

    from routers.incidents.book import IncidentBook
    from routers.incidents.status import Status
    from routers.incidents.updates import StatusUpdate
    from streams.lifecycle.serving import IncidentIndex
    from tests.routers.incidents.factories import BEN_THANH as BT
    from tests.routers.incidents.factories import minutes, routed_event

    url = redis_url.rsplit("/", 1)[0] + "/7"  # a database of our own: other tests flush theirs
    now = datetime.now(UTC)
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("d1", ward=BT, at=now - minutes(60)), now - minutes(60))  # ack due after 15 min
    book.on_routed(routed_event("d2", ward=BT, kind="fire", at=now - minutes(2)), now - minutes(2))
    late, fresh = sorted(book.open_in(BT.code), key=lambda i: i.created_at)
    book.on_update(StatusUpdate("u1", fresh.id, BT.code, Status.ACKNOWLEDGED, "duty"), now - minutes(1))

    async def main() -> None:
        client = aioredis.from_url(url)
        await client.flushdb()
        await IncidentIndex(client, "ioc-router").put_all([book.for_update(BT.code, late.id), book.for_update(BT.code, fresh.id)])
        await client.aclose()
        async with serve(make_parts(generation, redis_url=url)) as http:
            ov = await overview(http)
            assert ov["incidents"]["state"] == "ok", ov["incidents"]
            row = next(r for r in ov["wards"] if r["code"] == BT.code)
            assert (row["open_serving"], row["overdue"]) == (2, 1)
            assert row["median_ack_s"] == pytest.approx(60, abs=1)
            assert ov["map_values"]["overdue"] == {BT.code: 1}
            listed = await (await http.get("/api/incidents", params={"ward": BT.code})).json()
            assert listed["count"] == 2
            bad = await http.get("/api/incidents", params={"ward": "12"})
            assert bad.status == 400 and (await bad.json())["error"] == "bad_ward"

    asyncio.run(main())


def test_unreachable_incident_store(generation: Any) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"

    async def body(client: TestClient) -> None:
        ov = await overview(client)
        assert ov["incidents"]["state"] == "unavailable"
        assert "does not answer" in ov["incidents"]["message"]
        assert all(r["overdue"] is None for r in ov["wards"])

    run(make_parts(generation, redis_url=url), body)


def test_a_slow_older_scrape_never_replaces_a_newer_one(monkeypatch: Any) -> None:
    """The background loop and a caller may scrape at once (the full suite once failed the test
    above this way): the scrape that started last is the one kept."""
    import threading
    import time as time_module

    from dashboards.sources import workers as workers_module

    first_started = threading.Event()
    calls: list[str] = []

    def fake_scrape(urls: Any, timeout_s: float) -> str:
        if not calls:
            calls.append("old")
            first_started.set()
            time_module.sleep(0.3)  # the older scrape answers last
            return "old"
        calls.append("new")
        return "new"

    monkeypatch.setattr(workers_module, "scrape", fake_scrape)

    async def main() -> None:
        source = WorkerMetrics(["http://127.0.0.1:9/metrics"], interval_s=60)
        older = asyncio.ensure_future(source.refresh())
        await asyncio.to_thread(first_started.wait, 5)
        await source.refresh()
        await older
        assert source._latest is not None and source._latest.totals == "new"

    asyncio.run(main())
