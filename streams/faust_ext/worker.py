"""The worker class: ``faust.Worker`` without the DEBUG root logger, and a settled garbage collector.

Invariant kept: the root logger stays at the level the worker was started with (Faust's terminal
spinner would set it to DEBUG for the worker's lifetime, so every ``log.debug`` in aiokafka and
Faust built a LogRecord per message), and once start-up finished, what it loaded is frozen out of
garbage collection (:func:`settle_garbage_collector`) and the rest is collected whole every minute
(:func:`collect_periodically`).

Faust internals relied on (pinned faust-streaming version, checked by
tests/streams/faust_ext/test_faust_internals.py): ``faust.Worker.spinner`` (set to None to turn the
spinner off), ``faust.Worker.on_setup_root_logger(logger, level)`` and
``faust.Worker.on_startup_finished()`` and mode's ``Worker._schedule_shutdown(signal)`` (overridden,
each calls Faust's or mode's own), ``Worker._signal_stop_time`` (read: set once a stop was asked).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from typing import Any

import faust

# A worker told to stop (SIGTERM, Ctrl-C, or its parent dying: ManagedProcess asks the kernel for
# SIGTERM then) exits within this many seconds, stopped cleanly or not. Faust's orderly stop waits
# on the broker (commits, producer flush, leaving the group): when the broker went away with the
# parent, as the embedded one does, that stop never ended and the worker outlived its parent.
STOP_DEADLINE_S = 30.0
STOP_OVERRUN_EXIT = 70  # the exit status of a worker whose stop overran (EX_SOFTWARE)


class Worker(faust.Worker):
    """``faust.Worker`` without the terminal spinner's logging side effect.

    At log level WARN or above Faust installs a spinner handler and sets the *root* logger to
    DEBUG for the worker's lifetime, so every ``log.debug`` in aiokafka and Faust (several per
    message) builds a LogRecord with ``findCaller`` before the handlers drop it. Without the
    spinner the root logger stays at the requested level.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        settle_garbage_collector()
        self.add_future(collect_periodically(FULL_COLLECTION_INTERVAL_S))  # cancelled at stop

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        if not self._signal_stop_time:
            exit_after_deadline(STOP_DEADLINE_S)
        super()._schedule_shutdown(signal)


def exit_after_deadline(seconds: float) -> threading.Timer:
    """Leave the process ``seconds`` from now, whatever the event loop is doing (a daemon thread:
    an orderly stop that finishes first ends the process before it fires)."""
    def overran() -> None:
        print(f"worker: the orderly stop took over {seconds:g} s (the broker gone?); exiting",
              file=sys.stderr, flush=True)
        os._exit(STOP_OVERRUN_EXIT)

    timer = threading.Timer(seconds, overran)
    timer.daemon = True
    timer.start()
    return timer


# A worker allocates a few dozen container objects per event (decoded JSON, envelopes, futures),
# so the default 700-allocation young generation was collected several times per batch, and
# each full collection walked every object loaded at start (boundaries, the package's
# administrative tables, Faust itself): ~6 % of the pipeline's CPU. Nothing loaded at start
# becomes garbage, so it is frozen out of collection, and young collections run less often.
# The threshold counts containers allocated minus those freed: what a batch holds until it is
# done. A lifecycle batch of 4,000 inputs holds several times 20,000: at 20,000 the lifecycle
# worker collected ~35 times and the middle generation 2-3 times per 30,000 inputs, walking the
# same live batch again and again, 11-17 us per input. At 100,000: 2-4 collections of ~50 ms
# each, 3.5-7 us per input; the pipeline the same within noise (docs/performance.md, session 15).
YOUNG_GENERATION_THRESHOLD = 100_000
# The older generations are collected after ten of the next younger one, so with young
# collections rare they are rarer still, and garbage cycles that outlived a young collection
# waited long: the 1,000 events/s soak's RSS climbed 2.2 MB a minute over its last five. With a
# full collection every minute the next soak read 0.97 (session 13 measured the same remedy:
# +0.86 against +1.06 MB/min). It walks only what was made since start-up (the rest is frozen).
FULL_COLLECTION_INTERVAL_S = 60.0


def settle_garbage_collector() -> None:
    """Freeze what start-up loaded and collect the young generation less often (call once the
    worker is ready; cycles made later are still collected)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


async def collect_periodically(interval_s: float) -> None:
    """A full collection every ``interval_s`` seconds, on the event loop (a collection holds the
    GIL wherever it runs)."""
    while True:
        await asyncio.sleep(interval_s)
        gc.collect()
