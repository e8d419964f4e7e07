"""Every HTTP surface of ioc-router closed by default: one place for the dashboard, the worker's web
endpoint and any API server (Open311) to get the same guard with one call, :func:`harden`.

* **Credentials** (:class:`Gate`): every path but ``/healthz`` and ``/metrics`` needs one. With no
  credential configured a server on a loopback address stays open (``make run``, tests); bound
  to anything else it answers 401 to everyone until one is configured. Tokens are compared in
  constant time (``hmac.compare_digest``).
* **Security headers** on every response, static files and errors included (the
  ``on_response_prepare`` signal sees them all): a Content-Security-Policy, ``frame-ancestors
  'none'`` and ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``.
* **Token login** (:func:`token_login`, the dashboard's wall screens): ``/?token=...`` is moved into
  an HttpOnly cookie for path ``/`` and the browser is sent back to a local path only
  (``//evil.example`` becomes ``/evil.example``), ``Secure`` when served over TLS.

Over-long request lines and headers (aiohttp's 8 KiB limits) are refused by aiohttp with 400;
the log line it writes would quote their first 100 bytes, token included:
:mod:`streams.logredact` rewrites it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import orjson
from aiohttp import web

OPEN_PATHS = frozenset({"/healthz", "/metrics"})

# Only the server's own scripts, styles, images and API: no inline code, no other origin, never framed.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
# JSON and text answers load nothing.
API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

P = TypeVar("P")


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def is_loopback(host: str) -> bool:
    """Whether a bind address keeps a server unreachable from other machines."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "": may resolve to anything


def tokens_equal(offered: str, expected: str) -> bool:
    """Constant time: how long it takes tells nothing about how much of the token was right."""
    return hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))


def presented_token(headers: Mapping[str, str], cookies: Mapping[str, str] | None = None,
                    cookie: str | None = None) -> str | None:
    """The token of a request: ``Authorization: Bearer <token>``, the password of HTTP basic auth,
    or (when ``cookie`` is named) that cookie."""
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    if cookie is not None and cookies:
        return cookies.get(cookie) or None
    return None


@dataclass(frozen=True)
class Gate(Generic[P]):
    """Who may pass. ``check`` gives the caller's principal (stored under ``key``), ``None`` to refuse."""

    check: Callable[[web.Request], P | None]
    key: web.RequestKey[P]
    open_paths: frozenset[str] = OPEN_PATHS
    realm: str = "ioc-router"
    refusal: str = "this server needs a token (Authorization: Bearer <token>)"


def token_gate(token: str | None, host: str, key: web.RequestKey[str], realm: str = "ioc-router") -> Gate[str]:
    """One shared token (the operator token, ``IOC_DASHBOARD_TOKEN``): ``"operator"`` with it.
    Without a token configured: ``"anonymous"`` on a loopback address, nobody on any other."""
    if token:
        def check(request: web.Request) -> str | None:
            offered = presented_token(request.headers)
            return "operator" if offered is not None and tokens_equal(offered, token) else None
        return Gate(check, key, realm=realm)
    if is_loopback(host):
        return Gate(lambda request: "anonymous", key, realm=realm)
    return Gate(lambda request: None, key, realm=realm, refusal=closed_message(host))


def closed_message(host: str) -> str:
    return (f"this server listens on {host}, beyond loopback, and no credential is configured: "
            "set IOC_DASHBOARD_TOKEN or IOC_DASHBOARD_TOKEN_FILE")


def refused(gate: Gate[Any]) -> web.Response:
    return web.Response(
        body=orjson.dumps({"error": "unauthorized", "message": gate.refusal}), status=401,
        content_type="application/json",
        headers={"WWW-Authenticate": f'Basic realm="{gate.realm}", charset="UTF-8"'},
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def gate_middleware(gate: Gate[Any]) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in gate.open_paths:
            return await handler(request)
        principal = gate.check(request)
        if principal is None:
            return refused(gate)
        request[gate.key] = principal
        return await handler(request)

    return guard


def local_location(path: str, query: Mapping[str, str]) -> str:
    """A redirect target that stays on this site whatever the request path: ``//host``, ``/\\host``
    and ``/%2F/host`` would be read by browsers as another site, so the path always starts with
    exactly one slash followed by something that is not a slash."""
    local = "/" + path.lstrip("/\\")
    if query:
        local += "?" + urlencode(list(query.items()))
    return local


def served_over_tls(request: web.Request, trust_forwarded_proto: bool) -> bool:
    """TLS on this connection, or (only when a proxy in front is trusted to set it) the
    ``X-Forwarded-Proto: https`` of that proxy."""
    if request.secure:
        return True
    return trust_forwarded_proto and request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() == "https"


def token_login(accepts: Callable[[str], bool], cookie: str, trust_forwarded_proto: bool = False) -> Any:
    """``?token=<token>`` on a GET: when the token opens something, keep it in an HttpOnly cookie for
    the whole site (never a path the URL chose) and send the browser to the same local path
    without the token. An unknown token is ignored (the gate then refuses the request)."""

    @web.middleware
    async def login(request: web.Request, handler: Handler) -> web.StreamResponse:
        offered = request.query.get("token")
        if request.method in ("GET", "HEAD") and offered and accepts(offered):
            rest = {k: v for k, v in request.query.items() if k != "token"}
            response = web.HTTPFound(local_location(request.path, rest))
            response.set_cookie(cookie, offered, httponly=True, samesite="Strict", path="/",
                                secure=served_over_tls(request, trust_forwarded_proto))
            raise response
        return await handler(request)

    return login


def harden(app: web.Application, gate: Gate[Any], csp: str = API_CSP,
           before_gate: tuple[Any, ...] = ()) -> web.Application:
    """Close ``app``: ``before_gate`` middlewares (e.g. :func:`token_login`), then the gate, ahead
    of the app's own; security headers on every response. Call before the app starts."""
    app.middlewares[0:0] = [*before_gate, gate_middleware(gate)]
    return add_security_headers(app, csp)


def add_security_headers(app: web.Application, csp: str = API_CSP) -> web.Application:
    """The headers of :func:`security_headers` on every response of ``app`` (static files, errors
    and streamed answers too), for a service whose access is its own business (Open311's public
    GETs and ``api_key`` POSTs). Call before the app starts."""
    headers = security_headers(csp)

    async def add_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_headers)
    return app

