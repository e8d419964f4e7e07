"""One evidence item per tracked object: Frigate's new, update and end of one object fold into the
item the new opened; a redelivery changes nothing. Envelopes are built by the real pipeline code
from the held-out Frigate payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from routers import envelope
from routers.decision import Decision, Sla
from routers.incidents.book import IncidentBook
from routers.incidents.routed import RoutedEvent, routed_from_envelope
from routers.ingest import decode
from routers.ingest.frigate import with_snapshot_url
from routers.locate.result import Location, WardRef

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "frigate"
NOW = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
WARD = WardRef("26740", "Phường Bến Thành", "79")


def routed(path: str) -> RoutedEvent:
    event = with_snapshot_url(decode("ioc.in.camera", (FIXTURES / path).read_bytes()),
                              {"front_door": "http://frigate-q1.local:5000"}.get)
    decision = Decision(("ward:26740", "agency:fire"), "P1", Sla(300, 3600), ("root", "camera-fire"), "v1",
                        group_key="26740|fire_smoke")
    body = envelope.routed(event, Location("resolved", WARD, "device", "g1", "official", ()), decision, "lifecycle", NOW)
    return routed_from_envelope(orjson.loads(orjson.dumps(body)))


def test_new_then_end_is_one_evidence_item_updated() -> None:
    book = IncidentBook({}, {}, {})
    opened = book.on_routed(routed("derived/events/fire-new.json"), NOW)
    assert len(opened.outbound) > 0
    ended = book.on_routed(routed("derived/events/fire-end.json"), NOW + timedelta(seconds=60))
    assert not ended.duplicate
    (incident,) = book.open_in("26740")
    assert len(incident.evidence) == 1 and incident.evidence_count == 1
    item = incident.evidence[0]
    assert item.track == "frigate:events:1607124100.100000-fire01"
    assert item.details["frigate_type"] == "end"
    assert item.details["top_score"] == 0.958984375  # the best the object ever had (new said 0.9589)
    assert item.details["end_time"] == "2020-12-04T23:22:40.500Z"
    assert item.details["snapshot_url"].endswith("/api/events/1607124100.100000-fire01/snapshot.jpg")
    assert "sub_label" not in orjson.dumps(incident.to_json()).decode()
    again = book.on_routed(routed("derived/events/fire-end.json"), NOW + timedelta(seconds=90))
    assert again.duplicate and not again.outbound
