"""The shared HTTP guard on a real aiohttp server: closed by default, constant-time tokens, security
headers on every response (errors, static files and streams too), redirects that stay on the site,
and no token in the log of an over-long request."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import logredact, webguard
from streams.app import WEB_CALLER, harden_web, worker_gate
from streams.settings import Settings

TOKEN = "s3cret-operator-token"
HEADERS = {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"}


def build_app(gate: webguard.Gate[str], static: Path | None = None, csp: str = webguard.API_CSP,
              login: bool = False) -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"caller": request[WEB_CALLER].name})

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    async def teapot(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text="bad")

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)  # headers leave before any middleware sees the response
        await response.write(b"data: 1\n\n")
        return response

    async def open_page(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    extra = (webguard.token_login(lambda t: webguard.tokens_equal(t, TOKEN), "cookie"),) if login else ()
    webguard.harden(app, gate, csp, before_gate=extra)
    app.router.add_get("/", ok)
    app.router.add_get("/api/incidents", ok)
    app.router.add_get("/broken", broken)
    app.router.add_get("/bad", teapot)
    app.router.add_get("/stream", stream)
    app.router.add_get("/healthz", open_page)
    app.router.add_get("/metrics", open_page)
    if static is not None:
        app.router.add_static("/static", static)
    return app


def run(app: web.Application, body: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            await body(client)
        finally:
            await client.close()

    asyncio.run(main())


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("worker", False), ("", False),
])
def test_loopback(host: str, expected: bool) -> None:
    assert webguard.is_loopback(host) is expected


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = webguard.hmac.compare_digest
    monkeypatch.setattr(webguard.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    check = worker_gate(Settings(dashboard_token=TOKEN, worker_web_host="0.0.0.0")).check

    class Request:
        headers = {"Authorization": "Bearer wrong"}

    assert check(Request()) is None  # type: ignore[arg-type]
    assert calls == [(b"wrong", TOKEN.encode())]


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_without_a_token_a_server_beyond_loopback_is_closed(host: str) -> None:
    async def body(client: TestClient) -> None:
        refused = await client.get("/api/incidents")
        assert refused.status == 401
        assert "beyond loopback" in (await refused.json())["message"]
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/metrics")).status == 200

    run(build_app(worker_gate(Settings(worker_web_host=host))), body)


def test_without_a_token_on_loopback_the_server_stays_open() -> None:
    async def body(client: TestClient) -> None:
        answer = await client.get("/api/incidents")
        assert answer.status == 200 and (await answer.json()) == {"caller": "anonymous"}

    run(build_app(worker_gate(Settings(worker_web_host="127.0.0.1"))), body)


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_with_a_token_missing_or_wrong_credentials_are_refused(host: str) -> None:
    async def body(client: TestClient) -> None:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {TOKEN}x"},
                        {"Authorization": TOKEN}, {"Cookie": f"ioc_dashboard_token={TOKEN}"}):
            answer = await client.get("/api/incidents", headers=headers)
            assert answer.status == 401, headers
            assert answer.headers["WWW-Authenticate"].startswith("Basic realm=")
        good = await client.get("/api/incidents", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status == 200 and (await good.json()) == {"caller": "operator"}
        basic = base64.b64encode(f"any:{TOKEN}".encode()).decode()
        assert (await client.get("/api/incidents", headers={"Authorization": f"Basic {basic}"})).status == 200
        assert (await client.get("/healthz")).status == 200

    run(build_app(worker_gate(Settings(dashboard_token=TOKEN, worker_web_host=host))), body)


def test_a_ward_viewer_token_opens_the_worker_api_for_its_wards_only(tmp_path: Path) -> None:
    """The dashboard's ward viewers file (IOC_DASHBOARD_VIEWERS) opens the worker too, scoped."""
    from streams.app import caller_wards
    from streams.viewers import token_hash

    viewers = tmp_path / "viewers.yaml"
    viewers.write_text(f"viewers:\n  - name: ben-thanh\n    token_sha256: {token_hash('ward-token')}\n"
                       f"    wards: ['26740']\n")
    gate = worker_gate(Settings(dashboard_token=TOKEN, dashboard_viewers=viewers, worker_web_host="0.0.0.0"))
    app = web.Application()
    webguard.harden(app, gate)

    async def scope(request: web.Request) -> web.Response:
        wards = caller_wards(request)
        return web.json_response({"caller": request[WEB_CALLER].name, "wards": None if wards is None else sorted(wards)})

    app.router.add_get("/api/incidents", scope)

    async def body(client: TestClient) -> None:
        ward = await client.get("/api/incidents", headers={"Authorization": "Bearer ward-token"})
        assert (await ward.json()) == {"caller": "ben-thanh", "wards": ["26740"]}
        operator = await client.get("/api/incidents", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (await operator.json()) == {"caller": "operator", "wards": None}
        for wrong in ("ward-tokenx", "", token_hash("ward-token")):
            assert (await client.get("/api/incidents", headers={"Authorization": f"Bearer {wrong}"})).status == 401

    run(app, body)


def test_security_headers_on_every_response(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("console.log(1)")
    gate = worker_gate(Settings(dashboard_token=TOKEN, worker_web_host="0.0.0.0"))
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def body(client: TestClient) -> None:
        answers = {
            "json": await client.get("/", headers=auth),
            "static": await client.get("/static/app.js", headers=auth),
            "unauthorized": await client.get("/"),
            "not found": await client.get("/nowhere", headers=auth),
            "static not found": await client.get("/static/nope.js", headers=auth),
            "handler error": await client.get("/broken", headers=auth),
            "http exception": await client.get("/bad", headers=auth),
            "method not allowed": await client.post("/", headers=auth),
            "stream": await client.get("/stream", headers=auth),
            "open": await client.get("/healthz"),
        }
        assert {name: a.status for name, a in answers.items()} == {
            "json": 200, "static": 200, "unauthorized": 401, "not found": 404, "static not found": 404,
            "handler error": 500, "http exception": 400, "method not allowed": 405, "stream": 200, "open": 200,
        }
        for name, answer in answers.items():
            missing = HEADERS - set(answer.headers)
            assert not missing, f"{name}: no {missing}"
            assert answer.headers["X-Frame-Options"] == "DENY"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.headers["Referrer-Policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]

    run(build_app(gate, static=tmp_path), body)


# -- redirects stay on the site ------------------------------------------------------------------
@pytest.mark.parametrize(("path", "query", "expected"), [
    ("//evil.example/x", {}, "/evil.example/x"),
    ("///evil.example", {"a": "1"}, "/evil.example?a=1"),
    ("/\\evil.example", {}, "/evil.example"),
    ("/", {"lang": "en"}, "/?lang=en"),
    ("", {}, "/"),
])
def test_local_location(path: str, query: dict[str, str], expected: str) -> None:
    assert webguard.local_location(path, query) == expected


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_a_redirect_never_leaves_the_site(path: str, query: dict[str, str]) -> None:
    location = webguard.local_location(path, query)
    assert location.startswith("/") and location[1:2] not in ("/", "\\")
    resolved = urlsplit(urljoin("https://dashboard.example/", location))
    assert resolved.netloc == "dashboard.example" and resolved.scheme == "https"


def raw_get(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_token_login_redirect_of_the_issue_stays_on_the_site() -> None:
    """``GET //evil.example/x?token=...`` used to answer ``Location: ////evil.example/x``."""
    gate = worker_gate(Settings(dashboard_token=TOKEN, worker_web_host="127.0.0.1"))

    async def body(client: TestClient) -> None:
        port = client.port
        answer = await asyncio.to_thread(raw_get, port, f"//evil.example/x?token={TOKEN}&lang=en")
        head = answer.split(b"\r\n\r\n")[0].decode()
        assert head.startswith("HTTP/1.1 302")
        location = next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.lower().startswith("location:"))
        assert location == "/evil.example/x?lang=en"
        assert "//evil" not in head
        cookie = next(line for line in head.split("\r\n") if line.lower().startswith("set-cookie:"))
        assert "Path=/;" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP here
        # an unknown token sets nothing and sends nobody anywhere
        refused = await asyncio.to_thread(raw_get, port, "//evil.example/x?token=guess")
        assert refused.startswith(b"HTTP/1.1 401") and b"Set-Cookie" not in refused and b"Location" not in refused

    run(build_app(gate, login=True), body)


def test_the_login_cookie_is_secure_behind_a_trusted_tls_proxy() -> None:
    gate = worker_gate(Settings(dashboard_token=TOKEN, worker_web_host="127.0.0.1"))

    def app(trust: bool) -> web.Application:
        application = web.Application()
        login = webguard.token_login(lambda t: webguard.tokens_equal(t, TOKEN), "cookie", trust_forwarded_proto=trust)
        webguard.harden(application, gate, before_gate=(login,))
        return application

    async def secure_cookie(client: TestClient) -> None:
        answer = await client.get("/", params={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"},
                                  allow_redirects=False)
        assert answer.status == 302 and answer.cookies["cookie"]["secure"]

    async def not_trusted(client: TestClient) -> None:
        answer = await client.get("/", params={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"},
                                  allow_redirects=False)
        assert answer.status == 302 and not answer.cookies["cookie"]["secure"]

    run(app(True), secure_cookie)
    run(app(False), not_trusted)


# -- no secrets in logs --------------------------------------------------------------------------
@pytest.mark.parametrize("request_bytes", [
    f"GET /?token={TOKEN}&pad={'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}{'a' * 9000}\r\n\r\n".encode(),
    f"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {'a' * 9000}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode(),
    f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nX-Pad: {'a' * 9000}\r\n\r\n".encode(),
])
def test_an_over_long_request_is_refused_without_logging_its_content(
        request_bytes: bytes, caplog: pytest.LogCaptureFixture) -> None:
    logredact.redact_every_log_record()
    gate = worker_gate(Settings(dashboard_token=TOKEN, worker_web_host="127.0.0.1"))

    def send(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request_bytes)
            return sock.recv(65536)

    async def body(client: TestClient) -> None:
        answer = await asyncio.to_thread(send, client.port)
        assert answer.split(b" ")[1] == b"400"  # refused by the parser, before any handler
        await asyncio.sleep(0.1)

    with caplog.at_level(logging.DEBUG):
        run(build_app(gate), body)
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "refused a malformed or over-long HTTP request" in logged
    assert TOKEN not in logged and TOKEN[:6] not in logged


def test_log_records_lose_tokens_passwords_and_phone_numbers(caplog: pytest.LogCaptureFixture) -> None:
    logredact.redact_every_log_record()
    log = logging.getLogger("tests.webguard")
    with caplog.at_level(logging.INFO):
        log.info("GET /?token=%s Authorization: Bearer %s redis://:%s@redis:6379/0", TOKEN, TOKEN, TOKEN)
        log.info("POST /open311/v2/requests.json?api_key=%s&service_code=001", TOKEN)
        log.info("reporter called from (097) 888-1234, {\"name\": \"Nguyễn Văn An\"}")
        try:
            raise ValueError(f"bad token={TOKEN} from 097/888/1234")
        except ValueError:
            log.exception("failed")
    logged = caplog.text
    assert TOKEN not in logged and "888" not in logged and "Nguyễn" not in logged
    assert "token=***" in logged and "Bearer ***" in logged and "redis://***@redis" in logged
    assert "api_key=***&service_code=001" in logged


def test_a_redacted_record_formats_once_through_faust_s_log_formatter() -> None:
    """Faust's workers log through mode's ExtensionFormatter, which turns ``args=None`` into ``(None,)``
    and formats the message again: a redacted record must leave nothing for it to format."""
    from mode.utils.logging import ExtensionFormatter

    logredact.redact_every_log_record()
    formatter = ExtensionFormatter(fmt="%(message)s")
    for message, args in (("[^Worker]: Signal received: %s", (15,)), ("[^Worker]: Closing event loop", ()),
                          ("traceback line: msg % self.args at 100%", ())):
        record = logging.getLogger("tests.webguard").makeRecord("t", logging.INFO, __file__, 1, message, args, None)
        assert formatter.format(record) == (message % args if args else message)


def test_the_worker_web_server_is_hardened_once() -> None:
    import faust

    app = faust.App("t-webguard", web_enabled=True)
    harden_web(app, Settings(dashboard_token=TOKEN, worker_web_host="0.0.0.0"))
    harden_web(app, Settings(dashboard_token=TOKEN, worker_web_host="0.0.0.0"))
    assert len(app.web.web_app.middlewares) == 1
    assert len(app.web.web_app.on_response_prepare) == 1
