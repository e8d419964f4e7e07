"""The pure route step on the real default boundaries and the default rules: one table of
intake messages and the one place each must end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from routers.boundaries.registry import BoundaryRegistry
from routers.events import GeoPoint
from routers.locate.locator import Locator
from routers.route import DeadLetter, Intake, Origin, Routed, Unroutable, place, route_batch
from routers.rules import default_ruleset

T = "2026-06-01T18:00:00+07:00"
DEVICES = {"cam-known": GeoPoint(10.7769, 106.7009)}


@pytest.fixture(scope="module")
def locator(data_dir: Path) -> Locator:
    return Locator(BoundaryRegistry(data_dir).load_for_serving(), nearest_max_m=300.0)


def run(locator: Locator, topic: str, body: object) -> object:
    """One message: the batch router's one-element case, with no stored rule state."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    placement = place(topic, raw, locator, DEVICES.get, 256 * 1024)
    routing = route_batch([Intake(Origin(topic, 0, 0), raw, placement)], default_ruleset(), {}, (), None,
                          datetime.now(UTC))
    return routing.outcomes[0]


CASES = [
    ("fire with coordinates", "ioc.in.reports",
     {"id": "r1", "category": "fire", "location": {"lat": 10.7769, "lon": 106.7009}, "reported_at": T},
     Routed, "point"),
    ("old address, no coordinates", "ioc.in.reports",
     {"id": "r2", "category": "flooding", "location": {"address": "P. Bến Nghé, Q.1, TP.HCM"}, "reported_at": T},
     Routed, "legacy_address"),
    ("camera placed by the registry", "ioc.in.camera",
     {"camera_id": "cam-known", "label": "accident", "confidence": 0.9, "time": T}, Routed, "device"),
    ("camera nobody registered", "ioc.in.camera",
     {"camera_id": "cam-ghost", "label": "accident", "confidence": 0.9, "time": T}, Unroutable, "unknown_device"),
    ("a point in Paris", "ioc.in.reports",
     {"id": "r3", "category": "noise", "location": {"lat": 48.85, "lon": 2.35}, "reported_at": T},
     Unroutable, "outside_boundaries"),
    ("an address that names nothing", "ioc.in.reports",
     {"id": "r4", "category": "noise", "location": {"address": "Số 1, đường Không Tồn Tại, Sao Hoả"}, "reported_at": T},
     Unroutable, "address_unresolved"),
    ("malformed JSON", "ioc.in.reports", b'{"id": ', DeadLetter, "malformed_json"),
]


@pytest.mark.parametrize(("name", "topic", "body", "kind", "detail"), CASES, ids=[c[0] for c in CASES])
def test_each_message_ends_in_one_place(locator: Locator, name: str, topic: str, body: object, kind: type,
                                       detail: str) -> None:
    outcome = run(locator, topic, body)
    assert isinstance(outcome, kind), outcome
    if isinstance(outcome, Routed):
        assert outcome.location.method == detail
        assert outcome.location.ward is not None
        assert any(t.startswith(("ward:", "agency:", "city-ioc")) for t in outcome.decision.targets)
        assert outcome.decision.rules_version == default_ruleset().version
    elif isinstance(outcome, Unroutable):
        assert outcome.location.reason == detail
    else:
        assert isinstance(outcome, DeadLetter) and outcome.reason == detail


def test_fire_goes_to_the_ward_and_the_fire_agency_at_p1(locator: Locator) -> None:
    outcome = run(locator, "ioc.in.reports", {"id": "r5", "category": "fire", "reported_at": T,
                                              "location": {"lat": 10.7769, "lon": 106.7009}})
    assert isinstance(outcome, Routed)
    assert outcome.decision.priority == "P1"
    assert "agency:fire" in outcome.decision.targets
    assert f"ward:{outcome.location.ward.code}" in outcome.decision.targets  # type: ignore[union-attr]
