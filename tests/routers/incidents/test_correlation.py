"""Correlation: rule groups, space-time within one family, window and radius edges."""

from __future__ import annotations

from dataclasses import replace

import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from routers.incidents.book import IncidentBook
from routers.incidents.correlation import CorrelationPolicy, find_incident, incident_id, score, within_box
from routers.incidents.lifecycle import open_incident
from tests.routers.incidents.factories import BEN_THANH, T0, minutes, offset, routed_event

POLICY = CorrelationPolicy(radius_m=500, window_s=1800)


def test_rainstorm_in_xuan_hoa_is_one_incident_with_five_pieces_of_evidence() -> None:
    book = IncidentBook({}, {}, {}, POLICY)
    events = [
        routed_event("rep-1", at=T0, point=offset(0, 0)),
        routed_event("rep-2", at=T0 + minutes(4), point=offset(120, -80)),
        routed_event("rep-3", at=T0 + minutes(9), point=offset(-200, 150)),
        routed_event("cam-1", source="camera", kind="flooding", at=T0 + minutes(6), point=offset(60, 300)),
        routed_event("wl-1", source="sensor", kind="water_level", at=T0 + minutes(12), point=offset(-300, -250),
                     device_id="wl-xh-01", value=0.42),
    ]
    for event in events:
        book.on_routed(event, T0 + minutes(15))
    [incident] = book.open_in("27142")
    assert incident.id == incident_id("rep-1")
    assert [e.event_id for e in incident.evidence] == ["rep-1", "rep-2", "rep-3", "cam-1", "wl-1"]
    assert {e.source for e in incident.evidence} == {"report", "camera", "sensor"}
    assert incident.report_ids == ("rep-1", "rep-2", "rep-3")


@pytest.mark.parametrize(
    ("name", "second", "joins"),
    [
        ("near, same family", dict(point=offset(400, 0)), True),
        ("just beyond radius", dict(point=offset(520, 0)), False),
        ("other family", dict(kind="fire", point=offset(10, 0)), False),
        ("family other never by place", dict(kind="other", point=offset(10, 0)), False),
        ("after the window", dict(at=T0 + minutes(31), point=offset(10, 0)), False),
        ("within window", dict(at=T0 + minutes(29), point=offset(10, 0)), True),
        ("other ward", dict(ward=BEN_THANH, point=offset(10, 0)), False),
        ("no point, no group", dict(point=None), False),
        ("group key beats distance", dict(point=offset(3000, 0), group_key="g1"), True),
        ("group window from the rule", dict(point=offset(3000, 0), group_key="g1", group_window_s=600,
                                            at=T0 + minutes(9)), True),
        ("after the rule's group window, far", dict(point=offset(3000, 0), group_key="g1", group_window_s=600,
                                                    at=T0 + minutes(11)), False),
        ("after the rule's group window, near", dict(point=offset(30, 0), group_key="g1", group_window_s=600,
                                                     at=T0 + minutes(11)), True),
        ("other group, far", dict(point=offset(3000, 0), group_key="g2"), False),
        ("other family, same group", dict(kind="fire", point=offset(3000, 0), group_key="g1"), True),
        ("other family, other group, near", dict(kind="fire", point=offset(10, 0), group_key="g2"), False),
    ],
)
def test_second_event(name: str, second: dict, joins: bool) -> None:
    first = routed_event("e1", point=offset(0, 0), group_key="g1")
    incident = open_incident(first, T0)
    event = routed_event("e2", **second)
    assert (find_incident(event, [incident], POLICY) is not None) is joins, name


def test_same_sensor_without_point_joins() -> None:
    first = routed_event("s1", source="sensor", kind="water_level", device_id="wl-1", value=0.5)
    incident = open_incident(first, T0)
    again = routed_event("s2", source="sensor", kind="water_level", device_id="wl-1", point=None, value=0.6,
                         at=T0 + minutes(5))
    assert find_incident(again, [incident], POLICY) is incident


def test_closed_incident_does_not_collect() -> None:
    from routers.incidents.status import Status

    incident = replace(open_incident(routed_event("e1"), T0), status=Status.RESOLVED)
    assert find_incident(routed_event("e2", point=offset(5, 5)), [incident], POLICY) is None


def test_nearest_wins() -> None:
    far = open_incident(routed_event("a", point=offset(300, 0)), T0)
    near = open_incident(routed_event("b", point=offset(50, 0)), T0)
    assert find_incident(routed_event("c", point=offset(0, 0)), [far, near], POLICY) is near


def test_incident_id_is_deterministic() -> None:
    assert incident_id("rep-1") == incident_id("rep-1") != incident_id("rep-2")
    assert incident_id("rep-1").startswith("inc-")


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-80, 80), lon=st.floats(-179, 179),
    dlat=st.floats(-0.02, 0.02), dlon=st.floats(-0.02, 0.02), radius=st.floats(10, 2000),
)
def test_box_precheck_never_drops_a_point_within_radius(lat, lon, dlat, dlon, radius) -> None:
    other = (lat + dlat, max(-180.0, min(180.0, lon + dlon)))
    if geodesic((lat, lon), other).meters <= radius:
        assert within_box(lat, lon, other[0], other[1], radius)


@settings(max_examples=200, deadline=None)
@given(
    opened=st.lists(st.tuples(st.sampled_from(["flooding", "fire", "other", "water_level"]),
                              st.sampled_from([None, "g1", "g2"]), st.integers(-600, 600), st.integers(-600, 600),
                              st.integers(0, 40)), max_size=12),
    kind=st.sampled_from(["flooding", "fire", "other", "water_level"]), group=st.sampled_from([None, "g1", "g2"]),
    north=st.integers(-600, 600), east=st.integers(-600, 600),
)
def test_find_incident_is_the_best_score_of_all_candidates(opened, kind, group, north, east) -> None:
    """find_incident skips candidates of another family and group before scoring them: it must
    still pick what scoring every candidate picks."""
    candidates = [open_incident(routed_event(f"o{n}", kind=k, group_key=g, point=offset(dn, de),
                                             at=T0 + minutes(m)), T0 + minutes(m))
                  for n, (k, g, dn, de, m) in enumerate(opened)]
    event = routed_event("new", kind=kind, group_key=group, point=offset(north, east), at=T0 + minutes(20))
    scored = [(value, i.created_at.isoformat() + i.id, n) for n, i in enumerate(candidates)
              if (value := score(i, event, POLICY)) is not None]
    expected = candidates[min(scored)[2]] if scored else None
    assert find_incident(event, candidates, POLICY) is expected
