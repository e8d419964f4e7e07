"""The pure Open311 core, without a broker: form -> report (checked by the pipeline's decoder),
incident state -> GeoReport service request, query filters, keys, jurisdictions, tracking readers,
signature, backoff and rate limit."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import orjson
import pytest

from routers.exceptions import Rejected
from routers.ingest.reports import decode_report
from routers.open311 import portal, services, tracking
from routers.open311.clients import parse_api_keys, parse_jurisdictions
from routers.open311.errors import GeoReportError
from routers.open311.intake import build_report
from routers.open311.ratelimit import RateLimiter
from routers.open311.view import parse_request_query, service_request
from streams.contracts import schema

NOW = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
KEYS = parse_api_keys("portal1022:portal:portal-key-0123456789\nzalo-app:zalo:zalo-key-0123456789abc")
CITIES = parse_jurisdictions("hcmc,danang.gov.vn=danang")
BASE = {"api_key": ["portal-key-0123456789"], "service_code": ["flooding"], "lat": ["10.779"], "long": ["106.688"]}


def post(**changes: Any) -> dict[str, list[str]]:
    form = {k: list(v) for k, v in BASE.items()}
    for name, value in changes.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value if isinstance(value, list) else [value]
    return form


def test_a_full_post_becomes_a_report_in_the_existing_contract() -> None:
    accepted = build_report(post(lat=None, long=None, address_string="12 Lê Lợi, P. Bến Nghé, Q.1",
                                 description="Ngập, gọi 0903123456", first_name="Lan", last_name="Nguyễn",
                                 phone="0903123456", email="lan@example.vn",
                                 media_url=["https://m.vn/1.jpg", "https://m.vn/2.jpg"]),
                            KEYS, CITIES, "o311-1", NOW)
    report = accepted.report
    assert report == {
        "id": "o311-1", "channel": "portal", "category": "flooding", "reported_at": "2026-06-12T09:00:00.000Z",
        "location": {"address": "12 Lê Lợi, P. Bến Nghé, Q.1, Thành phố Hồ Chí Minh"},
        "description": "Ngập, gọi 0903123456",
        "reporter": {"name": "Lan Nguyễn", "phone": "0903123456", "email": "lan@example.vn"},
        "media_urls": ["https://m.vn/1.jpg", "https://m.vn/2.jpg"],
    }
    jsonschema.validate(report, schema("ioc.in.reports"))  # the existing contract, extended additively
    event = decode_report(orjson.loads(orjson.dumps(report)))  # what the pipeline will read
    assert event.reporter is not None and event.reporter.email == "lan@example.vn"
    assert event.media == ("https://m.vn/1.jpg", "https://m.vn/2.jpg")
    record = accepted.record
    assert "Lan" not in orjson.dumps(record).decode() and "0903123456" not in orjson.dumps(record).decode()
    assert record["address"] == "12 Lê Lợi, P. Bến Nghé, Q.1" and record["client"] == "portal1022"


@pytest.mark.parametrize(("changes", "status", "code"), [
    ({"api_key": None}, 403, "invalid_api_key"),
    ({"api_key": "portal-key-012345678X"}, 403, "invalid_api_key"),
    ({"jurisdiction_id": "hanoi"}, 404, "jurisdiction_not_found"),
    ({"service_code": None}, 400, "missing_service_code"),
    ({"service_code": "pothole"}, 400, "unknown_service_code"),
    ({"service_code": ["flooding", "fire"]}, 400, "repeated_parameter"),
    ({"long": None}, 400, "bad_coordinates"),
    ({"lat": "nan"}, 400, "bad_coordinates"),
    ({"lat": "ten"}, 400, "bad_coordinates"),
    ({"lat": "91", "long": "181"}, 400, "invalid_coordinates"),
    ({"lat": None, "long": None}, 400, "no_location"),
    ({"lat": None, "long": None, "address_id": "A-17"}, 400, "no_location"),
    ({"first_name": "x" * 101}, 400, "field_too_long"),
    ({"email": "x" * 255}, 400, "field_too_long"),
    ({"description": "x" * 5001}, 400, "field_too_long"),
    ({"media_url": "javascript:alert(1)"}, 400, "bad_media_url"),
    ({"media_url": ["https://m.vn/p.jpg"] * 11}, 400, "too_many_media"),
])
def test_each_refusal_has_its_status_and_code(changes: dict[str, Any], status: int, code: str) -> None:
    with pytest.raises(GeoReportError) as caught:
        build_report(post(**changes), KEYS, CITIES, "o311-1", NOW)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_jurisdictions_keys_and_address_completion() -> None:
    danang = CITIES.get("danang.gov.vn")
    assert danang is not None and CITIES.get(None) is CITIES.default and CITIES.get("x") is None
    assert danang.complete_address("Phường Hải Châu") == "Phường Hải Châu, Thành phố Đà Nẵng"
    assert danang.complete_address("Phường Điện Bàn, Quảng Nam") == "Phường Điện Bàn, Quảng Nam"
    assert CITIES.default.complete_address("P. Phú Cường, TP. Thủ Dầu Một, Bình Dương").endswith("Bình Dương")
    assert KEYS.client_for("zalo-key-0123456789abc").channel == "zalo"  # type: ignore[union-attr]
    for bad in ("short:abc", "a:b:c:d", "Portal:k-0123456789abcdef", "p:fax:k-0123456789abcdef",
                "p:k-0123456789abcdef,p:k-0123456789abcdeg"):
        with pytest.raises(Rejected):
            parse_api_keys(bad)
    with pytest.raises(Rejected):
        parse_jurisdictions("paris")


def test_services_are_the_1022_categories_in_vietnamese() -> None:
    listed = services.service_list()
    assert len(listed) == 18 and listed[0]["service_code"] == "flooding" and listed[0]["service_name"] == "Ngập nước"
    assert all(s["description"] and s["group"] and s["type"] == "realtime" for s in listed)
    with pytest.raises(GeoReportError) as caught:
        services.service_definition("pothole")
    assert caught.value.status == 404


RECORD = {"service_request_id": "o311-1", "service_code": "flooding", "jurisdiction_id": "hcmc", "client": "portal1022",
          "requested_datetime": "2026-06-12T09:00:00.000Z", "description": "Ngập", "address": "P.6, Q.3",
          "lat": None, "long": None, "media_urls": ["https://m.vn/1.jpg"]}
INCIDENT = {"id": "inc-1", "ward": "27139", "ward_name": "Phường Xuân Hòa", "status": "acknowledged",
            "sla": {"ack_s": 1800, "resolve_s": 86400}, "resolve_due": "2026-06-13T09:00:00.000Z",
            "created_at": "2026-06-12T09:00:02.000Z", "updated_at": "2026-06-12T09:30:00.000Z",
            "point": {"lat": 10.78, "lon": 106.69}, "history": [{"note": "đã cử cán bộ"}], "result": None}


def test_an_incident_becomes_a_georeport_service_request() -> None:
    received = service_request(RECORD, {"state": "received"}, None)
    assert received["status"] == "open" and received["agency_responsible"] is None
    assert received["requested_datetime"] == "2026-06-12T16:00:00+07:00" and received["media_url"] == "https://m.vn/1.jpg"
    routed = service_request(RECORD, {"state": "routed", "incident": "inc-1"}, INCIDENT)
    assert routed["status"] == "open" and routed["agency_responsible"] == "Phường Xuân Hòa (27139)"
    assert routed["expected_datetime"] == "2026-06-13T16:00:00+07:00" and routed["status_notes"] == "đã cử cán bộ"
    assert routed["updated_datetime"] == "2026-06-12T16:30:00+07:00" and (routed["lat"], routed["long"]) == (10.78, 106.69)
    resolved = {**INCIDENT, "status": "resolved", "result": {"outcome": "fixed", "summary": "Đã nạo vét cống"}}
    closed = service_request(RECORD, {"state": "routed", "incident": "inc-1"}, resolved)
    assert closed["status"] == "closed" and closed["status_notes"] == "Đã nạo vét cống"
    aged_out = service_request(RECORD, {"state": "routed", "incident": "inc-1", "incident_status": "closed",
                                        "ward": "27139", "ward_name": "Phường Xuân Hòa", "summary": "Đã nạo vét cống"}, None)
    assert aged_out["status"] == "closed" and aged_out["status_notes"] == "Đã nạo vét cống"
    assert aged_out["agency_responsible"] == "Phường Xuân Hòa (27139)"
    for state, reason in (("unroutable", "address_unresolved"), ("deadletter", "missing_field")):
        gone = service_request(RECORD, {"state": state, "reason": reason}, None)
        assert gone["status"] == "closed" and reason in gone["status_notes"]
        assert gone["extended_attributes"] == {"ioc_state": state, "media_urls": ["https://m.vn/1.jpg"], "reason": reason}


@pytest.mark.parametrize(("params", "code"), [
    ({"status": "pending"}, "bad_status"), ({"service_code": "pothole"}, "unknown_service_code"),
    ({"start_date": "2026-06-01"}, "bad_date"), ({"start_date": "0001-01-01T00:00:00Z", "end_date": ""}, None),
    ({"end_date": "0001-01-01T00:00:00+01:00"}, "bad_date"),
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "bad_date"),
    ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "bad_date"),
    ({"page_size": "1001"}, "bad_page_size"), ({"page": "x"}, "bad_page"),
    ({"service_request_id": ",".join(str(i) for i in range(201))}, "too_many_ids"),
])
def test_request_filters_are_checked(params: dict[str, str], code: str | None) -> None:
    if code is None:
        parse_request_query(params, NOW)
        return
    with pytest.raises(GeoReportError) as caught:
        parse_request_query(params, NOW)
    assert caught.value.code == code and caught.value.status == 400


def test_default_window_is_the_last_90_days() -> None:
    query = parse_request_query({"status": "open,closed", "service_code": "flooding,fire"}, NOW)
    assert query.end == NOW and query.start == NOW - timedelta(days=90)
    assert query.statuses == {"open", "closed"} and query.service_codes == {"flooding", "fire"}


def test_tracking_reads_reports_back_from_pipeline_outputs() -> None:
    incident = {"data": {"id": "inc-1", "status": "resolved", "ward": "27139", "ward_name": "Phường Xuân Hòa",
                         "result": {"outcome": "fixed", "summary": "Xong"},
                         "evidence": [{"event_id": "o311-1", "source": "report"}, {"event_id": "cam-1", "source": "camera"}]}}
    assert tracking.from_incident(incident) == [tracking.Outcome(
        "o311-1", "routed", incident_id="inc-1", incident_status="resolved", ward="27139", ward_name="Phường Xuân Hòa",
        summary="Xong")]
    # today's incidents list every report apart (their evidence is a window): a report outside it still tracks
    windowed = {"data": {**incident["data"], "evidence": [{"event_id": "cam-1", "source": "camera"}],
                         "report_ids": ["o311-1", "o311-9"]}}
    assert [o.report_id for o in tracking.from_incident(windowed)] == ["o311-1", "o311-9"]
    unroutable = {"data": {"reason": "outside_boundaries", "event": {"id": "o311-2", "source": "report"}}}
    assert tracking.from_unroutable(unroutable) == tracking.Outcome("o311-2", "unroutable", reason="outside_boundaries")
    original = base64.b64encode(orjson.dumps({"id": "o311-3"})).decode()
    letter = {"data": {"topic": "ioc.in.reports", "reason": "missing_field", "original_base64": original}}
    assert tracking.from_deadletter(letter, "ioc.in.reports") == tracking.Outcome("o311-3", "deadletter", reason="missing_field")
    assert tracking.from_deadletter(letter, "ioc.in.camera") is None
    for junk in (None, [], {"data": 5}, {"data": {"topic": "ioc.in.reports", "original_base64": "%%%"}}):
        assert tracking.from_deadletter(junk, "ioc.in.reports") is None
        assert tracking.from_unroutable(junk) is None and tracking.from_incident(junk) == []


def test_signature_outcome_and_backoff() -> None:
    header = portal.sign("k", b"{}", 1_000)
    assert portal.verify("k", b"{}", header, now=1_100) and not portal.verify("k", b"{ }", header, now=1_100)
    assert not portal.verify("k", b"{}", header, now=2_000)  # too old: a replay
    assert not portal.verify("k", b"{}", "garbage", now=1_000)
    assert [portal.outcome(s) for s in (200, 202, 409, 429, 503, 400, 422)] == [
        "delivered", "delivered", "delivered", "retry", "retry", "rejected", "rejected"]
    rng = random.Random(1)
    delays = [portal.backoff_s(n, 1.0, rng) for n in range(1, 10)]
    assert all(0.5 * min(60, 2 ** (n - 1)) <= d <= min(60, 2 ** (n - 1)) for n, d in enumerate(delays, 1))
    assert portal.backoff_s(1, 1.0, rng, retry_after_s=30) == 30


def test_rate_limit_refills_per_client() -> None:
    limiter = RateLimiter(per_minute=60)
    assert all(limiter.allow("a", 0.0) for _ in range(60)) and not limiter.allow("a", 0.0)
    assert limiter.allow("b", 0.0) and limiter.allow("a", 1.01) and limiter.retry_after_s("a") >= 1
