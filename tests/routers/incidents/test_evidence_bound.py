"""An open incident keeps a bounded window of its evidence in the table (the first item and the
latest EVIDENCE_WINDOW); every item is handed out once for the serving index's evidence list and
in the notice that adds it; report ids are kept whole; the count stays right."""

from __future__ import annotations

from datetime import timedelta

import orjson

from routers.incidents.batch import coalesce
from routers.incidents.book import Effects, IncidentBook, Outbound, table_key
from routers.incidents.lifecycle import EVIDENCE_WINDOW, MAX_DEVICES
from routers.incidents.messages import summary
from routers.incidents.model import incident_from_json, table_json
from tests.routers.incidents.factories import T0, routed_event

WARD = "27142"
READINGS = 50 * EVIDENCE_WINDOW


def reading(n: int, device: str = "gauge-1"):
    # one water-level gauge every 10 s: each reading correlates with the open incident by device
    return routed_event(f"s-{n}", source="sensor", kind="water_level", device_id=device, value=0.5,
                        at=T0 + timedelta(seconds=10 * n), point=None)


def test_a_sensor_reporting_into_its_open_incident_keeps_a_constant_size() -> None:
    incidents: dict[str, dict] = {}
    book = IncidentBook(incidents, {}, {})
    sizes = []
    written: list = []
    for n in range(READINGS):
        effects = book.on_routed(reading(n), T0 + timedelta(seconds=10 * n))
        written.extend(effects.evidence)
        sizes.append(len(orjson.dumps(table_json(next(iter(incidents.values()))))))
    assert len(incidents) == 1  # every reading joined the one incident
    incident = incident_from_json(table_json(next(iter(incidents.values()))))
    assert len(incident.evidence) == EVIDENCE_WINDOW + 1
    assert incident.evidence_count == READINGS and incident.evidence_dropped == READINGS - EVIDENCE_WINDOW - 1
    # the opening reading and the latest ones are what is kept
    assert [e.event_id for e in incident.evidence] == ["s-0", *(f"s-{n}" for n in range(READINGS - EVIDENCE_WINDOW,
                                                                                          READINGS))]
    # the stored JSON stops growing once the window is full (ids and counts differ only in digits)
    assert max(sizes) <= sizes[EVIDENCE_WINDOW + 2] + 24
    # every item was handed out once, at its index of the whole list: the serving index's list
    assert [(w.index, w.item["event_id"]) for w in written] == [(n, f"s-{n}") for n in range(READINGS)]
    assert summary(incident)["evidence_count"] == READINGS


def test_window_positions_map_to_the_whole_list() -> None:
    book = IncidentBook({}, {}, {})
    for n in range(20):
        book.on_routed(reading(n), T0 + timedelta(seconds=10 * n))
    (stored,) = book.incidents.values()
    incident = incident_from_json(table_json(stored))
    assert [incident.evidence_index(p) for p in range(len(incident.evidence))] == [0, 16, 17, 18, 19]


def test_reports_leave_the_window_but_every_one_keeps_its_result_key() -> None:
    book = IncidentBook({}, {}, {})
    book.on_routed(reading(0), T0)
    for n in range(1, 300):
        if n % 50 == 0:
            event = routed_event(f"rep-{n}", source="report", kind="flooding", device_id="gauge-1",
                                 at=T0 + timedelta(seconds=10 * n), point=None)
        else:
            event = reading(n)
        book.on_routed(event, T0 + timedelta(seconds=10 * n))
    (key,) = book.incidents
    incident = book.get(*key.split("/"))
    assert incident is not None and key == table_key(WARD, incident.id)
    assert incident.report_ids == tuple(f"rep-{n}" for n in range(50, 300, 50))
    assert len(incident.evidence) == EVIDENCE_WINDOW + 1
    # a redelivered report (no origin) is known by its id long after it left the window
    again = book.on_routed(routed_event("rep-50", source="report", kind="flooding", device_id="gauge-1",
                                        at=T0 + timedelta(seconds=500), point=None), T0 + timedelta(hours=1))
    assert again.duplicate and not again.changed


def test_devices_are_remembered_for_correlation_and_bounded() -> None:
    book = IncidentBook({}, {}, {})
    for n in range(MAX_DEVICES + 10):
        # gauges along one street, all placed at the same point: they correlate by place
        event = routed_event(f"s-{n}", source="sensor", kind="water_level", device_id=f"gauge-{n % (MAX_DEVICES + 5)}",
                             value=0.5, at=T0 + timedelta(seconds=10 * n))
        book.on_routed(event, T0 + timedelta(seconds=10 * n))
    (stored,) = book.incidents.values()
    incident = incident_from_json(table_json(stored))
    assert len(incident.device_ids) == MAX_DEVICES
    assert incident.device_ids[-1] == f"gauge-{(MAX_DEVICES + 9) % (MAX_DEVICES + 5)}"
    # a reading of a device that left the window still joins the incident (by device id)
    late = book.on_routed(reading(MAX_DEVICES + 10, device=incident.device_ids[0]), T0 + timedelta(seconds=500))
    assert [c.id for c in late.changed] == [incident.id]


def test_notices_carry_the_added_items_once_also_when_coalesced() -> None:
    book = IncidentBook({}, {}, {})
    effects = Effects()
    for n in range(12):
        effects.extend(book.on_routed(reading(n), T0 + timedelta(seconds=10 * n)))
    notices = [o for o in effects.outbound if o.channel == "ward"]
    assert [[i["event_id"] for i in o.value["data"]["new_evidence"]] for o in notices] == [[f"s-{n}"] for n in range(12)]
    kept = [o for o in coalesce(effects.outbound) if o.channel == "ward"]
    # the opened notice and the last updated one: together they publish every item, once
    assert [o.value["type"].rsplit(".", 1)[1] for o in kept] == ["opened", "updated"]
    published = [i["event_id"] for o in kept for i in o.value["data"]["new_evidence"]]
    assert published == [f"s-{n}" for n in range(12)]
    # the audit state and the notice carry the window, not the whole list
    state = [o for o in coalesce(effects.outbound) if o.channel == "incidents"][-1]
    assert len(state.value["data"]["evidence"]) == EVIDENCE_WINDOW + 1
    assert state.value["data"]["evidence_count"] == 12


def test_coalesce_publishes_a_tracked_item_updated_twice_as_it_is_now() -> None:
    item = {"event_id": "cam-1", "details": {"frigate_type": "new"}}
    later = {"event_id": "cam-1", "details": {"frigate_type": "end"}}

    def notice(version: int, items: list) -> Outbound:
        return Outbound("ward", WARD, {"type": "vn.ioc.incident.updated", "iocincident": "inc-1", "v": version,
                                       "data": {"new_evidence": items}})

    kept = coalesce([notice(2, [item]), notice(3, [later])])
    assert [o.value["data"]["new_evidence"] for o in kept] == [[later]]
    assert kept[0].value["v"] == 3


def test_what_a_report_adds_is_written_without_every_earlier_report_id() -> None:
    """Issue 20 (memory): an evidence change's audit state, notice and index document carry the
    report ids it added (``new_report_ids``) and ``report_count``, not every id so far, so what each
    change writes does not grow with the incident's reports; the changelog record and status changes
    carry all of them, and the results still go to every report."""
    from routers.incidents.model import report_ids_of
    from routers.incidents.status import Status
    from routers.incidents.updates import StatusUpdate

    book = IncidentBook({}, {}, {})
    sizes = []
    for n in range(200):
        event = routed_event(f"rep-{n}", source="report", kind="flooding", at=T0 + timedelta(seconds=n))
        book.begin_batch()
        effects = book.on_routed(event, T0 + timedelta(seconds=n))
        (state,) = [o.value for o in effects.outbound if o.channel == "incidents"]
        (notice,) = [o.value for o in effects.outbound if o.channel == "ward"]
        for data in (state["data"], notice["data"]):
            assert data["report_count"] == n + 1
            assert report_ids_of(data) == [f"rep-{n}"]  # what the Open311 tracker marks routed
        sizes.append(len(orjson.dumps(state)))
        (changed,) = effects.changed
        assert orjson.loads(orjson.dumps(book.encode(changed)))["report_ids"] == [f"rep-{i}" for i in range(n + 1)]  # the changelog: all
    assert max(sizes[10:]) <= sizes[10] + 24  # constant, whatever the reports so far
    (incident,) = book.open_in(WARD)
    book.on_update(StatusUpdate("u1", incident.id, WARD, Status.ACKNOWLEDGED, "officer-7"), T0 + timedelta(hours=1))
    done = book.on_update(StatusUpdate("u2", incident.id, WARD, Status.RESOLVED, "officer-7"), T0 + timedelta(hours=2))
    (state,) = [o.value for o in done.outbound if o.channel == "incidents"]
    assert report_ids_of(state["data"]) == [f"rep-{i}" for i in range(200)]  # a status change carries all
    assert sorted(o.key for o in done.outbound if o.channel == "results") == sorted(f"rep-{i}" for i in range(200))
