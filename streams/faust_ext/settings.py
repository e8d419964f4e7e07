"""The faust.App settings that make a worker fast on the embedded broker (and on Kafka).

Invariant kept: only performance settings live here, each with its measured effect
(docs/performance.md, "Measured gains"); the broker address, web port and storage are the app's
own, so these values can be merged into any app's configuration without changing where it connects
or what it stores.

Faust internals relied on (pinned faust-streaming version, checked by
tests/streams/faust_ext/test_faust_internals.py): the ``faust.App`` setting names
``broker_session_timeout``, ``producer_max_batch_size``, ``producer_linger``,
``stream_buffer_maxsize``, ``consumer_max_fetch_size`` and ``Monitor`` (a ``"module:Class"`` path, resolved by Faust).
"""

from __future__ import annotations

from typing import Any

from streams.settings import Settings

CONSUMER_FETCH_BYTES = 8 * 1024 * 1024  # per partition and fetch


def app_settings(settings: Settings) -> dict[str, Any]:
    """faust.App settings (keyword arguments / ``config_from_object`` keys) that make it fast.

    Each value's effect was measured on the embedded broker (docs/performance.md, "Measured gains").
    Only performance settings are here: broker address, web port and storage are the app's own.
    """
    del settings  # the same values suit the embedded broker and Kafka; the parameter keeps the call stable
    return {
        # Tansu holds a JoinGroup until about half the session timeout has passed; Faust's
        # default (60 s) made every worker start wait ~30 s before the first message. 10 s is
        # Kafka's long-standing default: the join takes ~5 s, and Faust heartbeats from its
        # consumer thread, so a busy event loop does not cost the session.
        "broker_session_timeout": 10.0,
        # aiokafka keeps one produce request in flight per broker; with the 16 KiB default a
        # request carries ~20 of our ~700-byte messages per partition. 256 KiB batches and a
        # 5 ms linger let one request carry a whole batch from forward_batches.
        "producer_max_batch_size": 256 * 1024,
        "producer_linger": 0.005,
        # A stream queue under pressure takes its partition out of the fetch until it is half
        # empty again. With the default 4,096 a 1,000-event batch kept flipping the intake
        # partitions out and back in, and each return waited for a fresh fetch; 16,384 (~30 MB
        # of events at most per worker) kept the pipeline fed: 0.17-0.19x -> 0.25-0.26x.
        "stream_buffer_maxsize": 16_384,
        # aiokafka sends no new fetch to a broker while records fetched from it in the last 100 ms
        # wait to be consumed, and Tansu answers a fetch after up to fetch_max_wait. With Faust's
        # 1 MiB a partition, one fetch of the four ioc.routed partitions carried ~2,900 routed
        # copies (~1.4 kB each), less than one lifecycle batch of 4,000, and the lifecycle waited
        # between fetches. 8 MiB lets one partition's fetch carry ~5,600 copies, and two
        # partitions' fetch a whole batch of 8,000 (a backlog of ward-keyed copies spans every
        # partition; 8 MiB measured, session 18). The buffers
        # above still bound what a worker holds (fetching pauses when they fill), and aiokafka's
        # fetch_max_bytes (50 MiB) caps one answer. The pipeline's batches of 1,000 fit in one
        # fetch already: it measured the same with 1 and 16 MiB (docs/performance.md).
        "consumer_max_fetch_size": CONSUMER_FETCH_BYTES,
        # The default Monitor does per-event bookkeeping (dicts, deques, time.monotonic()) on
        # every message in, event in/out and send; our metrics live in streams.metrics instead.
        "Monitor": "streams.faust_ext.monitor:LeanMonitor",
    }

