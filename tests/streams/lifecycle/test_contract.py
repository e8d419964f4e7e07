"""The ioc.status contract, HTTP query parsing and the controllable clock: no broker needed."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routers.exceptions import Rejected
from streams.contracts import schema
from streams.lifecycle.clock import OffsetFileClock, SystemClock, advance, clock_for
from streams.lifecycle.contract import SCHEMA_FILE, parse_status_update
from streams.lifecycle.queries import parse_query

GOOD = {"update_id": "u1", "incident_id": "inc-1", "ward": "27142", "status": "acknowledged"}


def raw(body: object) -> bytes:
    return json.dumps(body).encode()


def test_schema_is_valid_and_documented() -> None:
    from jsonschema import Draft202012Validator

    document = schema(SCHEMA_FILE)
    Draft202012Validator.check_schema(document)
    statuses = set(document["properties"]["status"]["enum"])
    assert statuses == {"acknowledged", "dispatched", "waiting_citizen", "resolved", "closed", "reopened", "reassigned"}


def test_good_update() -> None:
    update, body = parse_status_update(raw({**GOOD, "at": "2026-06-12T09:00:00Z", "result": {"outcome": "fixed"}}))
    assert update.incident_id == "inc-1" and body["update_id"] == "u1"


@pytest.mark.parametrize(
    ("message", "reason", "text"),
    [
        (b"", "bad_json", "empty"),
        (b"{not json", "bad_json", "not JSON"),
        (raw([1, 2]), "bad_update", "is not of type 'object'"),
        (raw({**GOOD, "colour": "red"}), "bad_update", "Additional properties"),
        (raw({k: v for k, v in GOOD.items() if k != "ward"}), "bad_update", "'ward' is a required property"),
        (raw({**GOOD, "ward": "ABCDE"}), "bad_update", "ward: 'ABCDE' does not match"),
        (raw({**GOOD, "status": "routed"}), "bad_update", "status: 'routed' is not one of"),
        (raw({**GOOD, "status": "reassigned"}), "bad_update", "'to_ward' is a required property"),
        (raw({**GOOD, "at": "soon"}), "bad_update", "not an ISO 8601 timestamp: 'soon'"),
    ],
)
def test_rejected_with_reason(message: bytes, reason: str, text: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_status_update(message)
    assert caught.value.reason == reason
    assert text in caught.value.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.builds(raw, st.dictionaries(st.sampled_from(list(GOOD) + ["x"]), st.text(max_size=8))))
def test_any_bytes_parse_or_are_rejected(message: bytes) -> None:
    try:
        parse_status_update(message)
    except Rejected as rejected:
        assert rejected.reason in {"bad_json", "bad_update", "unknown_status"}


@pytest.mark.parametrize(
    ("params", "reason"),
    [({"ward": "1"}, "bad_ward"), ({"status": "open,done"}, "bad_status"), ({"since": "yesterday"}, "bad_since"),
     ({"limit": "x"}, "bad_limit"), ({"limit": "0"}, "bad_limit"), ({"limit": "5000"}, "bad_limit")],
)
def test_query_rejections(params: dict, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_query(params)
    assert caught.value.reason == reason


def test_query_parsed() -> None:
    query = parse_query({"ward": "27142", "status": "open,resolved", "since": "2026-06-12T00:00:00+07:00", "limit": "5"})
    assert query.ward == "27142" and query.statuses == {"open", "resolved"} and query.limit == 5
    assert query.since == datetime(2026, 6, 11, 17, 0, tzinfo=UTC)


def test_offset_clock_follows_the_file_and_never_goes_back(tmp_path) -> None:
    path = tmp_path / "offset"
    clock = OffsetFileClock(path)
    start = clock.now()
    assert abs((start - datetime.now(UTC)).total_seconds()) < 1  # no file: no offset
    advance(path, 3600)
    assert 3599 < (clock.now() - datetime.now(UTC)).total_seconds() < 3601
    path.write_text("0\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1))
    assert (clock.now() - datetime.now(UTC)).total_seconds() > 3598  # monotonic for this clock
    path.write_text("garbage")
    assert clock.offset_s() == 0.0  # a bad write keeps the last good offset
    assert isinstance(clock_for(None), SystemClock) and isinstance(clock_for(path), OffsetFileClock)
