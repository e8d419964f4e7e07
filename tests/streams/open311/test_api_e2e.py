"""Acceptance, end to end on the embedded stack: real Open311 clients from PyPI (civicbot's
GeoReport v2 client, which can POST, and georeport, which reads) and plain HTTP written from the
specification list services, post a report with a photo URL and an old-format address and read it
back; the ward resolves it through ioc.status; GET requests/{id}.json shows it closed with the
ward's notes and the portal receiver has the signed result within 5 s (after refusing the first try)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson
import pytest

from routers.open311.portal import verify
from tests.streams.open311.conftest import API_KEY, PORTAL_SECRET

pytestmark = [pytest.mark.integration]

PHOTO = "https://media.1022.vn/2026/06/ngap-nguyen-dinh-chieu.jpg"
OLD_ADDRESS = "123 Nguyễn Đình Chiểu, P.6, Q.3"  # pre-merger ward and district, no city: the jurisdiction adds it
WARD_XUAN_HOA = "27139"  # old Phường 6 (and 7, 8), Quận 3 -> Phường Xuân Hòa


def http(method: str, url: str, form: dict[str, Any] | None = None, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), dict(error.headers)


def poll(read: Any, until: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = read()
        if until(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: still {last!r} after {timeout_s} s")


def civicbot_client(base: str) -> Any:
    from civicbot.http import HttpTransport, RateLimiter
    from civicbot.open311 import Open311Client
    from civicbot.registry import Endpoint

    endpoint = Endpoint(id="ioc-test", name="IOC test", base_url=base, write=True)
    return Open311Client(endpoint, HttpTransport(rate_limiter=RateLimiter(min_interval=0.0)), jurisdiction_id="hcmc")


def ward_events(bootstrap: str, ward: str, event_id: str) -> list[dict[str, Any]]:
    """Every envelope of ``event_id`` on the ward's topic (read without a consumer group)."""
    from kafka import KafkaConsumer, TopicPartition

    from routers import topics

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        topic = topics.ward_topic(ward)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found = []
        for _ in range(20):
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    body = orjson.loads(record.value)
                    if body.get("subject") == event_id and body.get("type") == "vn.ioc.event.routed":
                        found.append(body)
        return found
    finally:
        consumer.close()


def send_status(bootstrap: str, update: dict[str, Any]) -> None:
    from kafka import KafkaProducer

    from routers import topics

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(topics.STATUS, key=update["ward"].encode(), value=orjson.dumps(update)).get(timeout=10)
    finally:
        producer.close()


def test_services_from_a_real_client_and_plain_http(open311_api: str) -> None:
    from georeport import GeoReport

    listed = GeoReport(open311_api, jurisdiction="hcmc").get_service_list()
    codes = {s["service_code"]: s for s in listed}
    assert len(codes) == 18 and codes["flooding"]["service_name"] == "Ngập nước"
    assert codes["flooding"]["group"] == "Ngập úng, thoát nước" and codes["flooding"]["metadata"] is False
    assert civicbot_client(open311_api).list_services() == listed
    status, definition, headers = http("GET", f"{open311_api}/services/road_damage.json")
    assert status == 200 and definition == {"service_code": "road_damage", "attributes": []}
    assert headers["Content-Type"].startswith("application/json")
    status, body, _ = http("GET", f"{open311_api}/services/pothole.json")
    assert status == 404 and body[0]["code"] == "unknown_service_code"
    status, body, _ = http("GET", f"{open311_api}/services.json?jurisdiction_id=paris")
    assert status == 404 and body[0]["code"] == "jurisdiction_not_found"


def test_report_read_back_resolved_by_the_ward_and_delivered_signed(
        open311_api: str, pipeline_worker: str, portal_delivery: str, portal_receiver: Any, kafka_bootstrap: str,
        redis_url: str) -> None:
    from georeport import GeoReport

    prepared = civicbot_client(open311_api).create_request(
        "flooding", dry_run=False, confirm="SEND", api_key=API_KEY, validate_remote=True,
        address_string=OLD_ADDRESS, media_url=PHOTO, description="Ngập sâu 40cm trước số 123, xe chết máy",
        first_name="Nguyễn", last_name="Thị Lan", phone="0903 123 456", email="lan.nguyen@example.vn")
    created = prepared.response
    assert isinstance(created, list) and len(created) == 1
    request_id = created[0]["service_request_id"]

    reader = GeoReport(open311_api, jurisdiction="hcmc")
    first = reader.get_service_request(request_id)
    assert first["service_request_id"] == request_id and first["status"] == "open"
    assert first["service_code"] == "flooding" and first["media_url"] == PHOTO
    assert first["address"] == OLD_ADDRESS and first["requested_datetime"].endswith("+07:00")
    assert "0903" not in json.dumps(first) and "Lan" not in json.dumps(first)  # no personal data over GET

    routed = poll(lambda: reader.get_service_request(request_id),
                  lambda r: r["extended_attributes"]["ioc_state"] == "routed", 90, "routing")
    incident_id = routed["extended_attributes"]["incident_id"]
    assert routed["extended_attributes"]["ward"] == WARD_XUAN_HOA
    assert routed["agency_responsible"].endswith(f"({WARD_XUAN_HOA})") and routed["expected_datetime"]
    assert routed["status"] == "open"

    # the photo and the reporter (with the email) reached the owning ward, and the incident has the photo
    envelopes = ward_events(kafka_bootstrap, WARD_XUAN_HOA, request_id)
    owner = [e for e in envelopes if e["ioctarget"] == f"ward:{WARD_XUAN_HOA}"]
    assert owner and owner[0]["data"]["event"]["media"] == [PHOTO]
    assert owner[0]["data"]["event"]["reporter"] == {"name": "Nguyễn Thị Lan", "phone": "0903 123 456",
                                                     "email": "lan.nguyen@example.vn"}
    status, incident, _ = http("GET", pipeline_worker.replace("/metrics", f"/api/incidents/{incident_id}"))
    assert status == 200
    assert [e.get("media") for e in incident["evidence"] if e["event_id"] == request_id] == [[PHOTO]]

    send_status(kafka_bootstrap, {"update_id": f"{request_id}-ack", "incident_id": incident_id, "ward": WARD_XUAN_HOA,
                                  "status": "acknowledged", "actor": "officer-17"})
    resolved_at = time.monotonic()
    send_status(kafka_bootstrap, {"update_id": f"{request_id}-done", "incident_id": incident_id,
                                  "ward": WARD_XUAN_HOA, "status": "resolved", "actor": "officer-17",
                                  "result": {"outcome": "fixed", "summary": "Đã nạo vét cống, nước đã rút"}})
    delivered = poll(lambda: portal_receiver.accepted_for(request_id), bool, 30, "delivery to the portal")
    print(f"signed result at the portal {delivered[0].at - resolved_at:.2f} s after the ward resolved")
    assert delivered[0].at - resolved_at < 5.0, f"delivered {delivered[0].at - resolved_at:.1f} s after resolving"
    result = delivered[0]
    assert result.json["type"] == "vn.ioc.report.result" and result.json["data"]["summary"] == "Đã nạo vét cống, nước đã rút"
    assert result.headers["Idempotency-Key"] == result.json["id"]
    assert verify(PORTAL_SECRET, result.body, result.headers["X-IOC-Signature"], now=time.time())
    assert not verify("another-secret", result.body, result.headers["X-IOC-Signature"], now=time.time())
    assert portal_receiver.tries[result.json["id"]] >= 2  # the first try was refused (503) and retried

    closed = poll(lambda: reader.get_service_request(request_id), lambda r: r["status"] == "closed", 30, "closing")
    assert closed["status_notes"] == "Đã nạo vét cống, nước đã rút"
    # the tracker keeps the outcome with the request: still "closed" after the incident's document ages out
    import redis

    kept = poll(lambda: redis.Redis.from_url(redis_url).hgetall(f"ioc-router:open311:request:{request_id}"),
                lambda h: h.get(b"incident_status") == b"resolved", 30, "tracking the resolution")
    assert kept[b"summary"].decode() == "Đã nạo vét cống, nước đã rút" and kept[b"ward"] == WARD_XUAN_HOA.encode()
    assert b"Lan" not in b"".join(kept.values()) and b"0903" not in b"".join(kept.values())
    assert closed["extended_attributes"]["incident_status"] == "resolved"
    listed = reader.get_service_requests(service_request_id=request_id)
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert request_id in [r["service_request_id"] for r in reader.get_service_requests(status="closed")]
    assert request_id not in [r["service_request_id"] for r in reader.get_service_requests(status="open")]


def test_plain_http_post_new_format_and_error_arrays(open311_api: str) -> None:
    form = {"api_key": API_KEY, "service_code": "street_light", "lat": "10.7790", "long": "106.6880",
            "media_url": ["https://media.1022.vn/a.jpg", "https://media.1022.vn/b.jpg"], "description": "Đèn đường tắt"}
    status, created, _ = http("POST", f"{open311_api}/requests.json", form)
    assert status == 200 and created[0]["service_request_id"].startswith("o311-")
    status, got, _ = http("GET", f"{open311_api}/requests/{created[0]['service_request_id']}.json")
    assert status == 200 and got[0]["extended_attributes"]["media_urls"] == form["media_url"]
    assert got[0]["lat"] == 10.779 and got[0]["long"] == 106.688

    # multipart/form-data (a photo file part is ignored: photos come as media_url) and a JSON object
    import requests

    answer = requests.post(f"{open311_api}/requests.json", data={**form, "media_url": form["media_url"][0]},
                           files={"media": ("p.jpg", b"\xff\xd8\xff", "image/jpeg")}, timeout=15)
    assert answer.status_code == 200 and answer.json()[0]["service_request_id"].startswith("o311-")
    answer = requests.post(f"{open311_api}/requests.json", json={**form, "lat": 10.779, "long": 106.688}, timeout=15)
    assert answer.status_code == 200, answer.text
    answer = requests.post(f"{open311_api}/requests.json", json=[form], timeout=15)
    assert answer.status_code == 400 and answer.json()[0]["code"] == "bad_body"

    cases = [
        ({**form, "api_key": "wrong-key-0123456789"}, 403, "invalid_api_key"),
        ({k: v for k, v in form.items() if k != "api_key"}, 403, "invalid_api_key"),
        ({k: v for k, v in form.items() if k != "service_code"}, 400, "missing_service_code"),
        ({**form, "service_code": "pothole"}, 400, "unknown_service_code"),
        ({**form, "jurisdiction_id": "paris"}, 404, "jurisdiction_not_found"),
        ({k: v for k, v in form.items() if k not in ("lat", "long")}, 400, "no_location"),
        ({**form, "long": "east"}, 400, "bad_coordinates"),
        ({**form, "lat": "95", "long": "200"}, 400, "invalid_coordinates"),
        ({**form, "media_url": "ftp://media.1022.vn/a.jpg"}, 400, "bad_media_url"),
        ({**form, "description": "x" * 5001}, 400, "field_too_long"),
    ]
    for bad, expected_status, code in cases:
        status, body, _ = http("POST", f"{open311_api}/requests.json", bad)
        assert (status, body[0]["code"]) == (expected_status, code), bad
        assert set(body[0]) == {"code", "description"}
    status, body, _ = http("POST", f"{open311_api}/requests.json", data=b"a" * 70_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and body[0]["code"] == "request_too_large"
    status, body, _ = http("GET", f"{open311_api}/requests/o311-nope.json")
    assert status == 404 and body[0]["code"] == "unknown_service_request"
    status, body, headers = http("DELETE", f"{open311_api}/requests.json")
    assert status == 405 and body[0]["code"] == "method_not_allowed" and "POST" in headers["Allow"]
    for query, code in [("status=pending", "bad_status"), ("start_date=yesterday", "bad_date"),
                        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "bad_date"),
                        ("page_size=0", "bad_page_size")]:
        status, body, _ = http("GET", f"{open311_api}/requests.json?{query}")
        assert (status, body[0]["code"]) == (400, code), query


def test_unroutable_and_dead_lettered_posts_are_closed_not_open_forever(
        open311_api: str, pipeline_worker: str, embedded_stack: Any, kafka_bootstrap: str) -> None:
    base = {"api_key": API_KEY, "service_code": "waste", "description": "Rác tồn đọng"}
    status, created, _ = http("POST", f"{open311_api}/requests.json", {**base, "lat": "9.20", "long": "108.90"})
    assert status == 200  # a valid point in the sea, kilometres from any ward
    sea = created[0]["service_request_id"]
    status, created, _ = http("POST", f"{open311_api}/requests.json",
                              {**base, "address_string": "Phường Không Tồn Tại, Quận 99"})
    nowhere = created[0]["service_request_id"]
    for request_id, reason in ((sea, "outside_boundaries"), (nowhere, "address_unresolved")):
        got = poll(lambda rid=request_id: http("GET", f"{open311_api}/requests/{rid}.json")[1][0],
                   lambda r: r["status"] == "closed", 90, f"unroutable {request_id}")
        assert got["extended_attributes"]["ioc_state"] == "unroutable"
        assert got["extended_attributes"]["reason"] == reason and "không xác định" in got["status_notes"].lower()

    # The pipeline refuses what the API would refuse too (one decoder), so a dead letter of an accepted
    # request needs a skew between them (a rolling upgrade, a smaller IOC_MAX_MESSAGE_BYTES on the
    # workers): the request is recorded as the API records it, and the intake gets a copy the
    # pipeline's decoder refuses. The real pipeline dead-letters it, the API's tracker reads it back.
    import asyncio
    from datetime import UTC, datetime

    from kafka import KafkaProducer

    from routers import topics
    from streams.open311.store import RequestStore
    from streams.redis_retry import client as redis_client

    skewed = f"o311-skew-{int(time.time() * 1000)}"

    async def record() -> None:
        redis = redis_client(embedded_stack.settings.redis_url)
        await RequestStore(redis, "ioc-router").add(
            {"service_request_id": skewed, "service_code": "waste", "jurisdiction_id": "hcmc", "client": "portal1022",
             "requested_datetime": datetime.now(UTC).isoformat(), "description": None, "address": None,
             "lat": 10.78, "long": 106.69, "media_urls": []}, datetime.now(UTC))
        await redis.aclose()

    asyncio.run(record())
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topics.REPORTS, key=skewed.encode(), value=orjson.dumps(
        {"id": skewed, "category": "waste", "location": {"lat": 10.78, "lon": 106.69}})).get(timeout=10)
    producer.close()
    got = poll(lambda: http("GET", f"{open311_api}/requests/{skewed}.json")[1][0],
               lambda r: r["status"] == "closed", 90, "dead letter")
    assert got["extended_attributes"] == {"ioc_state": "deadletter", "media_urls": [], "reason": "missing_field"}


def test_rate_limit_per_key_answers_429_with_retry_after(embedded_stack: Any, data_dir: Any, topics_ready: Any,
                                                         tmp_path: Any) -> None:
    import sys

    from streams.embedded.process import ManagedProcess, free_port
    from tests.streams.open311.conftest import API_KEYS, wait_http
    from tests.support import stack_env

    port = free_port()
    process = ManagedProcess("open311-api-limited", [sys.executable, "-m", "cli", "api", "--port", str(port)],
                             port, tmp_path / "api.log", ready_timeout_s=60,
                             env=stack_env(embedded_stack, data_dir, IOC_API_KEYS=API_KEYS, IOC_API_RATE_PER_MINUTE="3"))
    base = f"http://127.0.0.1:{port}/open311/v2"
    try:
        wait_http(f"{base}/services.json")
        answers = [http("POST", f"{base}/requests.json", {"api_key": API_KEY})[:2] for _ in range(4)]
        assert [status for status, _ in answers] == [400, 400, 400, 429]  # counted per key, before validation
        status, body, headers = http("POST", f"{base}/requests.json", {"api_key": API_KEY})
        assert status == 429 and body[0]["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1
        other = http("POST", f"{base}/requests.json", {"api_key": "test-fuzz-key-0123456789ab"})
        assert other[0] == 400  # another key has its own bucket
        gets = [http("GET", f"{base}/requests/o311-none.json")[0] for _ in range(31)]
        assert gets.count(404) == 29 and gets[-1] == 429  # ten times the POST rate; one GET went to wait_http
    finally:
        process.stop(timeout_s=10)
