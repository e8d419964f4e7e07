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
