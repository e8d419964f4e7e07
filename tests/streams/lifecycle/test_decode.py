"""The lifecycle agent's decoding of one message: routine telemetry copies are skipped by their header."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest

from routers import topics
from routers.incidents.batch import RoutedInput, SkippedInput
from streams.lifecycle.agents import decode_lifecycle
from tests.routers.incidents.factories import envelope

CLOUDEVENTS = (("ce_specversion", b"1.0"), ("ce_id", b"e-1"), ("ce_type", b"vn.ioc.event.routed"),
               ("content-type", b"application/json"))
SKIP = (topics.LIFECYCLE_HEADER, topics.LIFECYCLE_SKIP)


def _event(headers: object) -> SimpleNamespace:
    message = SimpleNamespace(topic=topics.ROUTED, partition=0, offset=7, key=b"26734", headers=headers)
    return SimpleNamespace(message=message, value=orjson.dumps(envelope("rpt-1", source="sensor")))


@pytest.mark.parametrize("headers", [
    (*CLOUDEVENTS, SKIP),  # as aiokafka gives them: a tuple of tuples
    [*CLOUDEVENTS, SKIP],
    (SKIP,),
    {"ce_id": b"e-1", topics.LIFECYCLE_HEADER: topics.LIFECYCLE_SKIP},
])
def test_a_telemetry_copy_marked_by_the_pipeline_is_skipped(headers: object) -> None:
    assert decode_lifecycle(_event(headers)) == SkippedInput("telemetry")


@pytest.mark.parametrize("headers", [
    None, (), CLOUDEVENTS, list(CLOUDEVENTS), {"ce_id": b"e-1"},
    (*CLOUDEVENTS, (topics.LIFECYCLE_HEADER, b"keep")),  # another value of the header
    (("ce_id", topics.LIFECYCLE_SKIP),),  # the value under another name
])
def test_any_other_copy_is_decoded(headers: object) -> None:
    decoded = decode_lifecycle(_event(headers))
    assert isinstance(decoded, RoutedInput) and decoded.event.event_id == "rpt-1"
