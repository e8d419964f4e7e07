"""Redelivery recognised by the intake offset (``iocorigin``), with one mark per ward, path and
intake partition: a pipeline redelivery and the lifecycle's own redelivery after a restart from its
changelog are no-ops; nothing new is taken for a redelivery, whatever the interleaving of the
direct and the forwarded path. Sensor readings are used: many correlate into one incident, so
most of them are outside its evidence window when redelivered (only the offset can tell)."""

from __future__ import annotations

import copy
from datetime import timedelta

import orjson
import pytest

from routers.incidents.batch import Origin, Received, RoutedInput, command_input, decide_batch, routed_command
from routers.incidents.book import IncidentBook
from routers.incidents.marks import high_water_key, is_redelivery, parse_origin
from tests.routers.incidents.factories import T0, XUAN_HOA, envelope, routed_event

WARD = XUAN_HOA.code


def reading(n: int, partition: int = 0, keyed_by_owner: bool = True) -> RoutedInput:
    kw = {"source": "sensor", "kind": "water_level", "device_id": "gauge-1", "value": 0.5,
          "at": T0 + timedelta(seconds=n), "point": None, "origin": f"ioc.in.sensors/{partition}/{n}"}
    body = envelope(f"s-{partition}-{n}", **kw)  # type: ignore[arg-type]
    raw = orjson.dumps(body)
    return RoutedInput(routed_event(f"s-{partition}-{n}", **kw),  # type: ignore[arg-type]
                       body, Received(raw, WARD.encode() if keyed_by_owner else b"city", Origin("ioc.routed", 0, n)),
                       keyed_by_owner)


def forwarded(item: RoutedInput) -> RoutedInput:
    """``item`` as read back from the commands topic after the city partition forwarded it."""
    command = routed_command(item).command
    forwarded_input = command_input(orjson.loads(orjson.dumps(command)),
                                    Received(b"", WARD.encode(), Origin("lifecycle-commands", 0, 0)))
    assert isinstance(forwarded_input, RoutedInput) and forwarded_input.forwarded
    return forwarded_input


@pytest.mark.parametrize(("origin", "parsed"), [
    ("ioc.in.reports/3/1207", ("ioc.in.reports/3", 1207)),
    ("ioc.in.reports/3/x", None), ("1207", None), ("", None), (None, None), ("a/1", None),
])
def test_parse_origin(origin: str | None, parsed: tuple[str, int] | None) -> None:
    assert parse_origin(origin) == parsed


def test_marks() -> None:
    assert high_water_key(WARD, "routed", "ioc.in.reports/3/1207") == (f"{WARD}|routed|ioc.in.reports/3", 1207)
    assert high_water_key(WARD, "routed", None) is None
    assert is_redelivery(1207, 1207) and is_redelivery(1300, 1207) and not is_redelivery(1206, 1207)
    assert not is_redelivery(None, 0) and not is_redelivery(["inc-1", WARD, 0.0], 0) and not is_redelivery(True, 0)


def test_a_pipeline_redelivery_is_a_no_op_with_one_mark_per_intake_partition() -> None:
    book = IncidentBook({}, {}, {})
    first = [reading(n, partition=n % 2) for n in range(200)]
    for start in range(0, 200, 50):
        decide_batch(book, first[start:start + 50], T0)
    assert len(book.seen) == 2  # two intake partitions, one path: two marks for 200 events
    [incident] = book.open_in(WARD)
    assert incident.evidence_count == 200
    before = copy.deepcopy((book.incidents, book.wards, book.seen))
    # the pipeline redelivers partition 1 from offset 101 on (same events, same order), then goes on
    again = decide_batch(book, [i for i in first if i.event.origin and i.event.origin.startswith("ioc.in.sensors/1/")
                                and int(i.event.origin.rsplit("/", 1)[1]) > 100], T0 + timedelta(minutes=5))
    assert again.effects.outbound == [] and again.effects.changed == [] and again.effects.evidence == []
    assert (book.incidents, book.wards, book.seen) == before
    new = decide_batch(book, [reading(201, partition=1)], T0 + timedelta(minutes=5))
    assert [w.index for w in new.effects.evidence] == [200]


def test_a_lifecycle_redelivery_after_a_restart_from_the_changelog_is_a_no_op() -> None:
    incidents: dict = {}
    wards: dict = {}
    seen: dict = {}
    batch = [reading(n) for n in range(60)]
    decide_batch(IncidentBook(incidents, wards, seen), batch, T0)
    # the worker dies before committing the offsets; a new one restores the tables (the changelog)
    # and reads the same batch again
    restored = (copy.deepcopy(incidents), copy.deepcopy(wards), copy.deepcopy(seen))
    book = IncidentBook(*copy.deepcopy(restored))
    again = decide_batch(book, batch, T0 + timedelta(minutes=1))
    assert again.effects.outbound == [] and again.effects.evidence == []
    assert (book.incidents, book.wards, book.seen) == restored


def test_direct_and_forwarded_paths_keep_their_own_marks_so_interleaving_loses_nothing() -> None:
    """Intake partition 0, offsets 1..30: every third event is ambiguous (keyed ``city``) and reaches
    the ward through the commands topic, after the direct ones that followed it."""
    book = IncidentBook({}, {}, {})
    events = [reading(n, keyed_by_owner=n % 3 != 0) for n in range(1, 31)]
    direct = [e for e in events if e.keyed_by_owner]
    later = [forwarded(e) for e in events if not e.keyed_by_owner]
    decide_batch(book, direct, T0)
    taken = decide_batch(book, later, T0 + timedelta(seconds=5))
    assert len(taken.effects.evidence) == len(later)  # none taken for a redelivery
    [incident] = book.open_in(WARD)
    assert incident.evidence_count == 30
    assert set(book.seen) == {f"{WARD}|routed|ioc.in.sensors/0", f"{WARD}|forwarded|ioc.in.sensors/0"}
    # and each path's redelivery is still a no-op
    assert decide_batch(book, [*direct[-3:], *later[-3:]], T0 + timedelta(seconds=9)).effects.outbound == []
