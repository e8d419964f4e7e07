"""Frigate payloads as Frigate publishes them (tests/fixtures/frigate, held out: collected from
Frigate's documentation and other projects' captures, see its README) through the decoder and the
default mapping: nothing valid is rejected, every message gets its own stable id, the names Frigate
attaches stay personal data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routers import envelope
from routers.decision import Decision, Sla
from routers.events import Event, Source
from routers.exceptions import FilteredOut, Rejected
from routers.ingest import decode
from routers.ingest.frigate import read_frigate, with_snapshot_url
from routers.ingest.frigate_mapping import default_mapping
from routers.locate.result import Location, WardRef
from routers.privacy import mask_frigate_names

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "frigate"
PAYLOADS = sorted(FIXTURES.rglob("*.json"))
NAMES = (b"John Smith", b"Bob")  # the sub_labels in the fixtures


def _decode(raw: bytes) -> Event | FilteredOut:
    try:
        return decode("ioc.in.camera", raw)
    except FilteredOut as filtered:
        return filtered


def test_fixtures_are_there() -> None:
    assert len(PAYLOADS) >= 14
    kinds = {orjson.loads(p.read_bytes())["type"] for p in PAYLOADS}
    assert kinds == {"new", "update", "end", "genai"}


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.stem)
def test_no_real_payload_is_rejected(path: Path) -> None:
    outcome = _decode(path.read_bytes())  # Rejected would fail the test
    if isinstance(outcome, FilteredOut):
        assert outcome.reason in ("unmapped", "false_positive", "below_threshold")
        assert not any(name.decode() in str(outcome.summary) for name in NAMES)


def test_every_message_has_its_own_id_stable_under_redelivery() -> None:
    ids = [_id(_decode(p.read_bytes())) for p in PAYLOADS]
    assert len(set(ids)) == len(ids)
    assert ids == [_id(_decode(p.read_bytes())) for p in PAYLOADS]
    fire = [i for i in ids if "fire01" in i]  # new and end of one tracked object
    assert len(fire) == 2 and fire[0] != fire[1] and fire[0].rsplit(":", 2)[0] == fire[1].rsplit(":", 2)[0]


def _id(outcome: Event | FilteredOut) -> str:
    return outcome.event_id if isinstance(outcome, FilteredOut) else outcome.id


def test_fire_is_kept_with_what_frigate_said() -> None:
    event = _decode((FIXTURES / "derived/events/fire-end.json").read_bytes())
    assert isinstance(event, Event) and event.kind == "fire_smoke"
    assert event.attributes["track"] == "frigate:events:1607124100.100000-fire01"
    assert event.attributes["frigate_type"] == "end" and event.attributes["top_score"] == 0.91
    assert event.attributes["zones"] == ["yard", "driveway"] and event.attributes["end_time"]
    linked = with_snapshot_url(event, {"front_door": "http://frigate-q1.local:5000/"}.get)
    assert linked.attributes["snapshot_url"] == \
        "http://frigate-q1.local:5000/api/events/1607124100.100000-fire01/snapshot.jpg"


def test_sub_label_only_on_the_owning_ward_topic() -> None:
    message = read_frigate(orjson.loads((FIXTURES / "events/docs-update-person-face.json").read_bytes()))
    assert message.sub_labels == ("John Smith",)
    event = Event(id=message.event_id, source=Source.CAMERA, kind="crowd", occurred_at=message.start_time, device_id=message.camera,
                  attributes=message.summary(), personal=message.personal())
    location = Location("resolved", WardRef("26740", "Phường Bến Thành", "79"), "device", "g1", "official", ())
    decision = Decision(("ward:26740", "agency:police", "city-ioc"), "P2", Sla(900, 7200), ("root",), "v1")
    bodies = envelope.routed_all(event, location, decision, (*decision.targets, "lifecycle"),
                                 datetime(2026, 6, 1, tzinfo=UTC))
    holders = [b["ioctarget"] for b in bodies if b"John Smith" in orjson.dumps(b)]
    assert holders == ["ward:26740"]
    agency = next(b for b in bodies if b["ioctarget"] == "agency:police")
    assert agency["data"]["event"]["attributes"]["sub_label"] == "***"


def test_review_sub_labels_and_genai_title_are_personal() -> None:
    message = read_frigate(orjson.loads((FIXTURES / "reviews/hfn-update-verified-sublabel.json").read_bytes()))
    assert message.labels == ("person",)  # Frigate 0.17's "person-verified" is a person
    assert message.personal() == {"sub_label": ["Bob"]} and "Bob" not in str(message.summary())
    genai = read_frigate(orjson.loads((FIXTURES / "reviews/hfn-genai-alert.json").read_bytes()))
    assert genai.type == "genai" and genai.threat_level == 1 and genai.confidence == 0.92
    assert "genai_title" in genai.personal() and "Driveway" not in str(genai.summary())


@pytest.mark.parametrize(("payload", "reason"), [
    ({"type": "new", "before": {"id": "x"}}, "missing_field"),
    ({"type": "new", "after": "x"}, "wrong_type"),
    ({"type": "started", "after": {}}, "wrong_type"),
    ({"type": "new", "after": {"id": "x", "camera": "c", "label": "person", "start_time": "then",
                               "sub_label": ["Nguyễn Văn An", 0.9]}}, "bad_time"),
    ({"type": "new", "after": {"id": "x", "camera": "c", "label": "person", "start_time": 1.0,
                               "sub_label": {"name": "Nguyễn Văn An"}}}, "wrong_type"),
    ({"type": "end", "after": {"id": "x", "camera": "c", "start_time": 1.0, "severity": "urgent",
                               "data": {"sub_labels": ["Nguyễn Văn An"]}}}, "wrong_type"),
])
def test_broken_frigate_messages_are_rejected_without_quoting_names(payload: dict[str, object], reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        decode("ioc.in.camera", orjson.dumps(payload))
    assert caught.value.reason == reason
    assert "Nguyễn" not in str(caught.value)


def test_dead_letter_preview_masks_frigate_names_even_cut_short() -> None:
    raw = (FIXTURES / "events/docs-update-person-face.json").read_text()
    assert "John Smith" not in mask_frigate_names(raw)
    cut = raw[: raw.index("John Smith") + 6]  # a preview limit falling inside the name
    assert "John" not in mask_frigate_names(cut)
    review = (FIXTURES / "reviews/docs-update-alert-subl.json").read_text()
    assert '"Bob"' not in mask_frigate_names(review) and '"sub_labels": []' not in mask_frigate_names(review)


frigate_labels = st.sampled_from(["person", "car", "motorcycle", "bus", "truck", "bicycle", "dog", "face",
                                  "license_plate", "fire", "smoke"])
zone_names = st.lists(st.sampled_from(["yard", "no_parking", "plaza", "junction", "flooding", "x"]), max_size=3)


@settings(max_examples=300, deadline=None)
@given(label=st.sampled_from(["fire", "smoke"]), zones=zone_names, fp=st.booleans(),
       kind=st.sampled_from(["new", "update", "end"]),
       score=st.none() | st.floats(min_value=0, max_value=1), others=st.lists(frigate_labels, max_size=3),
       severity=st.sampled_from(["alert", "detection"]), as_review=st.booleans())
def test_fire_or_smoke_is_never_filtered_by_the_default_mapping(
        label: str, zones: list[str], fp: bool, kind: str, score: float | None, others: list[str],
        severity: str, as_review: bool) -> None:
    after: dict[str, object] = {"id": "1.0-abc", "camera": "cam", "start_time": 1780311600.0}
    if as_review:
        after.update(severity=severity, data={"objects": [*others, label], "zones": zones, "detections": []})
    else:
        after.update(label=label, current_zones=zones, false_positive=fp, top_score=score)
    event = decode("ioc.in.camera", orjson.dumps({"type": kind, "after": after}), frigate=default_mapping())
    assert event.kind == "fire_smoke"
