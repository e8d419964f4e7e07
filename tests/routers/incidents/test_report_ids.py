"""ReportIds: an incident's citizen report ids, in order, in chunks that take little memory."""

from __future__ import annotations

import sys

import orjson
import pytest

from routers.incidents.report_ids import CHUNK, NO_REPORTS, ReportIds, chunk_ids, chunk_record


def ids(count: int, start: int = 0) -> list[str]:
    # the 1022 portal's shape: a dated prefix and a running number
    return [f"1022-20261206-92156561-{n:07d}" for n in range(start, start + count)]


def test_appending_keeps_every_id_in_order_across_chunks() -> None:
    kept = NO_REPORTS
    for report_id in ids(3 * CHUNK + 5):
        kept = kept.append(report_id)
    assert len(kept) == 3 * CHUNK + 5 and kept.chunk_count == 4
    assert list(kept) == ids(3 * CHUNK + 5) and kept == tuple(ids(3 * CHUNK + 5))
    assert kept == ReportIds.of(ids(3 * CHUNK + 5))
    assert kept[0] == ids(1)[0] and kept[-1] == ids(1, 3 * CHUNK + 4)[0] and kept[CHUNK] == ids(1, CHUNK)[0]
    assert kept.since(3 * CHUNK + 3) == ids(2, 3 * CHUNK + 3) and kept.since(len(kept)) == []
    assert ids(1, 70)[0] in kept and "1022-x" not in kept
    with pytest.raises(IndexError):
        kept[len(kept)]


def test_appending_leaves_the_earlier_value_unchanged() -> None:
    before = ReportIds.of(ids(CHUNK))
    after = before.append("late")
    assert list(before) == ids(CHUNK) and list(after) == [*ids(CHUNK), "late"]
    assert after.chunk(0) is before.chunk(0)  # full chunks are shared, not copied


def test_a_table_chunk_round_trips_through_the_changelog_list() -> None:
    kept = ReportIds.of(ids(2 * CHUNK + 3))
    as_changelog = [orjson.loads(orjson.dumps(chunk_ids(kept.chunk(n)))) for n in range(kept.chunk_count)]
    assert ReportIds.from_chunks(as_changelog) == kept
    assert ReportIds.from_chunks(kept.chunk(n) for n in range(kept.chunk_count)) == kept
    assert ReportIds.from_chunks(kept.chunk(n) for n in range(kept.chunk_count)).chunk(0) is kept.chunk(0)
    assert ReportIds.from_chunks([]) == () and len(ReportIds.from_chunks([])) == 0


def test_the_changelog_record_of_a_chunk_is_the_json_list_of_its_ids() -> None:
    odd = ["a\nb", "", "\"quoted\"", "phường 7 / quận 3", "[1,2]", "\u0000"] * 15
    appended = NO_REPORTS
    for report_id in odd:
        appended = appended.append(report_id)
    for kept in (ReportIds.of(odd), appended):  # sealed chunks and an open one, built both ways
        records = [orjson.dumps(chunk_record(kept.chunk(n))) for n in range(kept.chunk_count)]
        assert records == [orjson.dumps(chunk_ids(kept.chunk(n))) for n in range(kept.chunk_count)]
        assert ReportIds.from_chunks(orjson.loads(r) for r in records) == kept
    assert chunk_record(["rep-1", 7]) == ["rep-1"]  # a list restored from the changelog, as chunk_ids


def test_any_text_is_an_id() -> None:
    odd = ["a\nb", "", "\"quoted\"", "z", "phường 7 / quận 3", "[1,2]"] * 20
    assert list(ReportIds.of(odd)) == odd
    kept = NO_REPORTS
    for report_id in odd:
        kept = kept.append(report_id)
    assert list(kept) == odd
    assert all(i in kept for i in odd)
    assert 'b' not in kept and '7 / qu' not in kept and 'quoted' not in kept and '1,2' not in kept


def test_a_kept_id_costs_a_fraction_of_a_tuple_of_strings() -> None:
    many = ids(20_000)
    kept = ReportIds.of(many)
    compact = sum(sys.getsizeof(kept.chunk(n)) for n in range(kept.chunk_count)) + sys.getsizeof(kept)
    as_tuple = sys.getsizeof(tuple(many)) + sum(sys.getsizeof(i) for i in many)
    assert compact / len(many) < 20 < as_tuple / len(many)


def test_only_an_event_without_an_intake_origin_is_looked_for_among_the_reports() -> None:
    # with an origin, the ward's redelivery mark already decided (routers.incidents.marks, checked
    # by IncidentBook.on_routed, which says so): the sealed chunks are not opened for every report
    from datetime import timedelta

    from routers.incidents.lifecycle import EVIDENCE_WINDOW, add_evidence, open_incident
    from tests.routers.incidents.factories import T0, routed_event

    incident = open_incident(routed_event("rep-0", origin="ioc.in.reports/0/0"), T0)
    for n in range(1, 2 * CHUNK):
        incident = add_evidence(incident, routed_event(f"rep-{n}", origin=f"ioc.in.reports/0/{n}"), T0)
    assert len(incident.report_ids) == 2 * CHUNK and incident.evidence_count > EVIDENCE_WINDOW + 1
    again = timedelta(seconds=1)
    without_origin = routed_event("rep-5", at=T0 + again)
    assert add_evidence(incident, without_origin, T0 + again) is incident  # a redelivery: found in the reports
    with_origin = routed_event("rep-5", at=T0 + again, origin="ioc.in.reports/1/0")
    assert incident.has_event("rep-5") and not incident.has_event("rep-5", reports=False)
    assert add_evidence(incident, with_origin, T0 + again, marked=True) is not incident  # the mark let it through


def test_the_open_chunk_is_its_json_not_a_string_object_per_id() -> None:
    # most of a soak's incidents are still filling their first chunk after ten minutes
    kept = NO_REPORTS
    for report_id in ids(CHUNK - 1):
        kept = kept.append(report_id)
    assert kept.chunk_count == 1 and kept.chunk(0) == orjson.dumps(ids(CHUNK - 1))
    assert sys.getsizeof(kept.chunk(0)) < (CHUNK - 1) * 40 < sum(sys.getsizeof(i) for i in ids(CHUNK - 1))
    assert ids(1, 30)[0] in kept and ReportIds.from_chunks([kept.chunk(0)]) == kept


def test_an_incident_with_one_report_keeps_bytes_its_size_not_orjsons_buffer() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        kept = [ReportIds.of(ids(1, n)) for n in range(200)]
        per_incident = tracemalloc.get_traced_memory()[0] / len(kept)
    finally:
        tracemalloc.stop()
    assert per_incident < 400  # orjson.dumps alone keeps a 4 KiB buffer per result
