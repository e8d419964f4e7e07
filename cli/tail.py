"""``ioc tail TOPIC [--from-beginning] [--json]``: a quick look at any topic.

Reads every partition without a consumer group (nothing to join, no offsets committed), from the
end (new messages only) or from the beginning, until Ctrl-C, ``--count`` messages or ``--idle``
seconds without a message. One line per message: for people, ``partition/offset key type id`` and
a short summary; with ``--json``, one JSON object per line (``topic, partition, offset, key,
headers, value``; ``value`` decoded when it is JSON, else ``value_base64``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import click
import orjson

from streams.settings import load_settings


def describe(value: Any) -> str:
    """A one-line summary of a decoded message for people."""
    if not isinstance(value, dict):
        return repr(value)[:120]
    if "specversion" in value:
        data_field = value.get("data")
        data = data_field if isinstance(data_field, dict) else {}
        detail = ""
        if value.get("type") == "vn.ioc.event.routed":
            detail = f"{data.get('event', {}).get('kind', '')} {value.get('iocpriority', '')}"
        elif str(value.get("type", "")).startswith("vn.ioc.incident."):
            detail = f"{data.get('id', data.get('incident_id', ''))} {data.get('status', '')} {data.get('priority', '')}"
        elif value.get("type") == "vn.ioc.event.deadletter":
            detail = f"{data.get('reason', '')} {value.get('subject', '')}"
        return f"{value.get('type')} {value.get('id')} {detail}".rstrip()
    return orjson.dumps(value).decode()[:120]


def as_json(record: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "topic": record.topic, "partition": record.partition, "offset": record.offset,
        "key": None if record.key is None else record.key.decode("utf-8", "replace"),
        "headers": {name: bytes(v).decode("utf-8", "replace") for name, v in (record.headers or [])},
    }
    try:
        body["value"] = orjson.loads(record.value) if record.value is not None else None
    except orjson.JSONDecodeError:
        body["value_base64"] = base64.b64encode(record.value).decode("ascii")
    return body


def records(options: dict[str, Any], topic: str, from_beginning: bool, idle_s: float | None) -> Iterator[Any]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **options)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise click.ClickException(f"no topic {topic!r} on the broker")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        (consumer.seek_to_beginning if from_beginning else consumer.seek_to_end)(*assigned)
        last = time.monotonic()
        while idle_s is None or time.monotonic() - last < idle_s:
            batches = consumer.poll(timeout_ms=500)
            for tp in sorted(batches, key=lambda t: t.partition):
                for record in batches[tp]:
                    last = time.monotonic()
                    yield record
    finally:
        consumer.close()


@click.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest message, not at the end.")
@click.option("--json", "json_lines", is_flag=True, help="One JSON object per message (stable, for scripts).")
@click.option("--count", type=int, help="Stop after this many messages.")
@click.option("--idle", "idle_s", type=float, help="Stop after this many seconds without a message.")
def tail(topic: str, from_beginning: bool, json_lines: bool, count: int | None, idle_s: float | None) -> None:
    """Print the messages of TOPIC (any topic: ioc.ward.27139, ioc.deadletter, ...) as they arrive."""
    from streams import kafka_clients

    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.UsageError("IOC_KAFKA_BOOTSTRAP is not set (`ioc up` prints it)")
    seen = 0
    try:
        for record in records(kafka_clients.kafka_python(settings), topic, from_beginning, idle_s):
            if json_lines:
                click.echo(orjson.dumps(as_json(record)).decode())
            else:
                value: Any
                try:
                    value = orjson.loads(record.value) if record.value else record.value
                except orjson.JSONDecodeError:
                    value = record.value
                key = "-" if record.key is None else record.key.decode("utf-8", "replace")
                click.echo(f"{record.partition}/{record.offset} {key} {describe(value)}")
            seen += 1
            if count is not None and seen >= count:
                return
    except KeyboardInterrupt:
        return
