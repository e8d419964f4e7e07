"""An incident that stays open does not grow without bound: camera/sensor evidence is trimmed to
MAX_MACHINE_EVIDENCE (the first item and the latest), reports are kept, the count stays right,
and the redelivery guard (``seen``) shrinks with it."""

from __future__ import annotations

from datetime import timedelta

import orjson

from routers.incidents.book import IncidentBook, table_key
from routers.incidents.lifecycle import MAX_MACHINE_EVIDENCE
from routers.incidents.messages import summary
from routers.incidents.model import incident_from_json
from tests.routers.incidents.factories import T0, routed_event

WARD = "27142"
READINGS = 5 * MAX_MACHINE_EVIDENCE


def reading(n: int):
    # one water-level gauge every 10 s: each reading correlates with the open incident by device
    return routed_event(f"s-{n}", source="sensor", kind="water_level", device_id="gauge-1", value=0.5 + n / 1000,
                        at=T0 + timedelta(seconds=10 * n), point=None)


def test_a_sensor_reporting_into_its_open_incident_keeps_it_bounded() -> None:
    seen: dict[str, str] = {}
    incidents: dict[str, dict] = {}
    book = IncidentBook(incidents, {}, seen)
    sizes = []
    for n in range(READINGS):
        book.on_routed(reading(n), T0 + timedelta(seconds=10 * n))
        sizes.append(len(orjson.dumps(next(iter(incidents.values())))))
    assert len(incidents) == 1  # every reading joined the one incident
    incident = incident_from_json(next(iter(incidents.values())))
    assert len(incident.evidence) == MAX_MACHINE_EVIDENCE
    assert incident.evidence_count == READINGS and incident.evidence_dropped == READINGS - MAX_MACHINE_EVIDENCE
    # the opening reading and the latest ones are what is kept
    assert [e.event_id for e in incident.evidence] == ["s-0", *(f"s-{n}" for n in range(READINGS - 99, READINGS))]
    # the stored JSON stops growing once the bound is reached (unbounded, the last would be ~5x larger)
    assert max(sizes) < 1.1 * sizes[MAX_MACHINE_EVIDENCE]
    # the guard only holds marks that housekeeping can find again through the evidence
    assert set(seen) == {e.event_id for e in incident.evidence}
    assert summary(incident)["evidence_count"] == READINGS


def test_reports_are_never_trimmed_and_every_one_gets_its_result_key() -> None:
    book = IncidentBook({}, {}, {})
    book.on_routed(reading(0), T0)
    for n in range(1, 3 * MAX_MACHINE_EVIDENCE):
        if n % 50 == 0:
            event = routed_event(f"rep-{n}", source="report", kind="flooding", device_id="gauge-1",
                                 at=T0 + timedelta(seconds=10 * n), point=None)
        else:
            event = reading(n)
        book.on_routed(event, T0 + timedelta(seconds=10 * n))
    (key,) = book.incidents
    incident = book.get(*key.split("/"))
    assert incident is not None and key == table_key(WARD, incident.id)
    assert incident.report_ids == tuple(f"rep-{n}" for n in range(50, 3 * MAX_MACHINE_EVIDENCE, 50))
    machine = [e for e in incident.evidence if e.source != "report"]
    assert len(machine) == MAX_MACHINE_EVIDENCE


def test_a_redelivered_recent_reading_is_still_a_duplicate() -> None:
    book = IncidentBook({}, {}, {})
    for n in range(2 * MAX_MACHINE_EVIDENCE):
        book.on_routed(reading(n), T0 + timedelta(seconds=10 * n))
    again = book.on_routed(reading(2 * MAX_MACHINE_EVIDENCE - 1), T0 + timedelta(hours=1))
    assert again.duplicate and not again.changed


def test_json_round_trip_keeps_the_trimmed_count() -> None:
    book = IncidentBook({}, {}, {})
    for n in range(MAX_MACHINE_EVIDENCE + 7):
        book.on_routed(reading(n), T0 + timedelta(seconds=10 * n))
    (body,) = book.incidents.values()
    incident = incident_from_json(body)
    assert incident.evidence_dropped == 7
    assert incident_from_json(incident.to_json()) == incident
