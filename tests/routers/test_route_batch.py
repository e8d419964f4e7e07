"""The batch router (:func:`routers.route.route_batch`) as tables, with no broker and no Redis: what
each message of a batch is decided to be, the rule state the batch leaves behind, and the messages
it turns into (topic, key, headers, ``iocorigin``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import orjson
import pytest

from routers import envelope
from routers.binding import CLOUDEVENTS_HEADERS
from routers.events import Event, Source
from routers.locate.result import Location
from routers.route import (
    DeadLetter,
    Filtered,
    Intake,
    Origin,
    Placed,
    Placement,
    Routed,
    Unroutable,
    route_batch,
)
from routers.rules import SensorState, default_ruleset
from routers.topics import LIFECYCLE_HEADER, LIFECYCLE_SKIP
from tests.routers.rules.rules_helpers import NOON_UTC, ambiguous, at_ward, report, sensor, unresolved

RULES = default_ruleset()
ROUTINE = ((LIFECYCLE_HEADER, LIFECYCLE_SKIP),)


def gauge(kind: str, value: float, device: str, n: int) -> Event:
    return sensor(kind, value, device, when=NOON_UTC + timedelta(minutes=n), event_id=f"{device}-{n}")


def placed(event: Event, location: Location) -> Placed:
    return Placed(event, location)


def intake(n: int, placement: Placement) -> Intake:
    event = getattr(placement, "event", None)
    topic = "ioc.in.sensors" if event is not None and event.source is Source.SENSOR else "ioc.in.reports"
    return Intake(Origin(topic, 0, n), b'{"raw": true}', placement)


@dataclass(frozen=True)
class Row:
    name: str
    batch: list[Placement]
    suppressed: list[str | None]  # per routed outcome, in order
    telemetry: list[bool]  # per routed outcome: the lifecycle may skip it
    topics: list[str]  # of every outgoing message, in order
    raised: list[str]  # rule ids of the inhibitors the batch raised
    sensors: dict[str, frozenset[str]]  # sensors whose state changed -> their open thresholds
    stored: dict[str, SensorState] | None = None


TIDE_ALARM = frozenset({"tide-alarm", "tide-alarm-3"})
ROWS = [
    Row("an inhibitor raised by event i holds back event i+1 in the same batch",
        [placed(gauge("tide", 1.8, "tide-1", 0), at_ward("27139")), placed(report("flooding"), at_ward("26740"))],
        suppressed=[None, "inhibited:tide-flood-alert"], telemetry=[False, False],
        topics=["ioc.agency.flood-control", "ioc.city-ioc", "ioc.routed",
                "ioc.ward.26740", "ioc.agency.flood-control", "ioc.routed"],
        raised=["tide-flood-alert"], sensors={"tide-1": TIDE_ALARM}),
    Row("and event i-1: a batch's inhibitors do not depend on the order inside it",
        [placed(report("flooding"), at_ward("26740")), placed(gauge("tide", 1.8, "tide-1", 0), at_ward("27139"))],
        suppressed=["inhibited:tide-flood-alert", None], telemetry=[False, False],
        topics=["ioc.ward.26740", "ioc.agency.flood-control", "ioc.routed",
                "ioc.agency.flood-control", "ioc.city-ioc", "ioc.routed"],
        raised=["tide-flood-alert"], sensors={"tide-1": TIDE_ALARM}),
    Row("sensor hysteresis across a batch: opens, stays open in the band, clears, then routine",
        [placed(gauge("water_level", v, "wl-1", n), at_ward("27139")) for n, v in enumerate([0.35, 0.25, 0.15, 0.1])],
        suppressed=[None, None, "normal_reading", "normal_reading"], telemetry=[False, False, False, True],
        topics=["ioc.ward.27139", "ioc.agency.flood-control", "ioc.routed",
                "ioc.ward.27139", "ioc.agency.flood-control", "ioc.routed",
                "ioc.ward.27139", "ioc.routed", "ioc.ward.27139", "ioc.routed"],
        raised=[], sensors={"wl-1": frozenset()}),
    Row("the stored state is where the batch starts: an open gauge in the band stays open",
        [placed(gauge("water_level", 0.25, "wl-1", 0), at_ward("27139"))],
        suppressed=[None], telemetry=[False],
        topics=["ioc.ward.27139", "ioc.agency.flood-control", "ioc.routed"],
        raised=[], sensors={}, stored={"wl-1": SensorState(frozenset({"water-level-flooding"}))}),
    Row("an ambiguous address fans out to every candidate ward",
        [placed(report("flooding"), ambiguous("27139", "26740", province="79"))],
        suppressed=[None], telemetry=[False],
        topics=["ioc.ward.27139", "ioc.ward.26740", "ioc.agency.flood-control", "ioc.routed"],
        raised=[], sensors={}),
    Row("dead letter, filtered and unroutable: one message each, no rules",
        [DeadLetter("malformed_json", "unexpected end"), Filtered("unmapped", "frigate-1", {"label": "person"}),
         Unroutable(report("noise"), unresolved())],
        suppressed=[], telemetry=[], topics=["ioc.deadletter", "ioc.filtered", "ioc.unroutable"], raised=[], sensors={}),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_batch_router(row: Row) -> None:
    batch = [intake(n, placement) for n, placement in enumerate(row.batch)]
    routing = route_batch(batch, RULES, row.stored or {}, (), None, NOON_UTC)
    routed = [o for o in routing.outcomes if isinstance(o, Routed)]
    assert [o.decision.suppressed for o in routed] == row.suppressed
    assert [o.telemetry for o in routed] == row.telemetry
    assert [m.topic for m in routing.messages] == row.topics
    assert [i.rule for i in routing.raised] == row.raised
    assert {k: s.open for k, s in routing.sensors.items()} == row.sensors
    # every message names the intake message it came from, in the envelope as built
    origins = [orjson.loads(m.value or b"")["iocorigin"] for m in routing.messages]
    assert set(origins) == {f"{item.origin.topic}/0/{item.origin.offset}" for item in batch}
    assert len(routing.outcomes) == len(batch)


def test_each_outcome_has_its_key_and_headers() -> None:
    flood = report("flooding")
    batch = [intake(0, DeadLetter("malformed_json", "unexpected end")),
             intake(1, Filtered("unmapped", "frigate-1", {"label": "person"})),
             intake(2, Unroutable(report("noise"), unresolved())),
             intake(3, placed(flood, at_ward("26740"))),
             intake(4, placed(gauge("water_level", 0.1, "wl-2", 0), at_ward("27139")))]
    messages = route_batch(batch, RULES, {}, (), None, NOON_UTC).messages
    keys = [(m.topic, m.key) for m in messages]
    assert keys == [("ioc.deadletter", None), ("ioc.filtered", b"frigate-1"), ("ioc.unroutable", b"r-noise"),
                    ("ioc.ward.26740", flood.id.encode()), ("ioc.agency.flood-control", flood.id.encode()),
                    ("ioc.routed", b"26740"),
                    ("ioc.ward.27139", b"wl-2-0"), ("ioc.routed", b"27139")]
    # routine telemetry's lifecycle copy carries the skip header; everything else the CloudEvents one only
    assert [tuple(m.headers or ()) for m in messages] == [tuple(CLOUDEVENTS_HEADERS)] * 7 + [
        (*CLOUDEVENTS_HEADERS, *ROUTINE)]
    bodies = [orjson.loads(m.value or b"") for m in messages]
    assert [b["type"] for b in bodies[:3]] == [envelope.TYPE_DEADLETTER, envelope.TYPE_FILTERED,
                                               envelope.TYPE_UNROUTABLE]
    assert bodies[0]["data"]["original_base64"] == "eyJyYXciOiB0cnVlfQ=="  # the raw bytes, kept
    assert bodies[0]["subject"] == "ioc.in.reports/0/0" and bodies[0]["iocorigin"] == "ioc.in.reports/0/0"
    assert bodies[2]["data"]["reason"] == "outside_boundaries"


def test_state_carried_between_batches_decides_as_one_batch() -> None:
    """What the agent does: the state one batch leaves is what the next reads (Redis in between)."""
    tide, flood = placed(gauge("tide", 1.8, "tide-1", 0), at_ward("27139")), placed(report("flooding"), at_ward("26740"))
    first = route_batch([intake(0, tide)], RULES, {}, (), None, NOON_UTC)
    second = route_batch([intake(1, flood)], RULES, first.sensors, tuple(first.raised), None, NOON_UTC)
    together = route_batch([intake(0, tide), intake(1, flood)], RULES, {}, (), None, NOON_UTC)
    assert first.outcomes + second.outcomes == together.outcomes
    assert first.messages + second.messages == together.messages
