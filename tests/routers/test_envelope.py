"""Envelope ids stay the uuid5 values consumers already dedupe on; shared parts are built once."""

from __future__ import annotations

import uuid

import pytest

from routers.envelope import _NAMESPACE, stable_id


@pytest.mark.parametrize("parts", [("ev-1", "ward:27139"), ("Phường 7, Quận 3 ✓", "agency:fire"), ("",),
                                   ("ioc.in.reports", "2", "47")])
def test_stable_id_is_uuid5_of_the_joined_parts(parts: tuple[str, ...]) -> None:
    assert stable_id(*parts) == str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def test_routed_all_matches_routed_one_by_one_and_keeps_personal_data_to_the_owner() -> None:
    from datetime import UTC, datetime

    import orjson

    from routers import envelope
    from routers.decision import Decision, Sla
    from routers.ingest import decode
    from routers.locate.result import Location, WardRef

    event = decode("ioc.in.reports", orjson.dumps({
        "id": "r-9", "category": "fire", "location": {"lat": 10.78, "lon": 106.69}, "reported_at": "2026-06-01T18:00:00Z",
        "description": "Cháy! Gọi lại số 0912345678", "reporter": {"name": "Trần Thị Hoa", "phone": "0912345678"}}))
    location = Location("resolved", WardRef("27139", "Phường Xuân Hòa", "79"), "point", "g1", "official", ())
    decision = Decision(("agency:fire", "ward:27139", "city-ioc"), "P1", Sla(300, 3600), ("root", "fire"), "v1")
    now = datetime(2026, 6, 1, 11, tzinfo=UTC)
    together = envelope.routed_all(event, location, decision, (*decision.targets, "lifecycle"), now)
    one_by_one = [envelope.routed(event, location, decision, t, now) for t in (*decision.targets, "lifecycle")]
    assert together == one_by_one
    owner = [body for body in together if orjson.dumps(body).find(b"0912345678") >= 0]
    assert [body["ioctarget"] for body in owner] == ["ward:27139"]


@pytest.mark.parametrize("fields", [
    {"description": "Ngập sâu, gọi 0912345678", "reporter": {"name": "Hoa", "phone": "0912345678"}},
    {"description": "", "reporter": {"name": "Hoa", "phone": "0912345678"}},
    {"description": "Khói đen", "address": "P.7, Q.3, TP.HCM"},
    {"reporter": {"name": "An", "phone": "0903000111"}, "location": {"lat": 106.69, "lon": 10.78}},  # swapped: corrections
    {},
], ids=["description+reporter", "empty description", "description only", "reporter only, corrected", "neither"])
def test_the_owners_event_json_is_the_public_one_plus_personal_data_in_the_same_key_order(fields: dict) -> None:
    import orjson

    from routers import envelope
    from routers.ingest import decode

    report = {"id": "r-1", "category": "flooding", "location": {"lat": 10.78, "lon": 106.69, "accuracy_m": 20},
              "reported_at": "2026-06-01T18:00:00Z", "channel": "app", **fields}
    event = decode("ioc.in.reports", orjson.dumps(report))
    public = envelope.event_to_json(event, include_personal_data=False)
    derived = envelope._with_personal_data(public, event)
    assert list(derived.items()) == list(envelope.event_to_json(event, include_personal_data=True).items())


def test_iso_is_utc_with_milliseconds_and_z() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from routers.envelope import iso

    assert iso(datetime(2025, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=7)))) == "2025-07-01T01:00:00.000Z"
    assert iso(datetime(2025, 7, 1, 1, 0, 0, 999999, tzinfo=UTC)) == "2025-07-01T01:00:00.999Z"
    assert iso(datetime(2025, 7, 1, 1, 0, 0, 1000, tzinfo=UTC)) == "2025-07-01T01:00:00.001Z"


def test_a_too_large_message_is_dead_lettered_with_its_head_size_and_digest_only() -> None:
    import base64
    import hashlib
    from datetime import UTC, datetime

    import jsonschema
    import orjson

    from routers.envelope import TOO_LARGE_KEPT_BYTES, deadletter
    from streams.contracts import schema

    huge = b'{"description": "' + b"x" * 2_000_000 + b'"}'
    body = deadletter(huge, "too_large", "over the cap", "ioc.in.reports", 1, 42, datetime.now(UTC), preview="...")
    body["iocorigin"] = "ioc.in.reports/1/42"
    jsonschema.validate(body, schema("ioc.deadletter"))
    data = body["data"]
    assert base64.b64decode(data["original_base64"]) == huge[:TOO_LARGE_KEPT_BYTES]
    assert (data["original_size"], data["original_truncated"]) == (len(huge), True)
    assert data["original_sha256"] == hashlib.sha256(huge).hexdigest()
    assert len(orjson.dumps(body)) < 100_000  # publishable under any broker's default 1 MB limit

    small = b'{"id": 1, broken'
    body = deadletter(small, "malformed_json", "bad", "ioc.in.reports", 0, 7, datetime.now(UTC), preview="...")
    assert base64.b64decode(body["data"]["original_base64"]) == small
    assert (body["data"]["original_size"], body["data"]["original_truncated"]) == (len(small), False)
    assert "original_sha256" not in body["data"]
