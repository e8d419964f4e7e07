"""Reading the pipeline's ioc.routed envelope: what the lifecycle takes, and what it refuses."""

from __future__ import annotations

import copy

import pytest

from routers.exceptions import Rejected
from routers.incidents.lifecycle import open_incident
from routers.incidents.model import incident_from_json
from routers.incidents.routed import routed_from_envelope
from tests.routers.incidents.factories import T0, envelope, routed_event


def test_reads_the_real_envelope() -> None:
    event = routed_from_envelope(envelope("cam-1", source="camera", kind="fire_smoke", priority="P1",
                                          suppressed="quiet_window", group_key="fire:27142"))
    assert (event.event_id, event.source, event.kind, event.family) == ("cam-1", "camera", "fire_smoke", "fire")
    assert event.ward == "27142" and event.ward_name == "Phường Xuân Hòa" and event.province_code == "79"
    assert event.occurred_at == T0 and event.priority == "P1" and event.sla.ack_s == 900
    assert event.suppressed == "quiet_window" and event.group_key == "fire:27142"
    assert event.targets == ("ward:27142", "agency:flood-control")
    assert event.group_window_s is None
    assert routed_from_envelope(envelope("r2", group_window_s=1800)).group_window_s == 1800


def _broken(path: tuple[str, ...], value: object) -> dict:
    body = copy.deepcopy(envelope("r1"))
    node = body
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("data",), KeyError, "envelope.data is missing"),
        (("data", "location", "ward"), None, "neither a ward nor candidate wards"),
        (("data", "location", "ward"), "27142", "data.location.ward has the wrong type"),
        (("data", "event", "id"), 7, "data.event.id has the wrong type"),
        (("data", "event", "occurred_at"), "noon", "not an ISO 8601"),
        (("data", "event", "point"), {"lat": "x", "lon": 1}, "numeric lat and lon"),
        (("data", "decision", "sla"), KeyError, "data.decision.sla is missing"),
        (("data", "decision", "sla", "ack_s"), "soon", "data.decision.sla.ack_s has the wrong type"),
        (("data", "decision", "group_window_s"), "30m", "group_window_s must be a non-negative integer"),
    ],
)
def test_malformed_is_rejected(path: tuple[str, ...], value: object, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        routed_from_envelope(_broken(path, value))
    assert caught.value.reason == "malformed_routed"


def test_not_an_object() -> None:
    with pytest.raises(Rejected):
        routed_from_envelope([1, 2])


def test_ambiguous_location_is_owned_by_the_first_candidate() -> None:
    body = envelope("addr-1")
    body["data"]["location"].update(status="ambiguous", ward=None, candidates=[
        {"code": "26740", "name": "Phường Bến Thành", "distance_m": None},
        {"code": "27142", "name": "Phường Xuân Hòa", "distance_m": None}])
    event = routed_from_envelope(body)
    assert event.ward == "26740" and event.ward_name == "Phường Bến Thành"


def test_events_decoded_from_json_share_their_repeated_names() -> None:
    """An open incident keeps its events' names: decoded anew from each message's bytes, they are
    one object each, not one per event (the event ids stay their own)."""
    import orjson

    raw = orjson.dumps(envelope("r1", source="camera", kind="fire_smoke", device_id="cam-7"))
    first, second = (routed_from_envelope(orjson.loads(raw)) for _ in range(2))
    for name in ("source", "kind", "ward", "ward_name", "province_code", "priority", "device_id"):
        assert getattr(first, name) is getattr(second, name), name
    assert first.targets[0] is second.targets[0]
    assert first.event_id == second.event_id and first.event_id is not second.event_id


def test_open_incidents_share_their_sla_and_routed_note() -> None:
    """An open incident keeps its first event's SLA and a "routed to ward" history note: one object
    each per SLA pair and per ward, not one per incident (benchmarks.lifecycle_memory)."""
    first, second = (open_incident(routed_event(name), T0) for name in ("shared-1", "shared-2"))
    assert first.sla == second.sla and first.sla is second.sla
    assert first.history[-1].note == second.history[-1].note == f"routed to ward {first.ward}"
    assert first.history[-1].note is second.history[-1].note
    restored = incident_from_json(first.to_json())  # a worker restoring its table shares it too
    assert restored.sla is first.sla
