"""Which open incident a routed event belongs to, if any.

Two ways to correlate, both within one ward (the unit of partitioning, see docs/lifecycle.md):

1. **Rule grouping**: the decision's ``group_key`` equals the incident's, and the event lies
   within the rule's ``group_window_s`` (else ``window_s``) of the incident's first event: the
   group window starts with the event that opened the incident, at any distance.
2. **Space-time**: same category family (``routers.categories.family_of``; family ``other`` never
   correlates by place), within ``radius_m`` metres (geodesic, WGS84) and ``window_s`` seconds of
   the incident's latest evidence. A cheap bounding-box test runs before the geodesic one.
   Readings of the same sensor (``device_id``) correlate without a point.

Incident ids are derived from the first event id, so a redelivered first event can never
open a second incident.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from geopy.distance import geodesic

from routers.envelope import stable_id
from routers.incidents.model import Incident
from routers.incidents.routed import RoutedEvent
from routers.rules.holdback import INHIBITED

_M_PER_DEG_LAT = 111_132.0  # lower bound over the globe is ~110_574; the margin below covers it


@dataclass(frozen=True, slots=True)
class CorrelationPolicy:
    radius_m: float = 500.0
    window_s: int = 30 * 60


def incident_id(first_event_id: str) -> str:
    """Deterministic: the same first event always names the same incident."""
    return "inc-" + stable_id("incident", first_event_id)


def within_box(lat1: float, lon1: float, lat2: float, lon2: float, radius_m: float) -> bool:
    """Bounding pre-check: False only when the points are certainly farther apart than ``radius_m``."""
    margin = 1.02
    dlat = radius_m * margin / 110_574.0
    if abs(lat1 - lat2) > dlat:
        return False
    cos_lat = max(math.cos(math.radians(max(abs(lat1), abs(lat2)) + dlat)), 1e-6)
    dlon = radius_m * margin / (111_320.0 * cos_lat)
    return abs(lon1 - lon2) <= dlon


_EARTH_MEAN_RADIUS_M = 6_371_008.8
# Within a few kilometres the spherical (haversine) distance differs from the WGS84 geodesic by
# well under 0.6 %; only a distance this close to the radius needs geopy's geodesic to decide.
_SPHERE_MARGIN = 0.006


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(incident: Incident, event: RoutedEvent, radius_m: float | None = None) -> float | None:
    """Geodesic metres (geopy, WGS84). With ``radius_m``: a distance clearly inside or outside that
    radius is answered from the sphere (~2 us instead of ~100 us); the geodesic decides near it."""
    if incident.lat is None or incident.lon is None or event.lat is None or event.lon is None:
        return None
    if radius_m is not None:
        sphere = _haversine_m(incident.lat, incident.lon, event.lat, event.lon)
        if abs(sphere - radius_m) > radius_m * _SPHERE_MARGIN:
            return sphere
    return float(geodesic((incident.lat, incident.lon), (event.lat, event.lon)).meters)


def _in_window(incident: Incident, event: RoutedEvent, policy: CorrelationPolicy) -> bool:
    gap = (event.occurred_at - incident.last_seen).total_seconds()
    early = (incident.first_seen - event.occurred_at).total_seconds()
    return gap <= policy.window_s and early <= policy.window_s


def score(incident: Incident, event: RoutedEvent, policy: CorrelationPolicy) -> float | None:
    """``None`` when the event does not belong to ``incident``; else lower is a better match.

    Only the rule's group or the event's family can match: :func:`find_incident` skips the other
    candidates without calling this, so a new way to match must be allowed for there too."""
    if not incident.is_open or incident.ward != event.ward:
        return None
    if event.group_key is not None and event.group_key == incident.group_key:
        window = policy.window_s if event.group_window_s is None else event.group_window_s
        if abs((event.occurred_at - incident.first_seen).total_seconds()) <= window:
            return -1.0  # the rule said so: beats any distance
    # the family before the window: both only rule out, and comparing two strings is the cheaper
    # test (most of a ward's open incidents are of another family)
    if event.family != incident.family or event.family == "other":
        return None
    if not _in_window(incident, event, policy):
        return None
    if event.device_id is not None and event.device_id in incident.device_ids:
        return 0.0
    if incident.lat is None or incident.lon is None or event.lat is None or event.lon is None:
        return None
    if not within_box(incident.lat, incident.lon, event.lat, event.lon, policy.radius_m):
        return None
    meters = distance_m(incident, event, policy.radius_m)
    return meters if meters is not None and meters <= policy.radius_m else None


def find_incident(
    event: RoutedEvent, candidates: Iterable[Incident], policy: CorrelationPolicy
) -> Incident | None:
    """The best open incident for ``event``: rule group first, then nearest, then oldest."""
    best: tuple[float, str, Incident] | None = None
    family, group_key = event.family, event.group_key
    for incident in candidates:
        # score() matches only on the rule's group or within the family: a ward's open incidents
        # are mostly of other families (15 candidates, 2 of them of the family or group, for the
        # bench's citizen reports), and this test is cheaper than the call that would say None
        if incident.family != family and incident.group_key != group_key:
            continue
        value = score(incident, event, policy)
        if value is None:
            continue
        rank = (value, incident.created_at.isoformat() + incident.id, incident)
        if best is None or rank[:2] < best[:2]:
            best = rank
    return None if best is None else best[2]


def covering_incident(event: RoutedEvent, candidates: Iterable[Incident]) -> Incident | None:
    """For an event an inhibit rule held back (``suppressed`` ``inhibited:<rule>``) that matched no
    incident by group or distance: the ward's open incident of its family seen most recently.

    An inhibit rule holds an event back because an alert of the same family covers its place (the
    default rules' ``ward-flood-alert``: a gauge in severe flooding covers its ward). That alert's
    incident is where the event belongs, however far it is from the gauge, and a report located
    by its address alone has no point to measure a distance from. Attached there, the report gets
    the incident's result like the others; before, it was attached nowhere, and the 1022 portal's
    request stayed "received" for good."""
    if not (event.suppressed or "").startswith(INHIBITED) or event.family == "other":
        return None
    covering = [i for i in candidates if i.is_open and i.ward == event.ward and i.family == event.family]
    return max(covering, key=lambda i: (i.last_seen, i.id), default=None)
