"""The lifecycle worker's own CPU per routed report, in-process: decode, decide, serialize outputs.

``python -m benchmarks.lifecycle_cpu [-n 20000] [--batch 1000] [--profile] [--working-set]`` routes ``n`` simulated
citizen reports through the real core (the same copies :mod:`benchmarks.lifecycle_memory` builds:
ingest, locate, rules, the lifecycle envelope with its ``iocorigin``) and feeds them, in batches,
through what the lifecycle agent runs per batch with the worker's real Faust tables (memory store,
no broker, no Redis): :func:`~streams.lifecycle.agents.decode_lifecycle`,
:func:`~streams.lifecycle.agents.decide` (the book, staged table writes, their changelog records)
and :func:`~streams.lifecycle.agents.finish` (every output message serialized, metrics). It prints
microseconds of CPU per input and what the batches produced, so a change to the per-input work
can be judged in seconds instead of a 3-minute ``make bench`` run; the bench row adds the consumer
(Faust, aiokafka), the producer and the Redis round trip to this number. ``--working-set`` runs
once more under tracemalloc: the peak allocated above the start (a batch's inputs, decisions and
serialized outputs, at their largest) and what stays (the state), the memory a worker behind its
input holds per batch on top of its state.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

import click


@dataclass(frozen=True, slots=True)
class _Message:
    """What the agent reads of a Faust message (``event.message``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: float = 0.0


@dataclass(frozen=True, slots=True)
class _Event:
    message: _Message
    value: bytes


@dataclass(frozen=True, slots=True)
class CpuRun:
    inputs: int
    cpu_s: float
    incidents: int
    messages: int  # outputs of every batch: changelog records, notices, states
    output_bytes: int

    @property
    def us_per_input(self) -> float:
        return self.cpu_s * 1e6 / self.inputs


def _events(raws: Sequence[bytes], partitions: int) -> list[_Event]:
    import orjson

    from routers import topics
    from streams.delivery import partition_for_key

    events = []
    for offset, raw in enumerate(raws):
        location = orjson.loads(raw)["data"]["location"]  # the pipeline keys the copy by its ward
        ward = location["ward"]["code"].encode() if location.get("ward") else b"city"
        events.append(_Event(_Message(topics.ROUTED, partition_for_key(ward, partitions), offset, ward), raw))
    return events


def run(raws: Sequence[bytes], batch: int | None = None, partitions: int = 4, profile: cProfile.Profile | None = None) -> CpuRun:
    """Feed ``raws`` to a fresh lifecycle state over the worker's tables, ``batch`` at a time
    (None: the agent's ``BATCH_MAX``)."""
    from streams.lifecycle.agents import (
        BATCH_MAX,
        build_lifecycle,
        decide,
        decode_lifecycle,
        finish,
        incidents_table,
    )
    from streams.settings import load_settings

    state = build_lifecycle(load_settings())
    for table in state.tables:  # the module's tables: empty them of the previous run's state
        table.table.data.clear()
    events = _events(raws, partitions)
    batch = batch or BATCH_MAX
    loop = asyncio.new_event_loop()
    messages = size = 0
    cpu = time.process_time()
    if profile is not None:
        profile.enable()
    try:
        for start in range(0, len(events), batch):
            chunk = events[start:start + batch]
            inputs = [decode_lifecycle(e) for e in chunk]
            handled = loop.run_until_complete(finish(decide(chunk, inputs, state), chunk, state))
            out = list(handled.messages)
            messages += len(out)
            size += sum(len(m.value or b"") for m in out)
    finally:
        if profile is not None:
            profile.disable()
        cpu = time.process_time() - cpu
        loop.close()
    return CpuRun(len(events), cpu, len(incidents_table.data), messages, size)


@click.command()
@click.option("-n", "n", default=20_000, show_default=True, help="Simulated citizen reports.")
@click.option("--batch", type=int, default=None, help="Inputs per batch  [default: the agent's BATCH_MAX]")
@click.option("--repeats", default=3, show_default=True, help="Runs over the same reports; the median is printed.")
@click.option("--profile", is_flag=True, help="cProfile the last run; print the top functions by own time.")
@click.option("--working-set", is_flag=True, help="One more run under tracemalloc: its peak and what stays.")
def main(n: int, batch: int | None, repeats: int, profile: bool, working_set: bool) -> None:
    """CPU per routed report in the lifecycle's batch path (decode, decide, outputs)."""
    from benchmarks.lifecycle_memory import routed_reports
    from streams.faust_ext.worker import settle_garbage_collector

    raws = routed_reports(n)
    settle_garbage_collector()  # as the worker does once started: its young generation, its frozen start-up
    runs = []
    for round_no in range(repeats):
        profiler = cProfile.Profile() if profile and round_no == repeats - 1 else None
        result = run(raws, batch, profile=profiler)
        runs.append(result)
        click.echo(f"round {round_no + 1}: {result.us_per_input:.0f} us CPU/input ({result.inputs} inputs -> "
                   f"{result.incidents} incidents, {result.messages} messages, {result.output_bytes / 1e6:.1f} MB)")
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    median = sorted(r.us_per_input for r in runs)[len(runs) // 2]
    click.echo(f"lifecycle batch path: median {median:.0f} us CPU/input over {repeats} runs of {n} reports")
    if working_set:
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = run(raws, batch)
            kept, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        click.echo(f"working set (tracemalloc): peak {(peak - start) / 1e6:.1f} MB above the start, "
                   f"{(kept - start) / 1e6:.1f} MB kept; {result.output_bytes / 1e6:.1f} MB of output in all")


if __name__ == "__main__":
    main(sys.argv[1:])
