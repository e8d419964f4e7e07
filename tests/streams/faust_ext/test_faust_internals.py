"""The private Faust, mode and aiokafka internals that streams/faust_ext and streams/delivery build
on are still there, shaped as those modules expect, and the installed versions are the pinned ones.

When an upgrade moves one of them, a test here fails naming it: read the module named in the
message against the new library before moving the pin in pyproject.toml. A changed signature would
otherwise surface as a TypeError inside a running worker, or not at all (an override Faust no
longer calls silently undoes a fix: eager delivery, the rebalance refetches, the commit guard).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.protocol import fetch as aiokafka_fetch
from aiokafka.protocol.fetch import FetchRequest
from faust.events import Event
from faust.sensors.monitor import Monitor
from faust.transport.consumer import Consumer as BaseConsumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message
from mode.services import WaitResults
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.faust_ext.consumer import (
    FastDeliveryConsumer,
    ResponsiveConsumerThread,
    use_fast_delivery_consumer,
)

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"
PINNED = ("faust-streaming", "mode-streaming", "aiokafka")

CONSUMER = "streams/faust_ext/consumer.py"
DELIVERY = "streams/delivery.py"
MONITOR = "streams/faust_ext/monitor.py"
WORKER = "streams/faust_ext/worker.py"


def _pins() -> dict[str, str]:
    """package -> version for every exact (==) pin in pyproject.toml's dependencies."""
    pins: dict[str, str] = {}
    for dependency in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        exact = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", dependency)
        if exact:
            pins[exact[1]] = exact[2]
    return pins


@pytest.mark.parametrize("package", PINNED)
def test_the_installed_version_is_the_pinned_one(package: str) -> None:
    pinned = _pins().get(package)
    assert pinned is not None, f"pyproject.toml must pin {package} exactly (==): its internals are patched"
    installed = metadata.version(package)
    assert installed == pinned, (
        f"{package} {installed} is installed but pyproject.toml pins {pinned}: streams/faust_ext and "
        f"streams/delivery rely on its internals; check them against {installed} (this module), then move the pin"
    )


class Internal(NamedTuple):
    """A method we override or call: its owner, name, parameters (names, kinds and which have a
    default; annotations and default values do not matter), whether it is async, and who relies on it."""

    owner: type
    name: str
    parameters: str
    kind: str  # "sync", "async" (coroutine function) or "async generator"
    used_by: str


def _kind(function: Callable[..., Any]) -> str:
    if inspect.isasyncgenfunction(function):
        return "async generator"
    return "async" if inspect.iscoroutinefunction(function) else "sync"


def _parameters(function: Callable[..., Any]) -> str:
    """``(self, node_id, request, *, group=…)``: the shape a caller or an override depends on."""
    rendered: list[str] = []
    star_written = False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            rendered.append(f"*{parameter.name}")
            star_written = True
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            rendered.append(f"**{parameter.name}")
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not star_written:
            rendered.append("*")
            star_written = True
        default = "=…" if parameter.default is not inspect.Parameter.empty else ""
        rendered.append(f"{parameter.name}{default}")
    return f"({', '.join(rendered)})"


INTERNALS = [
    # the consumer: overridden
    Internal(aiokafka_driver.Consumer, "_new_consumer_thread", "(self)", "sync", CONSUMER),
    Internal(aiokafka_driver.Consumer, "wait_first", "(self, *coros, timeout=…)", "async", CONSUMER),
    Internal(aiokafka_driver.Consumer, "ack", "(self, message)", "sync", CONSUMER),
    Internal(aiokafka_driver.Consumer, "_to_message", "(self, tp, record)", "sync", CONSUMER),
    Internal(aiokafka_driver.Consumer, "perform_seek", "(self)", "async", CONSUMER),
    Internal(aiokafka_driver.Consumer, "getmany", "(self, timeout)", "async generator", CONSUMER),
    Internal(aiokafka_driver.Consumer, "on_partitions_revoked", "(self, revoked)", "async", CONSUMER),
    Internal(aiokafka_driver.Consumer, "_new_offset", "(self, tp)", "sync", CONSUMER),
    # the consumer: called
    Internal(aiokafka_driver.Consumer, "seek", "(self, partition, offset)", "async", CONSUMER),
    Internal(aiokafka_driver.Consumer, "position", "(self, tp)", "async", CONSUMER),
    Internal(aiokafka_driver.Consumer, "assignment", "(self)", "sync", CONSUMER),
    Internal(aiokafka_driver.AIOKafkaConsumerThread, "_create_worker_consumer", "(self, transport)", "sync", CONSUMER),
    Internal(aiokafka_driver.AIOKafkaConsumerThread, "_highwaters", "(self, partitions)", "async", CONSUMER),
    Internal(aiokafka_driver.AIOKafkaConsumerThread, "_ensure_consumer", "(self)", "sync", CONSUMER),
    Internal(FlowControlEvent, "clear", "(self)", "sync", CONSUMER),
    Internal(FlowControlEvent, "is_active", "(self)", "sync", CONSUMER),
    Internal(AIOKafkaClient, "send", "(self, node_id, request, *, group=…)", "async", CONSUMER),
    Internal(ClusterMetadata, "leader_for_partition", "(self, partition)", "sync", CONSUMER),
    Internal(FetchRequest, "__init__", "(self, max_wait_time, min_bytes, max_bytes, isolation_level, topics, rack_id=…)",
             "sync", CONSUMER),
    # the Monitor's per-message hooks: overridden
    Internal(Monitor, "on_message_in", "(self, tp, offset, message)", "sync", MONITOR),
    Internal(Monitor, "on_stream_event_in", "(self, tp, offset, stream, event)", "sync", MONITOR),
    Internal(Monitor, "on_stream_event_out", "(self, tp, offset, stream, event, state=…)", "sync", MONITOR),
    Internal(Monitor, "on_message_out", "(self, tp, offset, message)", "sync", MONITOR),
    Internal(Monitor, "on_send_initiated", "(self, producer, topic, message, keysize, valsize)", "sync", MONITOR),
    Internal(Monitor, "on_send_completed", "(self, producer, state, metadata)", "sync", MONITOR),
    Internal(Monitor, "track_tp_end_offset", "(self, tp, offset)", "sync", MONITOR),
    # the worker: overridden
    Internal(faust.Worker, "on_setup_root_logger", "(self, logger, level)", "sync", WORKER),
    Internal(faust.Worker, "on_startup_finished", "(self)", "async", WORKER),
    Internal(faust.Worker, "_schedule_shutdown", "(self, signal)", "sync", WORKER),
    # delivery: called (take_events is wrapped by a Faust decorator, so its kind is not checked)
    Internal(faust.Stream, "take_events", "(self, max_, within)", "any", DELIVERY),
    Internal(Message, "incref", "(self, n=…)", "sync", DELIVERY),
    Internal(Event, "ack", "(self)", "sync", DELIVERY),
    Internal(faust.App, "maybe_start_producer", "(self)", "sync", DELIVERY),
    Internal(aiokafka_driver.Producer, "_ensure_producer", "(self)", "sync", DELIVERY),
    Internal(AIOKafkaProducer, "create_batch", "(self)", "sync", DELIVERY),
    Internal(AIOKafkaProducer, "send_batch", "(self, batch, topic, *, partition)", "async", DELIVERY),
    Internal(AIOKafkaProducer, "partitions_for", "(self, topic)", "async", DELIVERY),
    Internal(BatchBuilder, "append", "(self, *, timestamp, key, value, headers=…)", "sync", DELIVERY),
    Internal(BatchBuilder, "close", "(self)", "sync", DELIVERY),
]


@pytest.mark.parametrize("internal", INTERNALS, ids=lambda i: f"{i.owner.__qualname__}.{i.name}")
def test_a_method_we_override_or_call_keeps_its_shape(internal: Internal) -> None:
    where = f"{internal.owner.__module__}.{internal.owner.__qualname__}.{internal.name}"
    function = getattr(internal.owner, internal.name, None)
    assert function is not None, f"{where} is gone; {internal.used_by} relies on it"
    found = _parameters(function)
    assert found == internal.parameters, (
        f"{where} now takes {found}, not {internal.parameters}; {internal.used_by} overrides or calls it"
    )
    if internal.kind != "any":
        assert _kind(function) == internal.kind, (
            f"{where} is now {_kind(function)}, not {internal.kind}; {internal.used_by} overrides or awaits it"
        )


def test_faust_still_delivers_each_fetched_message_through_wait_first() -> None:
    """FastDeliveryConsumer.wait_first only speeds delivery up while Faust's fetch loop calls it per
    message with the stream callback first (if that changes, nothing breaks, the speed-up is gone)."""
    source = inspect.getsource(BaseConsumer._drain_messages)
    assert re.search(r"self\.wait_first\(\s*callback\(message\),\s*self\.suspend_flow\.wait\(\)\s*\)", source), (
        f"faust.transport.consumer.Consumer._drain_messages no longer calls "
        f"wait_first(callback(message), self.suspend_flow.wait()); revisit FastDeliveryConsumer.wait_first in {CONSUMER}"
    )


def test_a_flow_control_resume_still_empties_the_queues_through_clear() -> None:
    """_report_cleared_queues wraps the app's flow_control.clear to note what the resume drops; that
    only works while resume() calls self.clear() and clear() walks _queues."""
    resume = inspect.getsource(FlowControlEvent.resume)
    assert "self.clear()" in resume, (
        f"mode's FlowControlEvent.resume() no longer calls self.clear(); revisit _report_cleared_queues in {CONSUMER}"
    )
    flow_control = FlowControlEvent()
    queue = FlowControlQueue(flow_control=flow_control, clear_on_resume=True)
    assert queue in flow_control._queues, f"mode's FlowControlEvent._queues no longer holds its queues ({CONSUMER})"
    assert hasattr(queue, "_queue"), f"mode's FlowControlQueue has no _queue deque any more ({CONSUMER})"


def test_a_topics_own_buffer_bound_still_reaches_the_agents_stream() -> None:
    """streams/lifecycle/agents.py bounds the lifecycle's stream buffer by setting the topic's
    ``maxsize`` after ``app.topic()`` (which takes the argument but drops it); the agent's stream
    reads a clone of the topic, whose queue must keep it."""
    from streams.lifecycle.agents import BUFFER_MAX, lifecycle_topic

    assert lifecycle_topic.clone(is_iterator=True).queue.maxsize == BUFFER_MAX, (
        "a Faust topic clone no longer keeps maxsize: the lifecycle's buffer bound (streams/lifecycle/agents.py) is lost"
    )


def test_the_fetch_wait_we_set_still_reaches_aiokafkas_fetcher() -> None:
    """ResponsiveConsumerThread sets AIOKafkaConsumer._fetch_max_wait_ms after construction;
    AIOKafkaConsumer.start() must still build its Fetcher from that attribute."""
    assert "fetch_max_wait_ms" in inspect.signature(Fetcher.__init__).parameters, (
        f"aiokafka's Fetcher no longer takes fetch_max_wait_ms; revisit ResponsiveConsumerThread in {CONSUMER}"
    )
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start), (
        f"AIOKafkaConsumer.start() no longer passes self._fetch_max_wait_ms to its Fetcher; "
        f"revisit ResponsiveConsumerThread in {CONSUMER}"
    )


FETCH_RESPONSES = sorted((cls for name, cls in vars(aiokafka_fetch).items() if name.startswith("FetchResponse_v")),
                         key=lambda cls: cls.API_VERSION)


def test_aiokafka_still_knows_the_fetch_versions_we_read() -> None:
    assert FETCH_RESPONSES, f"aiokafka.protocol.fetch has no FetchResponse_v* classes any more; revisit fetched_ends in {CONSUMER}"


@pytest.mark.parametrize("response", FETCH_RESPONSES, ids=lambda cls: f"v{cls.API_VERSION}")
def test_the_fetch_answer_still_has_the_fields_fetched_ends_reads(response: Any) -> None:
    """fetched_ends reads ``for topic, partitions in response.topics`` and, per partition,
    ``partition, error_code, highwater, *_rest``, whichever version the client negotiated."""
    schema = response.SCHEMA
    assert "topics" in schema.names, f"{response.__name__} has no topics any more; revisit fetched_ends in {CONSUMER}"
    topic = schema.fields[schema.names.index("topics")].array_of
    assert topic.names == ("topics", "partitions"), (
        f"{response.__name__}'s topics are now {topic.names}; revisit fetched_ends in {CONSUMER}"
    )
    partition = topic.fields[1].array_of
    assert partition.names[:3] == ("partition", "error_code", "highwater_offset"), (
        f"{response.__name__}'s partitions now start with {partition.names[:3]}; revisit fetched_ends in {CONSUMER}"
    )


def test_the_consumer_state_we_read_is_still_there(offline_app: Callable[..., faust.App]) -> None:
    async def scenario() -> None:
        app = offline_app()
        assert app._consumer is None, f"faust.App._consumer is gone; use_fast_delivery_consumer in {CONSUMER} reads it"
        assert isinstance(app.transport, aiokafka_driver.Transport)
        assert hasattr(app.transport, "Consumer"), f"the aiokafka Transport has no Consumer class attribute ({CONSUMER})"
        use_fast_delivery_consumer(app)
        consumer = app.consumer
        assert isinstance(consumer, FastDeliveryConsumer)
        assert isinstance(consumer._thread, ResponsiveConsumerThread), (
            f"Faust no longer builds its consumer thread with _new_consumer_thread(); revisit {CONSUMER}"
        )
        missing = [name for name in ("_stopped", "_crashed", "suspend_flow", "_unacked_messages", "_acked",
                                     "_committed_offset", "_gap", "_read_offset", "in_transaction")
                   if not hasattr(consumer, name)]
        assert missing == [], f"Faust's aiokafka Consumer has no {missing} any more; {CONSUMER} reads them"
        missing = [name for name in ("consumer_generation_id", "flow_control") if not hasattr(app, name)]
        assert missing == [], f"faust.App has no {missing} any more; {CONSUMER} reads them"
        assert callable(app.topics.acks_enabled_for), f"app.topics.acks_enabled_for is gone ({CONSUMER})"
        assert hasattr(app.flow_control, "_queues"), f"app.flow_control._queues is gone ({CONSUMER})"
        worker_consumer = consumer._thread._create_worker_consumer(app.transport)
        assert hasattr(worker_consumer, "_fetch_max_wait_ms") and hasattr(worker_consumer, "_client"), (
            f"AIOKafkaConsumer has no _fetch_max_wait_ms/_client any more ({CONSUMER})"
        )

    asyncio.run(scenario())


def test_a_message_still_carries_what_the_consumer_and_delivery_read() -> None:
    message = Message("t", 0, 7, 0.0, 0, None, b"k", b"v", None, tp=TP("t", 0), generation_id=3)
    missing = [name for name in ("generation_id", "acked", "tp", "offset", "refcount") if not hasattr(message, name)]
    assert missing == [], f"faust's Message has no {missing} any more; {CONSUMER} and {DELIVERY} read them"
    assert WaitResults._fields == ("done", "results", "stopped"), (
        f"mode's WaitResults is now {WaitResults._fields}; FastDeliveryConsumer.wait_first in {CONSUMER} builds one"
    )
