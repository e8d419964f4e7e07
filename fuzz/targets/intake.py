"""Fuzz target: the intake decoders, :func:`routers.ingest.decode`, on all three intake topics.

Input layout: byte 0 picks the topic, byte 1 picks raw mode (the rest is the message) or
structured mode (the rest drives :mod:`fuzz.jsonbuild` over a valid example of that topic).
"""

from __future__ import annotations

import math

import atheris

from fuzz.harness import Outcome, main, reason_code
from fuzz.jsonbuild import dumps, mutate
from fuzz.seeds import INTAKE_TEMPLATES as TEMPLATES
from fuzz.seeds import INTAKE_TOPICS as TOPICS
from routers.exceptions import FilteredOut, Rejected

with atheris.instrument_imports(include=["routers"]):
    from routers.categories import CAMERA_LABELS, REPORT_CATEGORIES, SENSOR_KINDS
    from routers.events import Event, Source
    from routers.ingest import decode

NAMES = ("id", "category", "location", "reported_at", "reporter", "camera_id", "label", "confidence", "time",
         "sensor_id", "kind", "value", "unit", "type", "after", "lat", "lon", "address", "channel", "severity")


def message(data: bytes) -> tuple[str, bytes]:
    if len(data) < 2:
        return TOPICS[0], data
    topic = TOPICS[data[0] % len(TOPICS)]
    if data[1] % 2 == 0:
        return topic, data[2:]
    fdp = atheris.FuzzedDataProvider(data[2:])
    templates = TEMPLATES[topic]
    template = templates[fdp.ConsumeIntInRange(0, len(templates) - 1)]
    return topic, dumps(mutate(fdp, template, NAMES), fdp)


def check_event(event: Event) -> None:
    """What an accepted event promises to everything downstream."""
    assert isinstance(event.id, str) and event.id, event
    assert event.occurred_at.tzinfo is not None, event
    known = {Source.REPORT: REPORT_CATEGORIES, Source.CAMERA: CAMERA_LABELS, Source.SENSOR: SENSOR_KINDS}
    assert event.kind in known[event.source], event
    if event.point is not None:
        assert math.isfinite(event.point.lat) and math.isfinite(event.point.lon), event
        assert -90 <= event.point.lat <= 90 and -180 <= event.point.lon <= 180, event
    if event.confidence is not None:
        assert 0.0 <= event.confidence <= 1.0, event
    if event.value is not None:
        assert math.isfinite(event.value), event


def check_one(data: bytes) -> Outcome:
    topic, raw = message(data)
    try:
        event = decode(topic, raw)
    except Rejected as rejection:
        return reason_code(rejection)
    except FilteredOut as filtered:  # a valid Frigate message the mapping maps to nothing
        assert filtered.reason.isidentifier() and filtered.event_id.startswith("frigate:"), filtered
        return f"filtered:{filtered.reason}"
    check_event(event)
    return "accepted"


if __name__ == "__main__":
    main(check_one)

