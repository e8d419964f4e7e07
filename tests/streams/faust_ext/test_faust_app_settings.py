"""streams.faust_ext.settings and streams.faust_ext.monitor: the app settings Faust accepts, and
the lean Monitor they select."""

from __future__ import annotations

import statistics
import time
import uuid

import faust
import pytest
from faust.sensors.monitor import Monitor
from faust.types import TP, Message

from streams.faust_ext.consumer import FastDeliveryConsumer, use_fast_delivery_consumer
from streams.faust_ext.monitor import LeanMonitor
from streams.faust_ext.settings import app_settings
from streams.settings import Settings


def test_app_settings_are_accepted_by_faust_and_select_the_lean_monitor(offline_app) -> None:
    app = offline_app(**app_settings(Settings()))
    assert app.conf.broker_session_timeout == 10.0
    assert app.conf.producer_max_batch_size == 256 * 1024
    assert app.conf.producer_linger == 0.005
    assert app.conf.stream_buffer_maxsize == 16_384
    assert app.conf.consumer_max_fetch_size == 8 * 1024 * 1024
    assert isinstance(app.monitor, LeanMonitor)


def test_a_fetch_of_two_partitions_carries_a_whole_lifecycle_batch() -> None:
    # The lifecycle takes up to BATCH_MAX routed copies at a time; when a fetch carried fewer it
    # waited on the broker between batches (Faust's 1 MiB: ~740 copies a partition). A backlog of
    # ward-keyed copies spans every partition of ioc.routed (4 by default).
    from benchmarks.lifecycle_memory import routed_reports
    from streams.lifecycle.agents import BATCH_MAX

    copies = routed_reports(400)  # the pipeline's lifecycle copies of simulated 1022 reports
    record_overhead = 64  # a Kafka record's lengths, deltas and key (a ward code) in its batch
    batch_bytes = BATCH_MAX * (statistics.mean(map(len, copies)) + record_overhead)
    assert 2 * app_settings(Settings())["consumer_max_fetch_size"] >= batch_bytes


def test_app_settings_also_work_through_config_from_object() -> None:
    # streams.app.configure() applies settings this way, after the module-level App exists.
    app = faust.App(f"t-{uuid.uuid4().hex[:6]}", autodiscover=False)
    app.config_from_object({"broker": "kafka://127.0.0.1:1", **app_settings(Settings())})
    use_fast_delivery_consumer(app)
    assert isinstance(app.monitor, LeanMonitor)
    assert isinstance(app.consumer, FastDeliveryConsumer)


@pytest.mark.parametrize(("monitor_class", "counted"), [(Monitor, 3), (LeanMonitor, 0)])
def test_lean_monitor_does_no_per_event_bookkeeping(monitor_class: type[Monitor], counted: int) -> None:
    monitor = monitor_class()
    for offset in range(3):
        message = Message("t", 0, offset, time.time(), 0, None, b"k", b"v", None, tp=TP("t", 0))
        monitor.on_message_in(TP("t", 0), offset, message)
        monitor.on_send_initiated(None, "t", None, 10, 700)
    assert (monitor.messages_received_total, monitor.messages_sent) == (counted, counted)


def test_lean_monitor_keeps_what_faust_stall_detection_reads() -> None:
    monitor = LeanMonitor()
    monitor.on_stream_event_in(TP("t", 1), 7, None, None)
    assert TP("t", 1) in monitor.stream_inbound_time
