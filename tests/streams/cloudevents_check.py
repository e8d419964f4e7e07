"""Read a Kafka record the way another CloudEvents consumer would: with the official SDK's Kafka
binding (the ``cloudevents`` package on PyPI), not with our own envelope code.

A record must carry ``content-type: application/cloudevents+json`` (structured mode, binding
spec section 3.1). It is parsed twice: with the SDK's structured reader (``from_structured``, the
v1 API) and with its mode-detecting reader (``from_kafka``), which reads a record without that
header as binary mode.
"""

from __future__ import annotations

from typing import Any

from cloudevents.core.bindings import kafka as binding
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1 import kafka as v1_kafka

STRUCTURED = b"application/cloudevents+json"


def parse_record(record: Any) -> Any:
    """A kafka-python ``ConsumerRecord`` -> the SDK's CloudEvent (v1 API); asserts the binding."""
    headers = {name: bytes(value) for name, value in (record.headers or [])}
    assert headers.get("content-type") == STRUCTURED, (
        f"{record.topic}/{record.partition}/{record.offset}: content-type header {headers.get('content-type')!r}")
    event = v1_kafka.from_structured(v1_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value))
    core = binding.from_kafka(binding.KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat())
    assert core.get_id() == event["id"] and core.get_type() == event["type"]
    assert event["specversion"] == "1.0" and event["source"] and event["id"]
    return event


def event_type(event: Any) -> str:
    return str(event["type"])
