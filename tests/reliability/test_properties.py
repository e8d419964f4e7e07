"""Property-based tests (hypothesis) for the address parser and the ``ioc.status`` decoder; the
intake decoders' properties live in tests/routers/ingest/test_decode.py. Every input is either
accepted (with sane fields) or rejected with a short reason code; nothing else may escape."""

from __future__ import annotations

import json

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from routers.exceptions import Rejected
from routers.incidents.status import WARD_SETTABLE
from routers.ingest import decode
from routers.locate.address import MAX_ADDRESS_CHARS, check_address, normalize_address, resolve_address
from streams.lifecycle.contract import parse_status_update

# Address-like text: the words, abbreviations and separators addresses are made of, in any order.
ADDRESS_WORDS = st.sampled_from([
    "Phường", "P.", "Xã", "X.", "Quận", "Q.", "Huyện", "H.", "TP.", "TX.", "TT.", "Thành phố", "TP.HCM", "HCMC",
    "Hà Nội", "Đà Nẵng", "BR-VT", "Bà Rịa - Vũng Tàu", "Bình Dương", "Thủ Đức", "Bến Thành", "Đa Kao", "Xuân Hoà",
    "Sài Gòn", "7", "F7", "Q3", "1", "12", "Lê Lợi", "123", ",", ", ", " ", "-", ".", "/", "Phuong", "Quan",
])
address_like = st.lists(ADDRESS_WORDS, max_size=12).map(" ".join)
any_text = st.text(max_size=600)


def _check_address_outcome(text: str) -> None:
    try:
        check_address(text)
    except Rejected as rejection:
        assert rejection.reason == "invalid_address" and rejection.detail
        assert len(text) > MAX_ADDRESS_CHARS
        return
    match = resolve_address(text)
    if match is not None:
        assert match.codes and all(len(c) == 5 and c.isdigit() for c in match.codes), match
        assert list(match.codes) == sorted(match.codes)
        assert match.kind in ("new", "legacy")


@settings(max_examples=120, deadline=None)
@given(text=address_like)
@example("P.7, Q.3, TP.HCM")
@example("Phường 1, TP. Vũng Tàu, BR-VT")
@example(", , ,")
def test_address_like_text_resolves_or_is_unresolved(text: str) -> None:
    _check_address_outcome(text)


@settings(max_examples=60, deadline=None)
@given(text=any_text)
@example("\x00" * 501)
@example("(((((((((((((((((((((((((((((((")
def test_any_text_is_resolved_unresolved_or_rejected(text: str) -> None:
    _check_address_outcome(text)
    assert isinstance(normalize_address(text[:MAX_ADDRESS_CHARS]), str)


def test_non_text_addresses_are_rejected_with_a_reason() -> None:
    for value in (None, 42, b"P.7", ["P.7"], {"ward": "P.7"}):
        try:
            check_address(value)
        except Rejected as rejection:
            assert rejection.reason == "invalid_address"
        else:
            raise AssertionError(f"{value!r} was accepted as an address")


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
status_values = st.one_of(
    json_scalars,
    st.sampled_from(["26734", "2673", "00001", "acknowledged", "resolved", "reassigned", "routed", "new",
                     "2026-05-01T10:42:00+07:00", "2026-05-01T10:42:00", "0001-01-01T00:00:00+01:00",
                     "9999-12-31T23:59:59-01:00", "fixed", "bogus"]),
    st.dictionaries(st.sampled_from(["outcome", "summary", "x"]), json_scalars, max_size=3),
)
status_fields = st.sampled_from(["update_id", "incident_id", "ward", "status", "at", "actor", "note", "to_ward",
                                 "result", "extra"])


@settings(max_examples=500, deadline=None)
@given(body=st.dictionaries(status_fields, status_values, max_size=10))
@example({"update_id": "u", "incident_id": "i", "ward": "26734", "status": "acknowledged",
          "at": "0001-01-01T00:00:00+01:00"})  # found by atheris: OverflowError escaped parse_time
@example({"update_id": "u", "incident_id": "i", "ward": "26734", "status": "reassigned", "to_ward": "26734"})
def test_any_status_object_is_accepted_or_rejected_with_a_reason(body: dict[str, object]) -> None:
    try:
        update, _ = parse_status_update(json.dumps(body).encode())
    except Rejected as rejection:
        assert rejection.reason in {"bad_json", "bad_update", "unknown_status"}, rejection.reason
        assert rejection.detail
        return
    assert update.ward.isdigit() and len(update.ward) == 5
    assert update.status in WARD_SETTABLE
    assert update.at is None or update.at.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
@example(b"")
@example(b"\xff\xfe")
@example(b"[]")
@example(b'{"update_id": "u", "incident_id": "i", "ward": "26734", "status": "resolved", "at": 1e400}')
def test_any_status_bytes_are_accepted_or_rejected(raw: bytes) -> None:
    try:
        parse_status_update(raw)
    except Rejected as rejection:
        assert rejection.reason.isidentifier() and rejection.detail


def test_times_beyond_the_calendar_are_rejected_not_crashing() -> None:
    """Regression: both decoders met datetimes that overflow when converted to UTC."""
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        body = {"update_id": "u", "incident_id": "i", "ward": "26734", "status": "acknowledged", "at": moment}
        try:
            parse_status_update(orjson.dumps(body))
        except Rejected as rejection:
            assert rejection.reason == "bad_update" and "out of range" in rejection.detail
        else:
            raise AssertionError(f"{moment} was accepted")
        reading = {"sensor_id": "s", "kind": "pm25", "value": 1, "time": moment}
        try:
            decode("ioc.in.sensors", orjson.dumps(reading))
        except Rejected as rejection:
            assert rejection.reason in {"bad_time", "invalid"}
        else:
            raise AssertionError(f"{moment} was accepted")
