"""The full pipeline as a row of the throughput benchmark: the real ``ioc worker`` (ingest, locate,
rules with Redis state, CloudEvents, lifecycle copy) on the same messages as the raw passthrough.

The pipeline's topic names are fixed, so each round gets a fresh embedded broker and Redis: the
outcome topics start empty and the drain can time the round the same way as every other row
(first output message to N outcomes on ``ioc.routed`` + ``ioc.unroutable`` + ``ioc.deadletter``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks._broker import Message, drain, embedded_settings, produce
from benchmarks.results import Result, Row, process_cpu_seconds, rates_of
from routers import topics
from routers.boundaries.registry import BoundaryRegistry
from streams.admin import create_topics
from streams.embedded.process import ManagedProcess, free_port
from streams.settings import Settings, load_settings
from streams.simulator.places import CITIES
from streams.simulator.run import build_scenario
from streams.simulator.scenario import ScenarioMix

ROLES = {
    "pipeline": "full pipeline (ioc worker --role pipeline)",
    "all": "pipeline + lifecycle (ioc worker --role all)",
}


def intake_messages(n: int, settings: Settings | None = None, city: str = "hcmc") -> list[Message]:
    """``n`` simulated citizen reports (with the simulator's share of old addresses, out-of-area and
    malformed ones) as ``(key, value)``: the same bytes go to every row of the benchmark."""
    settings = settings or load_settings()
    sim = build_scenario(settings, city, "normal", seed=42)
    sim.mix = ScenarioMix(reports=1.0, cameras=0.0, sensors=0.0)
    messages: list[Message] = []
    while len(messages) < n:
        message = sim.next_message()
        if message.topic == topics.REPORTS:
            messages.append((message.key, message.value))
    return messages


def measure_pipeline(messages: Sequence[Message], data_dir: Path, partitions: int = 4, timeout_s: float = 120.0,
                     city: str = "hcmc", role: str = "pipeline",
                     then: Callable[[Settings], None] | None = None) -> Result:
    """One round of the pipeline row; ``then(settings)`` runs afterwards on the same stack (whose
    ``ioc.routed`` now holds the lifecycle copies: the lifecycle row absorbs them)."""
    with embedded_settings(partitions) as stack_settings, tempfile.TemporaryDirectory(prefix="ioc-bench-") as tmp:
        settings = dataclasses.replace(stack_settings, data_dir=data_dir)
        assert settings.kafka_bootstrap is not None
        generation = BoundaryRegistry(data_dir).load_active()
        create_topics(settings, [w.code for w in generation.wards_in_province(CITIES[city])])
        asyncio.run(produce(settings.kafka_bootstrap, topics.REPORTS, messages))
        port = free_port()
        env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "IOC_REDIS_URL": settings.redis_url or "",
               "IOC_DATA_DIR": str(data_dir), "IOC_PARTITIONS": str(partitions), "IOC_WORKER_ROLE": role}
        worker = ManagedProcess("worker", [sys.executable, "-m", "cli", "worker", "--web-port", str(port)],
                                port, Path(tmp) / "worker.log", ready_timeout_s=120, env=env)
        try:
            progress = asyncio.run(drain(settings.kafka_bootstrap, [topics.ROUTED, topics.UNROUTABLE, topics.DEADLETTER],
                                         len(messages), timeout_s, alive=worker.running,
                                         cpu=lambda: process_cpu_seconds(worker.pid)))
        finally:
            worker.stop(timeout_s=20)
        if then is not None:
            then(settings)
    overall, intervals = rates_of(progress)
    moved = progress.count - (progress.samples[1][1] if len(progress.samples) > 1 else 0)
    cpu_us = progress.cpu_s * 1e6 / moved if progress.cpu_s and moved > 0 else None
    # outcome messages carry ward/event keys, not the input keys: completeness is the count
    return Result(name=ROLES[role], n=len(messages), delivered=progress.count,
                  rate=statistics.median(intervals) if intervals else overall, overall_rate=overall,
                  interval_rates=intervals, lost=max(len(messages) - progress.count, 0), duplicates=0,
                  cpu_us_per_event=cpu_us)


def pipeline_row(results: Sequence[Result], reference_rate: float) -> Row:
    name = results[0].name
    rate = statistics.median(r.rate for r in results)
    cpus = [r.cpu_us_per_event for r in results if r.cpu_us_per_event is not None]
    return Row(name=name, rate=rate, ratio=rate / reference_rate if reference_rate else 0.0,
               rounds=tuple(r.rate for r in results), cpu_us_per_event=statistics.median(cpus) if cpus else None,
               complete=all(r.complete for r in results), delivered=min(r.delivered for r in results),
               lost=max(r.lost for r in results), duplicates=0)
