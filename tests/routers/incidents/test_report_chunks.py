"""An open incident's citizen report ids reach the changelog in chunks of REPORT_CHUNK: each full
chunk once, in a table of its own, and the open chunk (the ids since the last full one) in the
incident's own record, so a change writes fewer than REPORT_CHUNK ids and no second record unless a
chunk fills; an incident restored from the changelog has them all again (also from records written
before the open chunk moved into them); a closed one's chunks are deleted."""

from __future__ import annotations

from datetime import timedelta

import orjson

from routers.incidents.book import REPORT_CHUNK, IncidentBook, report_chunk_key, table_key
from routers.incidents.correlation import incident_id
from routers.incidents.report_ids import chunk_ids, chunk_record
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate
from tests.routers.incidents.factories import BEN_THANH, T0, routed_event

WARD = "27142"
REPORTS = 3 * REPORT_CHUNK + 5


class Recording(dict):
    """A table that remembers every write (what its changelog would carry)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: object) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def report(n: int):
    return routed_event(f"rep-{n}", source="report", kind="flooding", at=T0 + timedelta(seconds=n))


def gathered(reports: int = REPORTS) -> tuple[IncidentBook, dict, Recording]:
    incidents: dict = {}
    chunks = Recording()
    book = IncidentBook(incidents, {}, {}, reports=chunks)
    for n in range(reports):
        book.begin_batch()
        book.on_routed(report(n), T0 + timedelta(seconds=n))
    return book, incidents, chunks


def test_a_change_writes_a_chunk_only_when_one_fills() -> None:
    book, incidents, chunks = gathered()
    key = table_key(WARD, incident_id("rep-0"))
    assert len(incidents) == 1 and chunks.writes == [report_chunk_key(key, n) for n in range(3)]  # once each
    assert chunk_ids(chunks[report_chunk_key(key, 2)]) == [f"rep-{n}" for n in range(2 * REPORT_CHUNK, 3 * REPORT_CHUNK)]
    record = orjson.loads(orjson.dumps(book.encode(incidents[key])))
    assert "report_ids" not in record and record["report_count"] == REPORTS and record["report_chunks"] == REPORT_CHUNK
    assert record["report_tail"] == [f"rep-{n}" for n in range(3 * REPORT_CHUNK, REPORTS)]
    sizes = []
    for n in range(REPORTS, 5 * REPORT_CHUNK + 1):
        book.begin_batch()
        book.on_routed(report(n), T0 + timedelta(seconds=n))
        sizes.append(len(orjson.dumps(book.encode(incidents[key]))))
    assert chunks.writes[3:] == [report_chunk_key(key, 3), report_chunk_key(key, 4)]
    # the record holds at most one chunk's ids: it does not grow with the incident's reports
    assert max(sizes) - min(sizes) < REPORT_CHUNK * len(b'"rep-320",')


def test_a_record_from_before_the_open_chunk_moved_into_it_still_restores() -> None:
    """Records written when the open chunk was a table entry of its own (no ``report_tail``)."""
    book, incidents, chunks = gathered()
    key = table_key(WARD, incident_id("rep-0"))
    old_record = {k: v for k, v in orjson.loads(orjson.dumps(book.encode(incidents[key]))).items() if k != "report_tail"}
    old_chunks = {k: orjson.loads(orjson.dumps(chunk_record(v))) for k, v in chunks.items()}
    old_chunks[report_chunk_key(key, 3)] = [f"rep-{n}" for n in range(3 * REPORT_CHUNK, REPORTS)]
    restored = IncidentBook({key: old_record}, dict(book.wards), {}, reports=old_chunks)
    (incident,) = restored.open_in(WARD)
    assert incident.report_ids == tuple(f"rep-{n}" for n in range(REPORTS))
    # going on from there writes the new form: the stale open chunk is overwritten once it fills
    for n in range(REPORTS, 4 * REPORT_CHUNK):
        restored.begin_batch()
        restored.on_routed(report(n), T0 + timedelta(seconds=n))
    assert chunk_ids(restored.reports[report_chunk_key(key, 3)]) == [  # type: ignore[index]
        f"rep-{n}" for n in range(3 * REPORT_CHUNK, 4 * REPORT_CHUNK)]


def test_the_record_made_from_the_messages_json_is_the_record_built_anew() -> None:
    """The changelog record is the JSON the audit state carries, its report ids swapped for
    ``report_chunks``: the same record as one built from the incident, after every kind of change."""
    book, incidents, _ = gathered(REPORT_CHUNK + 2)
    key = table_key(WARD, incident_id("rep-0"))
    (incident,) = book.open_in(WARD)
    changes = {
        "updated (new_report_ids)": lambda: book.on_routed(report(500), T0 + timedelta(minutes=10)),
        "acknowledged (report_ids)": lambda: book.on_update(
            StatusUpdate("u1", incident.id, WARD, Status.ACKNOWLEDGED, "officer-7"), T0 + timedelta(hours=1)),
    }
    for change, apply in changes.items():
        book.begin_batch()
        apply()
        reused = book.encode(incidents[key])
        assert isinstance(reused, orjson.Fragment), change
        book.begin_batch()  # nothing built for it now: the record is made from the incident
        built = book.encode(incidents[key])
        assert isinstance(built, dict) and orjson.loads(orjson.dumps(reused)) == built, change
        assert "report_ids" not in built and "new_report_ids" not in built and built["report_chunks"] == REPORT_CHUNK


def test_an_incident_restored_from_the_changelog_has_every_report_id() -> None:
    book, incidents, chunks = gathered()
    restored_incidents = {k: orjson.loads(orjson.dumps(book.encode(v))) for k, v in incidents.items()}
    # the changelog carries each chunk as its list of ids (what Faust restores into the table)
    restored_chunks = {k: orjson.loads(orjson.dumps(chunk_record(v))) for k, v in chunks.items()}
    restored = IncidentBook(restored_incidents, dict(book.wards), {}, reports=restored_chunks)
    (incident,) = restored.open_in(WARD)
    assert incident.report_ids == tuple(f"rep-{n}" for n in range(REPORTS))
    assert incident == book.open_in(WARD)[0]
    # and it goes on from there: the next report joins the record's open chunk, the table is unchanged
    key = table_key(WARD, incident.id)
    restored.begin_batch()
    restored.on_routed(report(REPORTS), T0 + timedelta(seconds=REPORTS))
    assert orjson.loads(orjson.dumps(restored.encode(restored_incidents[key])))["report_tail"][-1] == f"rep-{REPORTS}"
    assert len(restored.reports) == 3  # type: ignore[arg-type]


def test_a_closed_incident_keeps_no_chunks_and_its_results_reach_every_report() -> None:
    book, incidents, chunks = gathered()
    (incident,) = book.open_in(WARD)
    book.on_update(StatusUpdate("u1", incident.id, WARD, Status.ACKNOWLEDGED, "officer-7"), T0 + timedelta(hours=1))
    done = book.on_update(StatusUpdate("u2", incident.id, WARD, Status.RESOLVED, "officer-7"), T0 + timedelta(hours=2))
    assert sorted(o.key for o in done.outbound if o.channel == "results") == sorted(f"rep-{n}" for n in range(REPORTS))
    assert dict(chunks) == {}


def test_a_reassigned_incident_takes_its_report_ids_to_the_new_ward() -> None:
    book, incidents, chunks = gathered()
    (incident,) = book.open_in(WARD)
    moved = book.on_update(StatusUpdate("u1", incident.id, WARD, Status.REASSIGNED, "officer-7",
                                        to_ward=BEN_THANH.code), T0 + timedelta(hours=1))
    (handoff,) = [o for o in moved.outbound if o.channel == "handoff"]
    book.on_handoff(handoff.value, T0 + timedelta(hours=1))
    new_key = table_key(BEN_THANH.code, incident.id)
    assert sorted(chunks) == [report_chunk_key(new_key, n) for n in range(3)]  # none left under the old ward
    restored_incidents = {k: orjson.loads(orjson.dumps(book.encode(v))) for k, v in incidents.items()}
    # the changelog carries each chunk as its list of ids (what Faust restores into the table)
    restored_chunks = {k: orjson.loads(orjson.dumps(chunk_record(v))) for k, v in chunks.items()}
    restored = IncidentBook(restored_incidents, dict(book.wards), {}, reports=restored_chunks)
    (owned,) = restored.open_in(BEN_THANH.code)
    assert owned.report_ids == incident.report_ids
