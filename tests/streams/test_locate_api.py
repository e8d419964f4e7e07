"""``GET /api/locate`` on a real worker's web server (embedded broker and Redis, real HTTP)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def _get(base: str, query: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{base}/api/locate?{query}", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_locate_api_answers_like_ioc_locate_json(pipeline_worker: str) -> None:
    base = pipeline_worker.rsplit("/metrics", 1)[0]
    status, body = _get(base, "lat=10.7769&lon=106.7009")
    assert status == 200 and body["status"] == "resolved" and body["source"] == "reference"
    assert body["ward"] == {"code": "26740", "name": "Phường Sài Gòn", "province_code": "79"}
    assert set(body) == {"status", "ward", "candidates", "method", "generation", "source", "corrections"}
    status, body = _get(base, urllib.parse.urlencode({"address": "P. Đa Kao, Q.1, TP.HCM"}))
    assert status == 200 and body["status"] == "ambiguous" and len(body["candidates"]) == 2
    for query in ("", "lat=abc&lon=1", "lat=10.7", "lat=10.7&lon=106.7&at=never", "lat=nan&lon=106.7",
                  "address=" + "x" * 600, "lat=10&lon=106&address=x", "lat=%ff%fe&lon=1"):
        status, body = _get(base, query)
        assert status == 400 and body["error"] and body["detail"], (query, body)
