"""The JSON Schema contracts agree with the decoders and with what the pipeline publishes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import jsonschema
import orjson
import pytest

from routers import envelope
from routers.decision import Decision, Sla
from routers.exceptions import Rejected
from routers.ingest import decode
from routers.locate.result import Candidate, Location, WardRef
from streams.contracts import SCHEMAS, schema
from streams.simulator.scenario import CityScenario, WardSpot

WARDS = [WardSpot("26740", "Phường Sài Gòn", 3.0), WardSpot("27139", "Phường Xuân Hoà", 2.0),
         WardSpot("26734", "Phường Tân Định", 1.0)]


def sample(code: str, rng: random.Random) -> tuple[float, float]:
    return 10.77 + rng.uniform(-0.01, 0.01), 106.69 + rng.uniform(-0.01, 0.01)


@pytest.fixture(scope="module")
def messages() -> list:
    sim = CityScenario("79", WARDS, sample, scenario="rainstorm", seed=7)
    return [sim.next_message() for _ in range(1500)]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schemas_are_valid_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(name))


def test_simulated_valid_messages_match_the_schema_and_decode(messages: list) -> None:
    checked = 0
    for message in messages:
        if message.intent in ("report", "camera", "sensor", "old_address", "out_of_area", "swapped"):
            body = orjson.loads(message.value)
            if message.intent != "swapped":  # swapped pairs break the lat range on purpose; ingest repairs them
                jsonschema.validate(body, schema(message.topic))
            decode(message.topic, message.value)
            checked += 1
    assert checked > 1250


def test_simulated_faults_are_rejected_by_decoder_or_schema(messages: list) -> None:
    faults = [m for m in messages if m.intent not in ("report", "camera", "sensor", "old_address", "out_of_area",
                                                     "swapped", "unknown_device")]
    assert faults, "the simulator produced no malformed input"
    for message in faults:
        with pytest.raises(Rejected):
            decode(message.topic, message.value)


def test_scenario_mix_has_old_addresses_and_faults(messages: list) -> None:
    intents = [m.intent for m in messages]
    reports = sum(1 for i in intents if i in ("report", "old_address", "out_of_area", "swapped"))
    assert 0.05 < intents.count("old_address") / reports < 0.16
    assert 0.01 < (len(intents) - sum(1 for i in intents if i in ("report", "camera", "sensor", "old_address",
                                                                      "out_of_area", "swapped"))) / len(intents) < 0.06


def _location() -> Location:
    return Location("resolved", WardRef("27139", "Phường Xuân Hoà", "79"), "point", "vn2025-approx", "approximate",
                    (Candidate("26740", "Phường Sài Gòn", 120.0),))


def _decision() -> Decision:
    return Decision(("ward:27139", "agency:fire"), "P1", Sla(300, 3600), ("root", "fire"), "v1", trace=("root",))


def test_routed_envelope_matches_schema_and_keeps_personal_data_to_the_owning_ward() -> None:
    event = decode("ioc.in.reports", orjson.dumps({
        "id": "r-9", "category": "fire", "location": {"lat": 10.78, "lon": 106.69}, "reported_at": "2026-06-01T18:00:00Z",
        "description": "Cháy! Gọi lại cho tôi số 0912345678", "reporter": {"name": "Trần Thị Hoa", "phone": "0912345678"}}))
    now = datetime(2026, 6, 1, 11, tzinfo=UTC)
    ward = envelope.routed(event, _location(), _decision(), "ward:27139", now)
    agency = envelope.routed(event, _location(), _decision(), "agency:fire", now)
    for body in (ward, agency):
        body["iocorigin"] = "ioc.in.reports/0/1"
        jsonschema.validate(body, schema("routed"))
    assert ward["data"]["event"]["reporter"]["phone"] == "0912345678"
    assert "reporter" not in agency["data"]["event"]
    assert "0912345678" not in orjson.dumps(agency).decode()  # not even typed into the description
    assert "0912345678" in ward["data"]["event"]["description"]
    again = envelope.routed(event, _location(), _decision(), "ward:27139", datetime.now(UTC))
    assert again["id"] == ward["id"] != agency["id"]  # stable per (event, target)


def test_deadletter_and_unroutable_envelopes_match_schema() -> None:
    now = datetime.now(UTC)
    dead = envelope.deadletter(b"{bad", "malformed_json", "unexpected end", "ioc.in.reports", 2, 40, now, "{bad")
    dead["iocorigin"] = "ioc.in.reports/2/40"
    jsonschema.validate(dead, schema("ioc.deadletter"))
    event = decode("ioc.in.camera", orjson.dumps({"camera_id": "c", "label": "crowd", "confidence": 0.5,
                                                  "time": "2026-06-01T18:00:00Z"}))
    location = Location("unresolved", None, "device", "g", "approximate", reason="unknown_device")
    lost = envelope.unroutable(event, location, now)
    lost["iocorigin"] = "ioc.in.camera/0/1"
    jsonschema.validate(lost, schema("ioc.unroutable"))
    assert lost["data"]["reason"] == "unknown_device"


@pytest.mark.parametrize("city", ["hcmc", "hanoi", "danang"])
def test_every_old_ward_of_a_city_makes_an_old_address(city: str) -> None:
    """The package lists island districts without wards (Hoàng Sa in Da Nang) with a NaN ward:
    the simulator must never pick one (it crashed on it)."""
    import math
    import random

    from streams.simulator.places import CITIES, legacy_wards, old_address

    wards = legacy_wards(CITIES[city])
    assert len(wards) > 40
    rng = random.Random(5)
    for ward in wards:
        assert isinstance(ward.name, str) and math.isfinite(ward.lat) and math.isfinite(ward.lon)
        street, old_ward, district, province = old_address(ward, CITIES[city], rng).split(", ")
        assert street and old_ward and district and province


def test_a_paced_scenario_keeps_event_times_at_the_rate_it_is_produced() -> None:
    start = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    unpaced = CityScenario("79", WARDS, sample, seed=11, start=start)
    paced = CityScenario("79", WARDS, sample, seed=11, start=start)
    paced.pace(1000.0)
    for _ in range(20_000):
        unpaced.next_message()
        paced.next_message()
    # 20,000 messages at 1,000/s are 20 s of a city's time (the unpaced clock: ~5 messages/s, over an hour)
    assert abs((paced.clock - start).total_seconds() - 20.0) < 1.0
    assert (unpaced.clock - start).total_seconds() > 3600
