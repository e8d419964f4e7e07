"""The drill-down API on a real aiohttp server and the session's real Redis: a ward, an incident
with its evidence as each viewer may see it, KPIs over a period, the monthly ranking as CSV, the
device layers; figures that outlive the serving index and a dashboard restart."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from dashboards.access import AccessPolicy, Viewer, token_hash
from dashboards.evidence import EventStore
from dashboards.server import Parts
from routers import kpi
from routers.decision import Decision, Sla
from routers.envelope import routed
from routers.events import Event, GeoPoint, Reporter, Source
from routers.incidents.book import IncidentBook
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from routers.locate.result import Location, WardRef
from streams.devices import DEVICES_KEY, DeviceRecord
from streams.lifecycle.serving import IncidentIndex
from tests.dashboards.conftest import make_parts, serve
from tests.dashboards.live import png, serve_folder
from tests.routers.incidents.factories import minutes, routed_event

pytestmark = pytest.mark.integration

WARD = WardRef("26740", "Phường Sài Gòn", "79")
OTHER = WardRef("26743", "Phường Bến Thành", "79")
WARD_TOKEN, OTHER_TOKEN, OPERATOR = "ward-26740-token", "ward-26743-token", "operator-token"


def citizen_report(event_id: str, at: datetime) -> dict[str, Any]:
    """The routed envelope the owning ward's topic carries (with the reporter), as the pipeline builds it."""
    event = Event(id=event_id, source=Source.REPORT, kind="fire", occurred_at=at, point=GeoPoint(10.7757, 106.7004),
                  description="Khói ở chợ, gọi 0903123456", reporter=Reporter("Trần Thị Bình", "0903123456"))
    location = Location("resolved", WARD, "point", "gen-1", "approximate")
    decision = Decision(("ward:26740", "agency:fire"), "P1", Sla(120, 7200), ("root", "fire-report"), "rules-1",
                        trace=("rules rules-1", "route fire-report: category fire"))
    return routed(event, location, decision, target="ward:26740", now=at)


def camera_detection(event_id: str, at: datetime, snapshot_url: str) -> dict[str, Any]:
    event = Event(id=event_id, source=Source.CAMERA, kind="fire_smoke", occurred_at=at, device_id="cam-1",
                  attributes={"snapshot_url": snapshot_url})
    location = Location("resolved", WARD, "device", "gen-1", "approximate")
    decision = Decision(("ward:26740",), "P1", Sla(120, 7200), ("root", "camera-fire"), "rules-1")
    return routed(event, location, decision, target="ward:26740", now=at)


async def stage(url: str, now: datetime, pictures: str) -> dict[str, Any]:
    """Three incidents in WARD (one acknowledged on time and resolved, one acknowledged late, one
    open past its deadline) and one in OTHER, through the real incident book into the real index."""
    import redis.asyncio as aioredis

    book = IncidentBook({}, {}, {})
    t = now - minutes(90)
    book.on_routed(routed_event("r-fire", ward=WARD, kind="fire", priority="P1", sla=Sla(120, 7200), at=t), t)
    book.on_routed(routed_event("r-late", ward=WARD, kind="noise", sla=Sla(300, 7200), at=t + minutes(5)), t + minutes(5))
    book.on_routed(routed_event("r-open", ward=WARD, kind="pothole", sla=Sla(600, 3600), at=t + minutes(10)), t + minutes(10))
    book.on_routed(routed_event("r-other", ward=OTHER, kind="noise", sla=Sla(600, 7200), at=t + minutes(20)), t + minutes(20))
    fire, late, still = sorted(book.open_in(WARD.code), key=lambda i: i.created_at)
    book.on_update(StatusUpdate("u1", fire.id, WARD.code, Status.ACKNOWLEDGED, "officer-17"), t + minutes(1))
    book.on_update(StatusUpdate("u2", fire.id, WARD.code, Status.RESOLVED, "officer-17", outcome="fixed", summary="ok"),
                   t + minutes(30))
    book.on_update(StatusUpdate("u3", late.id, WARD.code, Status.ACKNOWLEDGED, "officer-9"), t + minutes(15))
    client = aioredis.from_url(url)
    await client.flushdb()
    incidents = [book.for_update(WARD.code, fire.id), book.for_update(WARD.code, late.id), book.for_update(WARD.code, still.id),
                 *book.open_in(OTHER.code)]
    await IncidentIndex(client, "ioc-router").put_all(incidents)
    await client.hset(DEVICES_KEY, mapping={"cam-1": DeviceRecord("cam-1", "camera", 10.7757, 106.7004, "chợ").to_json(),
                                            "wl-1": DeviceRecord("wl-1", "water_level", 10.77, 106.70).to_json()})
    store = EventStore(client, "ioc-router")
    await store.remember([citizen_report("r-fire", t), camera_detection("c-fire", t, f"{pictures}/snap.png"),
                          camera_detection("c-page", t, f"{pictures}/page.html"),
                          camera_detection("c-gone", t, "http://127.0.0.1:9/nothing.jpg")])
    await client.aclose()
    return {"fire": fire.id, "late": late.id, "open": still.id, "bodies": [i.to_json() for i in incidents], "store": store}


def access() -> AccessPolicy:
    return AccessPolicy(operator_token=OPERATOR, viewers={
        token_hash(WARD_TOKEN): Viewer("sai-gon-duty", frozenset({WARD.code})),
        token_hash(OTHER_TOKEN): Viewer("ben-thanh-duty", frozenset({OTHER.code})),
    })


def run(parts: Parts, body: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with serve(parts) as client:
            await body(client)

    asyncio.run(main())


@pytest.fixture
def db(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + "/8"  # a database of our own: flushed here, shared by nobody


@pytest.fixture
def pictures(tmp_path: Path) -> Iterator[str]:
    """A camera's snapshot server on loopback: a PNG, and a page that is not a picture."""
    (tmp_path / "snap.png").write_bytes(png())
    (tmp_path / "page.html").write_text("<script>alert(1)</script>")
    with serve_folder(tmp_path) as url:
        yield url


def test_ward_incident_kpis_ranking_and_devices(generation: Any, db: str, pictures: str) -> None:
    now = datetime.now(UTC)
    staged = asyncio.run(stage(db, now, pictures))
    parts = make_parts(generation, redis_url=db, access=access())

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def body(client: TestClient) -> None:
        parts.events = staged["store"]  # the feed's store: the personal part lives in its memory only
        from dashboards.feed import item_from_envelope

        parts.hub.publish(item_from_envelope(citizen_report("r-feed", now)))  # type: ignore[arg-type]
        assert (await client.get(f"/api/wards/{WARD.code}")).status == 401  # the dashboard token is needed
        ward = await (await client.get(f"/api/wards/{WARD.code}", headers=auth(OPERATOR))).json()
        assert ward["name"] == WARD.name
        assert [i["id"] for i in ward["open"]] == [staged["late"], staged["open"]]  # same priority: earlier deadline first
        late, still = ward["open"]
        assert (late["overdue"], still["overdue"]) == (False, True)  # 90 min: the 60-min resolve deadline passed
        assert staged["fire"] in {i["id"] for i in ward["recent"]}
        # the feed's backlog of the ward (seeded with its incidents at start), newest first
        assert ward["events"][0]["id"] == "event:r-feed" and ward["events"][0]["reporter"]["name"] == "***"
        assert {e["ward"] for e in ward["events"]} == {WARD.code}
        own_ward = await (await client.get(f"/api/wards/{WARD.code}", headers=auth(WARD_TOKEN))).json()
        assert own_ward["events"][0]["reporter"]["name"] == "Trần Thị Bình"
        k = ward["kpis"]
        assert (k["received"], k["ack_on_time"], k["ack_decided"]) == (3, 1, 3)
        assert (k["resolve_on_time"], k["resolve_decided"], k["overdue_now"]) == (1, 2, 1)
        assert k["median_ack_s"] == pytest.approx((60 + 600) / 2)  # acknowledged after 1 min and after 10 min
        for bad, code in (("12", 400), ("99999", 404)):
            assert (await client.get(f"/api/wards/{bad}", headers=auth(OPERATOR))).status == code

        # the incident view: timeline with actors, evidence details, the rules trace; reporters per viewer
        view = await (await client.get(f"/api/incidents/{staged['fire']}/view", headers=auth(OPERATOR))).json()
        assert [h["status"] for h in view["history"]] == ["new", "routed", "acknowledged", "resolved"]
        assert view["history"][2]["actor"] == "officer-17"
        report = next(e for e in view["evidence"] if e["event_id"] == "r-fire")["detail"]
        assert report["reporter"] == {"name": "***", "phone": "********56"} and report["masked"] is True
        assert "0903123456" not in report["description"]
        assert view["routing"]["rule"] == "fire-report" and "route fire-report: category fire" in view["routing"]["trace"]
        own = await (await client.get(f"/api/incidents/{staged['fire']}/view", headers=auth(WARD_TOKEN))).json()
        report = next(e for e in own["evidence"] if e["event_id"] == "r-fire")["detail"]
        assert report["reporter"] == {"name": "Trần Thị Bình", "phone": "0903123456"}
        assert "0903123456" in report["description"]
        other = await (await client.get(f"/api/incidents/{staged['fire']}/view", headers=auth(OTHER_TOKEN))).json()
        assert "Trần Thị Bình" not in orjson.dumps(other).decode()
        missing = await client.get("/api/incidents/inc-nope/view", headers=auth(OPERATOR))
        assert missing.status == 404
        # pictures come through the dashboard: only images, from the stored evidence, never a given URL
        snap = await client.get("/api/evidence/c-fire/image/0", headers=auth(OPERATOR))
        assert snap.status == 200 and snap.content_type == "image/png" and await snap.read() == png()
        assert snap.headers["Cache-Control"].startswith("private")
        page = await client.get("/api/evidence/c-page/image/0", headers=auth(OPERATOR))
        assert page.status == 502 and "not a picture" in (await page.json())["message"]
        gone = await client.get("/api/evidence/c-gone/image/0", headers=auth(OPERATOR))
        assert gone.status == 502
        for path in ("/api/evidence/c-fire/image/1", "/api/evidence/nope/image/0"):
            assert (await client.get(path, headers=auth(OPERATOR))).status == 404
        assert (await client.get("/api/evidence/c-fire/image/0")).status == 401

        # KPIs of the city and every ward, equal to routers.kpi over the incidents themselves
        figures = await (await client.get("/api/kpis", params={"period": "24h"}, headers=auth(OPERATOR))).json()
        facts = [kpi.fact_of(b) for b in staged["bodies"]]
        computed_at = datetime.fromisoformat(figures["computed_at"])
        expected = kpi.kpis("city", facts, datetime.fromisoformat(figures["from"]), datetime.fromisoformat(figures["to"]),
                            computed_at, current=facts)
        assert figures["city"] == expected.to_json()
        assert figures["wards"][WARD.code]["received"] == 3 and figures["wards"][OTHER.code]["received"] == 1
        assert len(figures["wards"]) == 168
        bad = await client.get("/api/kpis", params={"period": "fortnight"}, headers=auth(OPERATOR))
        assert bad.status == 400 and (await bad.json())["error"] == "bad_period"

        # the monthly ranking, as JSON and as CSV
        month = kpi.month_of(now - minutes(90))
        ranking = await (await client.get("/api/ranking", params={"month": month}, headers=auth(OPERATOR))).json()
        assert ranking["rows"][0]["ward"] == WARD.code and ranking["rows"][0]["resolve_on_time_rate"] == 0.5
        response = await client.get("/api/ranking", params={"month": month, "format": "csv"}, headers=auth(OPERATOR))
        assert response.headers["Content-Disposition"] == f'attachment; filename="ioc-ward-ranking-hcmc-{month}.csv"'
        rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
        assert len(rows) == 168 and rows[0]["ward"] == WARD.code and rows[0]["ward_name"]
        assert (rows[0]["received"], rows[0]["resolve_on_time_rate"], rows[0]["ack_on_time"]) == ("3", "0.5", "1")
        assert rows[1]["ward"] == OTHER.code  # undecided resolve, ack decided -> after WARD
        assert (await client.get("/api/ranking", params={"month": "13-2026"}, headers=auth(OPERATOR))).status == 400

        devices = await (await client.get("/api/devices", headers=auth(OPERATOR))).json()
        assert [(d["id"], d["kind"]) for d in devices["devices"]] == [("cam-1", "camera"), ("wl-1", "water_level")]
        config = await (await client.get("/api/config", headers=auth(WARD_TOKEN))).json()
        assert config["viewer"] == {"name": "sai-gon-duty", "wards": [WARD.code]} and config["tile_url"] is None

    run(parts, body)

    # the serving index forgets resolved incidents after 7 days; the month's facts stay, and a
    # restarted dashboard (new process, new store) still ranks them
    async def forget_and_restart() -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(db)
        await client.delete(f"ioc-router:incident:{staged['fire']}")
        await client.aclose()
        async with serve(make_parts(generation, redis_url=db, access=access())) as http:
            ranking = await (await http.get("/api/ranking", params={"month": kpi.month_of(now - minutes(90))},
                                            headers=auth(OPERATOR))).json()
            assert ranking["rows"][0]["ward"] == WARD.code and ranking["rows"][0]["received"] == 3

    asyncio.run(forget_and_restart())


def test_a_ward_viewer_sees_only_its_wards_figures_and_pictures(generation: Any, db: str, pictures: str) -> None:
    """Least privilege (issue 21): the overview, KPIs and ranking of a ward viewer cover its wards
    only, another ward's pictures are unknown to it, and the city-wide silences are refused."""
    now = datetime.now(UTC)
    staged = asyncio.run(stage(db, now, pictures))
    parts = make_parts(generation, redis_url=db, access=access())
    other = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    operator = {"Authorization": f"Bearer {OPERATOR}"}

    async def body(client: TestClient) -> None:
        parts.events = staged["store"]
        overview = await (await client.get("/api/overview", headers=other)).json()
        assert [row["code"] for row in overview["wards"]] == [OTHER.code]
        assert set(overview["map_values"]["overdue"]) | set(overview["map_values"]["at_risk"]) <= {OTHER.code}
        everything = await (await client.get("/api/overview", headers=operator)).json()
        assert len(everything["wards"]) == 168 and WARD.code in everything["map_values"]["overdue"]

        figures = await (await client.get("/api/kpis", params={"period": "24h"}, headers=other)).json()
        assert list(figures["wards"]) == [OTHER.code] and figures["scope"] == [OTHER.code]
        assert figures["city"]["received"] == 1  # its own ward's incident, not the city's four
        ranking = await (await client.get("/api/ranking", params={"month": kpi.month_of(now - minutes(90))},
                                          headers=other)).json()
        assert [row["ward"] for row in ranking["rows"]] == [OTHER.code]

        refused = await client.get("/api/evidence/c-fire/image/0", headers=other)  # WARD's camera
        assert refused.status == 404 and (await refused.json())["error"] == "unknown_image"
        own = await client.get("/api/evidence/c-fire/image/0", headers={"Authorization": f"Bearer {WARD_TOKEN}"})
        assert own.status == 200 and await own.read() == png()

        silences = await client.get("/api/silences", headers=other)
        assert silences.status == 403 and (await silences.json())["error"] == "forbidden"
        assert (await client.get("/api/silences", headers=operator)).status == 503  # no broker here: not refused

    run(parts, body)


def test_no_redis_says_so(generation: Any) -> None:
    async def body(client: TestClient) -> None:
        for path in ("/api/kpis", "/api/ranking", f"/api/wards/{WARD.code}", "/api/incidents/x/view", "/api/devices"):
            response = await client.get(path)
            assert response.status == 503 and (await response.json())["error"] == "no_redis", path

    run(make_parts(generation), body)


def test_vendor_library_missing_says_how_to_install(tmp_path: Path) -> None:
    from aiohttp import web

    from dashboards import vendor

    async def main() -> None:
        app = web.Application()
        vendor.register(app, tmp_path / "node_modules")
        from aiohttp.test_utils import TestServer

        async with TestClient(TestServer(app)) as client:
            response = await client.get("/vendor/leaflet/leaflet.js")
            assert response.status == 503 and "make setup" in await response.text()

    asyncio.run(main())
