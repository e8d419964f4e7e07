"""The dashboard closed and hardened (issue 21): security headers on every route it serves, the
token login's redirect stays on the site, closed beyond loopback without credentials, and ward
viewers see only their own wards' feed and incidents."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dashboards.access import AccessPolicy, load_viewers, token_hash
from dashboards.feed import item_from_envelope
from dashboards.server import create_app
from routers.decision import Decision, Sla
from routers.envelope import routed
from routers.events import Event, GeoPoint, Reporter, Source
from routers.locate.result import Location, WardRef
from tests.dashboards.conftest import make_parts, serve
from tests.dashboards.test_api import read_feed, run
from tests.streams.test_webguard import raw_get

BEN_THANH = WardRef("26740", "Phường Bến Thành", "79")
XUAN_HOA = WardRef("27142", "Phường Xuân Hòa", "79")
WARD_TOKEN = "ward-26740-only"
OPERATOR = {"Authorization": "Bearer operator-token"}
SECURITY = {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"}


def access(tmp_path: Path) -> AccessPolicy:
    viewers = tmp_path / "viewers.yaml"
    viewers.write_text(f"viewers:\n  - name: ben-thanh\n    token_sha256: {token_hash(WARD_TOKEN)}\n    wards: ['26740']\n")
    return AccessPolicy("operator-token", load_viewers(viewers))


def concrete_paths(parts: Any) -> list[str]:
    """Every GET route of the real app, with its placeholders filled in, and the static files."""
    paths = []
    for resource in create_app(parts).router.resources():
        info = resource.get_info()
        if "directory" in info:
            paths += [f"{info['prefix']}/{p.name}" for p in sorted(Path(info["directory"]).iterdir()) if p.is_file()]
        elif any(route.method == "GET" for route in resource):
            paths.append(info.get("path") or info["formatter"].replace("{incident_id}", "inc-none"))
    return paths


def test_security_headers_on_every_dashboard_route(generation: Any, tmp_path: Path) -> None:
    parts = make_parts(generation, access=access(tmp_path))
    paths = concrete_paths(parts)
    assert {"/", "/api/overview", "/api/feed", "/api/incidents", "/healthz", "/metrics", "/static/app.js"} <= set(paths)

    async def body(client: TestClient) -> None:
        answers: dict[str, tuple[int, Any]] = {}
        for path in paths:
            async with client.get(path, headers=OPERATOR) as response:  # /api/feed: headers only, then close
                answers[path] = (response.status, response.headers)
        for name, path, headers in (("404", "/nowhere", OPERATOR), ("401", "/api/overview", {}),
                                    ("static 404", "/static/nope.js", OPERATOR)):
            async with client.get(path, headers=headers) as response:
                answers[name] = (response.status, response.headers)
        assert answers["404"][0] == 404 and answers["401"][0] == 401 and answers["/"][0] == 200
        for where, (_status, headers) in answers.items():
            assert not SECURITY - set(headers), f"{where}: no {SECURITY - set(headers)}"
            csp = headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == (
                "DENY", "nosniff", "no-referrer")

    run(parts, body)


def test_the_page_has_no_inline_script_or_style() -> None:
    """What the CSP forbids must not be on the page (the browser test checks the running page)."""
    page = (Path(create_app.__code__.co_filename).parent / "static" / "index.html").read_text(encoding="utf-8")
    assert "<style" not in page and " style=" not in page and " on" + "click=" not in page
    assert all(tag.lstrip().startswith(('src="/static/', 'src="/vendor/')) for tag in page.split("<script")[1:])


def test_the_token_login_never_redirects_off_the_site(generation: Any, tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        for target, expected in (("//evil.example/x?token=operator-token", "/evil.example/x"),
                                 ("////evil.example/x?token=operator-token&lang=en", "/evil.example/x?lang=en"),
                                 ("/\\evil.example?token=operator-token", "/evil.example")):
            head = (await asyncio.to_thread(raw_get, client.port, target)).split(b"\r\n\r\n")[0].decode()
            assert head.startswith("HTTP/1.1 302"), head
            location = next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.startswith("Location"))
            assert location == expected
            cookie = next(line for line in head.split("\r\n") if line.startswith("Set-Cookie"))
            assert "Path=/;" in cookie and "HttpOnly" in cookie

    run(make_parts(generation, access=access(tmp_path)), body)


def test_beyond_loopback_without_credentials_the_dashboard_is_closed(generation: Any) -> None:
    parts = make_parts(generation)
    parts.config = dataclasses.replace(parts.config, host="0.0.0.0")

    async def body(client: TestClient) -> None:
        refused = await client.get("/api/overview")
        assert refused.status == 401 and "beyond loopback" in (await refused.json())["message"]
        assert (await client.get("/")).status == 401
        assert (await client.get("/healthz")).status == 200

    run(parts, body)


def envelope_for(event_id: str, ward: WardRef) -> dict[str, Any]:
    event = Event(id=event_id, source=Source.REPORT, kind="flooding", occurred_at=datetime(2026, 6, 12, 9, tzinfo=UTC),
                  point=GeoPoint(10.77, 106.69), description="Ngập, gọi (097) 888-1234",
                  reporter=Reporter("Trần Thị Bình", "097/888/1234"))
    location = Location("resolved", ward, "point", "gen-1", "approximate")
    decision = Decision((f"ward:{ward.code}",), "P2", Sla(900, 14400), ("root",), "rules-1")
    return routed(event, location, decision, target=f"ward:{ward.code}", now=datetime(2026, 6, 12, 9, tzinfo=UTC))


def test_a_ward_viewer_sees_only_its_wards_feed(generation: Any, tmp_path: Path) -> None:
    parts = make_parts(generation, access=access(tmp_path))
    for event_id, ward in (("own-1", BEN_THANH), ("other-1", XUAN_HOA), ("own-2", BEN_THANH)):
        parts.hub.publish(item_from_envelope(envelope_for(event_id, ward)) or {})

    async def body(client: TestClient) -> None:
        own = await read_feed(client, {"Authorization": f"Bearer {WARD_TOKEN}"}, 2)
        assert [p["id"] for k, p in own if k == "item"] == ["event:own-1", "event:own-2"]
        assert own[1][1]["reporter"]["phone"] == "097/888/1234"  # its own ward: in clear
        everyone = await read_feed(client, OPERATOR, 3)
        items = [p for k, p in everyone if k == "item"]
        assert [p["id"] for p in items] == ["event:own-1", "event:other-1", "event:own-2"]
        assert all(p["reporter"]["phone"] == "********34" for p in items)  # the operator: masked
        assert all("888" not in p["description"] for p in items)

    run(parts, body)


@pytest.mark.integration
def test_a_ward_viewer_sees_only_its_wards_incidents(generation: Any, redis_url: str, tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    from routers.incidents.book import IncidentBook
    from streams.lifecycle.serving import IncidentIndex
    from tests.routers.incidents.factories import routed_event

    url = redis_url.rsplit("/", 1)[0] + "/8"  # a database of our own
    now = datetime.now(UTC)
    book = IncidentBook({}, {}, {})
    book.on_routed(routed_event("mine", ward=BEN_THANH, at=now), now)
    book.on_routed(routed_event("theirs", ward=XUAN_HOA, at=now), now)
    mine, theirs = book.open_in(BEN_THANH.code)[0], book.open_in(XUAN_HOA.code)[0]

    async def main() -> None:
        client = aioredis.from_url(url)
        await client.flushdb()
        await IncidentIndex(client, "ioc-router").put_all([mine, theirs])
        await client.aclose()
        ward = {"Authorization": f"Bearer {WARD_TOKEN}"}
        async with serve(make_parts(generation, access=access(tmp_path), redis_url=url)) as http:
            listed = await (await http.get("/api/incidents", headers=ward)).json()
            assert [i["id"] for i in listed["incidents"]] == [mine.id] and listed["count"] == 1
            other = await http.get("/api/incidents", params={"ward": XUAN_HOA.code}, headers=ward)
            assert other.status == 403
            assert (await http.get(f"/api/incidents/{theirs.id}", headers=ward)).status == 404
            assert (await http.get(f"/api/incidents/{mine.id}", headers=ward)).status == 200
            assert (await http.get(f"/api/incidents/{theirs.id}/view", headers=ward)).status == 404
            assert (await http.get(f"/api/wards/{XUAN_HOA.code}", headers=ward)).status == 403
            everything = await (await http.get("/api/incidents", headers=OPERATOR)).json()
            assert {i["id"] for i in everything["incidents"]} == {mine.id, theirs.id}

    asyncio.run(main())
