"""A Faust Monitor (the sensor every event passes through) without per-message bookkeeping.

Invariant kept: Faust's own stall detection still sees every stream event (the per-partition
``stream_inbound_time`` it reads is updated); everything else a Monitor counts per message is
dropped, because ioc-router's Prometheus metrics (``streams.metrics``) count what the dashboard
needs. Selected through :func:`streams.faust_ext.settings.app_settings` (``Monitor``).

Faust internals relied on (pinned faust-streaming version, checked by
tests/streams/faust_ext/test_faust_internals.py): ``faust.sensors.monitor.Monitor``'s hooks
``on_message_in``, ``on_stream_event_in``, ``on_stream_event_out``, ``on_message_out``,
``on_send_initiated``, ``on_send_completed``, ``track_tp_end_offset`` (overridden with the same
parameters) and its ``stream_inbound_time`` dict, which ``verify_event_path`` reads.
"""

from __future__ import annotations

import time
from typing import Any

from faust.sensors.monitor import Monitor


class LeanMonitor(Monitor):
    """Faust's Monitor without its per-message hooks (rebalance, commit and error stats kept).

    Faust calls these for every message; the default Monitor appends to deques and updates
    several dicts each time. ioc-router's own Prometheus metrics (``streams.metrics``) count what
    the dashboard needs, so the per-event work is dropped here; only the per-partition "last event
    seen" time that Faust's own stall detection reads is kept. ``/stats`` in the worker's web
    server shows zeros for message/event counters as a result.
    """

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict | None:
        # Kept: Faust's "stream is idle" check (verify_event_path) reads this; without it a worker
        # with a steady backlog would log false slow-processing errors after stream_processing_timeout.
        self.stream_inbound_time[tp] = time.monotonic()
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: dict | None = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        return None

