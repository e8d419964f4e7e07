"""Issue 21 on the Open311 API: the security headers of ``streams.webguard`` on every answer, the
GeoReport error arrays and a refused POST included (access stays the API's own: public GETs,
``api_key`` POSTs)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.integration]

SECURITY = {"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _headers(request: urllib.request.Request) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_every_open311_answer_carries_the_security_headers(open311_api: str) -> None:
    root = open311_api.rsplit("/open311/", 1)[0]
    answers = {
        "services": _headers(urllib.request.Request(f"{open311_api}/services.json")),
        "unknown service": _headers(urllib.request.Request(f"{open311_api}/services/nope.json")),
        "post without a key": _headers(urllib.request.Request(f"{open311_api}/requests.json", data=b"service_code=x",
                                                              method="POST")),
        "wrong method": _headers(urllib.request.Request(f"{open311_api}/services.json", method="DELETE")),
        "healthz": _headers(urllib.request.Request(f"{root}/healthz")),
    }
    assert answers["services"][0] == 200 and answers["unknown service"][0] == 404
    assert answers["post without a key"][0] in (400, 403) and answers["wrong method"][0] == 405
    for name, (_status, headers) in answers.items():
        for header, value in SECURITY.items():
            assert value in headers.get(header, ""), f"{name}: {header} = {headers.get(header)!r}"
