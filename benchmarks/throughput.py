"""Throughput on the embedded broker: a raw aiokafka passthrough beside Faust forwarders.

``python -m benchmarks.throughput`` (or ``make bench``) prints events/s for each contender and its
ratio to the raw passthrough, measured side by side in one run on the same pre-generated messages.

A *contender* is a callable ``start(run) -> Handle`` that starts something reading ``run.source``
and writing ``run.sink`` (usually a child process, so it gets its own interpreter and core like a
real worker). :func:`measure` fills the source topic with the messages first, starts the contender,
and times it from the first message appearing on the sink to the sink holding all N.

Adding a row (the full pipeline), from another benchmark module::

    from benchmarks.throughput import Run, default_contenders, run_benchmark, spec

    def run_pipeline_worker(run: Run) -> None:   # module level: it runs in a child process
        ...  # start the real worker reading run.source, publishing one copy per event to run.sink

    rows = run_benchmark([*default_contenders(), spec("full pipeline", run_pipeline_worker)],
                         messages, bootstrap)

``measure(contender, messages, bootstrap, name=..., source=..., sink=...)`` times a single run;
``source``/``sink`` may name the pipeline's fixed topics (the sink must start empty).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import click

from benchmarks._broker import (
    Drained,
    Message,
    create_topics,
    drain,
    embedded_broker,
    produce,
)
from benchmarks.results import Result, Row, process_cpu_seconds, rates_of
from cli.progress import progress_printer
from routers.boundaries.registry import BoundaryRegistry
from routers.progress import tracked
from streams.settings import load_settings

_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Run:
    """Where a contender reads and writes. ``group_id`` is fresh per run (reads from the earliest)."""

    bootstrap: str
    source: str
    sink: str
    group_id: str
    partitions: int


class Handle(Protocol):
    def alive(self) -> bool: ...

    def stop(self) -> None: ...

    def cpu_seconds(self) -> float:
        """CPU (user + system) the contender used so far; -1 when unknown."""
        ...


Contender = Callable[[Run], Handle]


class ProcessHandle:
    """A contender running ``target(run)`` in a child interpreter (its own core, like a real worker).

    The child is a plain ``python -c`` that imports ``target`` by name, so ``target`` must be a
    module-level function; its stderr goes to a log file that is shown if it dies early.
    """

    def __init__(self, target: Callable[[Run], None], run: Run) -> None:
        module = target.__module__
        if module == "__main__":  # run as ``python -m benchmarks.throughput``: import it by its real name
            module = getattr(sys.modules["__main__"].__spec__, "name", module)
        spec = f"{module}:{target.__qualname__}"
        self._log = tempfile.NamedTemporaryFile(prefix="ioc-bench-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from benchmarks.throughput import child_main; child_main()", spec,
             json.dumps(dataclasses.asdict(run))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, env=env, cwd=_REPO,
        )

    def alive(self) -> bool:
        return self._process.poll() is None

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self._process.pid)

    def stop(self) -> None:
        died = self._process.poll() is not None
        if not died:
            self._process.terminate()  # SIGTERM: Faust and the passthrough shut down cleanly on it
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        if self._log.closed:
            return
        self._log.close()
        if died:  # it ended on its own: keep its stderr and say where it is
            click.echo(f"contender exited with code {self._process.returncode}; its log: {self._log.name}\n"
                       f"{self.log_tail()}", err=True)
        else:
            os.unlink(self._log.name)

    def log_tail(self, lines: int = 15) -> str:
        with open(self._log.name, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])


def child_main() -> None:
    """Entry point of a contender's child process: ``<module:function> <run as JSON>``."""
    spec, run_json = sys.argv[1], sys.argv[2]
    module_name, _, attribute = spec.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    target(Run(**json.loads(run_json)))


def in_subprocess(target: Callable[[Run], None], run: Run) -> ProcessHandle:
    """Run a module-level ``target(run)`` in a child process; the usual way to write a contender."""
    return ProcessHandle(target, run)


def measure(contender: Contender, messages: Sequence[Message], bootstrap: str, *, name: str,
            partitions: int = 4, timeout_s: float = 120.0, verify: bool = True,
            source: str | None = None, sink: str | None = None) -> Result:
    """Time ``contender`` moving ``messages`` from a fresh source topic to a fresh sink topic.

    ``source``/``sink`` may name existing topics (a pipeline with fixed topic names); the sink must
    be empty. With ``verify``, the sink is read back afterwards and lost/duplicated keys are counted.
    """
    tag = uuid.uuid4().hex[:8]
    run = Run(bootstrap=bootstrap, source=source or f"bench.{tag}.in", sink=sink or f"bench.{tag}.out",
              group_id=f"bench-{tag}", partitions=partitions)
    create_topics(bootstrap, [run.source, run.sink], partitions)
    asyncio.run(produce(bootstrap, run.source, messages))
    handle = contender(run)
    try:
        progress = asyncio.run(drain(bootstrap, [run.sink], len(messages), timeout_s,
                                     alive=handle.alive, cpu=handle.cpu_seconds))
    finally:
        handle.stop()
    overall, intervals = rates_of(progress)
    seen = set(progress.keys)
    lost = len({key for key, _ in messages} - seen)
    duplicates = len(progress.keys) - len(seen)
    return Result(name=name, n=len(messages), delivered=progress.count,
                  rate=statistics.median(intervals) if intervals else overall, overall_rate=overall,
                  interval_rates=intervals, lost=lost, duplicates=duplicates,
                  cpu_us_per_event=_per_event_us(progress))


def _per_event_us(progress: Drained) -> float | None:
    moved = progress.count - (progress.samples[1][1] if len(progress.samples) > 1 else 0)
    if progress.cpu_s is None or progress.cpu_s < 0 or moved <= 0:
        return None
    return progress.cpu_s * 1e6 / moved


# --- contenders ------------------------------------------------------------------------------------


def run_raw_passthrough(run: Run) -> None:
    """The reference: aiokafka consumer (group, getmany) -> AIOKafkaProducer, at-least-once.

    Each fetched batch is sent without awaiting each message; its offsets are committed only after
    every send of the batch was acked, so a crash re-delivers rather than loses.
    """
    asyncio.run(_raw_passthrough(run))


async def _raw_passthrough(run: Run) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(run.source, bootstrap_servers=run.bootstrap, group_id=run.group_id,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            if not batches:
                continue
            futures = [await producer.send(run.sink, record.value, key=record.key)
                       for records in batches.values() for record in records]
            await asyncio.gather(*futures)
            await consumer.commit()
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        with contextlib.suppress(Exception):
            await consumer.stop()


def _faust_app(run: Run, tuned: bool):  # type: ignore[no-untyped-def]
    import faust

    from streams.embedded.process import free_port

    datadir = tempfile.mkdtemp(prefix="ioc-bench-faust-")
    atexit.register(shutil.rmtree, datadir, True)
    options: dict[str, Any] = {  # App's keyword settings, each of its own type
        "broker": f"kafka://{run.bootstrap}",
        "consumer_auto_offset_reset": "earliest",
        "topic_partitions": run.partitions,
        "web_port": free_port(),
        "web_bind": "127.0.0.1",
        "datadir": datadir,  # not <cwd>/<app id>-data
    }
    if tuned:
        from streams.faust_ext.settings import app_settings
        from streams.settings import Settings

        options.update(app_settings(Settings(kafka_bootstrap=run.bootstrap, partitions=run.partitions)))
    return faust.App(run.group_id, **options)


def run_faust_bare_forward(run: Run) -> None:
    """A bare Faust agent with default settings: ``async for`` each event, ``await topic.send``."""
    import faust

    app = _faust_app(run, tuned=False)
    source = app.topic(run.source, key_serializer="raw", value_serializer="raw")
    sink = app.topic(run.sink, key_serializer="raw", value_serializer="raw")

    @app.agent(source)
    async def forward(stream):  # type: ignore[no-untyped-def]
        async for key, value in stream.items():
            await sink.send(key=key, value=value)

    faust.Worker(app, loglevel="error", quiet=True).execute_from_commandline()


def run_faust_tuned_forward(run: Run) -> None:
    """The same forwarder with :mod:`streams.faust_ext` and :mod:`streams.delivery`: settings, fast
    delivery, batch publishing with at-least-once acks, and the spinner-free Worker."""
    from streams.delivery import Outgoing, forward_batches
    from streams.faust_ext.consumer import use_fast_delivery_consumer
    from streams.faust_ext.worker import Worker

    app = _faust_app(run, tuned=True)
    use_fast_delivery_consumer(app)
    source = app.topic(run.source, key_serializer="raw", value_serializer="raw")

    def handle(events):  # type: ignore[no-untyped-def]
        return [Outgoing(run.sink, event.key, event.value) for event in events]

    @app.agent(source)
    async def forward(stream):  # type: ignore[no-untyped-def]
        await forward_batches(stream, handle)

    Worker(app, loglevel="error", quiet=True).execute_from_commandline()


@dataclass(frozen=True, slots=True)
class ContenderSpec:
    """A row of the report. ``repeat=False``: measured in the first round only (a slow baseline)."""

    name: str
    start: Contender
    repeat: bool = True


def spec(name: str, target: Callable[[Run], None], repeat: bool = True) -> ContenderSpec:
    """A row whose contender is ``target(run)`` in a child process (see :func:`in_subprocess`)."""
    return ContenderSpec(name, lambda run: in_subprocess(target, run), repeat)


REFERENCE = "raw aiokafka passthrough"


def default_contenders() -> list[ContenderSpec]:
    return [
        spec(REFERENCE, run_raw_passthrough),
        # ~20x slower than the reference: one round reproduces the baseline and keeps `make bench` short.
        spec("faust bare forward (default)", run_faust_bare_forward, repeat=False),
        spec("faust forward (tuned)", run_faust_tuned_forward),
    ]


def run_benchmark(contenders: Sequence[ContenderSpec], messages: Sequence[Message], bootstrap: str, *,
                  repeats: int = 3, partitions: int = 4, timeout_s: float = 90.0) -> list[Row]:
    """Measure every contender ``repeats`` times, interleaved (A B C A C A C ...) so a slow moment
    on the shared machine hits all of them alike; ratios are to the first contender."""
    plan = [(round_no, c) for round_no in range(repeats) for c in contenders if round_no == 0 or c.repeat]
    results: dict[str, list[Result]] = {c.name: [] for c in contenders}
    with click.progressbar(plan, label="throughput", file=sys.stderr,
                           item_show_func=lambda item: item[1].name if item else "") as bar:
        for _, contender in bar:
            results[contender.name].append(measure(contender.start, messages, bootstrap, name=contender.name,
                                                   partitions=partitions, timeout_s=timeout_s))
    rows: list[Row] = []
    reference_rate = 0.0
    for contender in contenders:
        runs = results[contender.name]
        rate = statistics.median(r.rate for r in runs)
        reference_rate = reference_rate or rate
        cpus = [r.cpu_us_per_event for r in runs if r.cpu_us_per_event is not None]
        rows.append(Row(
            name=contender.name, rate=rate, ratio=rate / reference_rate if reference_rate else 0.0,
            rounds=tuple(r.rate for r in runs), cpu_us_per_event=statistics.median(cpus) if cpus else None,
            complete=all(r.complete for r in runs), delivered=min(r.delivered for r in runs),
            lost=max(r.lost for r in runs),
            duplicates=max(r.duplicates for r in runs),
        ))
    return rows


def report(rows: Sequence[Row], n: int, partitions: int, repeats: int) -> str:
    lines = [f"== throughput on the embedded broker (Tansu), {partitions} partitions, N={n} simulated citizen "
             f"reports, median of {repeats} rounds (each: median of 10 per-interval rates) =="]
    width = max(len(r.name) for r in rows)
    for r in rows:
        cpu = f"{r.cpu_us_per_event:6.0f} us CPU/ev" if r.cpu_us_per_event is not None else ""
        note = "" if r.complete else f"   INCOMPLETE: {r.delivered}/{n} within the timeout"
        if r.complete and (r.lost or r.duplicates):
            note += f"   lost {r.lost}, duplicates {r.duplicates}"
        if len(r.rounds) == 1 and repeats > 1:
            note += "   (1 round)"
        lines.append(f"{r.name:<{width}}  {r.rate:>8.0f} ev/s  {r.ratio:>5.2f}x  {cpu}{note}")
    return "\n".join(lines)


@click.command()
@click.option("-n", "--messages", "n", default=50_000, show_default=True, help="Messages per contender run.")
@click.option("--partitions", default=4, show_default=True)
@click.option("--repeats", default=3, show_default=True, help="Rounds; the reported rate is their median.")
@click.option("--only", multiple=True, help="Run only contenders whose name contains this (the reference always runs).")
@click.option("--timeout", "timeout_s", default=90.0, show_default=True, help="Give up on one run after this.")
@click.option("--lifecycle/--no-lifecycle", default=True, show_default=True,
              help="After each pipeline round, a lifecycle worker absorbs its ioc.routed (same broker, same run).")
@click.option("--ack-seconds", default=40.0, show_default=True,
              help="Seconds of routine traffic at 80 % of the pipeline's rate for the ack-to-applied delay; 0: skip.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def cli(n: int, partitions: int, repeats: int, only: tuple[str, ...], timeout_s: float, lifecycle: bool,
        ack_seconds: float, as_json: bool) -> None:
    """Raw aiokafka passthrough vs Faust forwarders on the embedded broker, side by side; the incident
    lifecycle beside the pipeline."""
    from benchmarks import lifecycle_row, pipeline_row
    from streams.settings import Settings

    contenders = [c for c in default_contenders()
                  if c.name == REFERENCE or not only or any(o in c.name for o in only)]
    roles = [role for role, name in pipeline_row.ROLES.items() if not only or any(o in name for o in only)]
    settings = load_settings()
    BoundaryRegistry(settings.data_dir).ensure_default()
    # The same simulated citizen reports for every row, so the pipeline can route them.
    messages = pipeline_row.intake_messages(n, settings)
    with embedded_broker(partitions) as bootstrap:
        rows = run_benchmark(contenders, messages, bootstrap, repeats=repeats, partitions=partitions,
                             timeout_s=timeout_s)
    lifecycle_rounds: list[lifecycle_row.LifecycleRound] = []
    pipeline_rates: list[float] = []

    def absorb(stack: Settings) -> None:  # the lifecycle row, on the broker the pipeline round just filled
        lifecycle_rounds.append(lifecycle_row.measure_lifecycle(stack, settings.data_dir, partitions, timeout_s))

    for role in roles:
        results = []
        then = absorb if role == "pipeline" and lifecycle else None
        label = pipeline_row.ROLES[role]
        with progress_printer({label: repeats}) as progress:
            for _ in tracked(range(repeats), label, progress):
                results.append(pipeline_row.measure_pipeline(messages, settings.data_dir, partitions, timeout_s,
                                                             role=role, then=then))
        rows.append(pipeline_row.pipeline_row(results, rows[0].rate))
        if role == "pipeline":
            pipeline_rates = [r.rate for r in results]
    ack = None
    if lifecycle and pipeline_rates and ack_seconds > 0:
        click.echo("ack-to-applied delay under routine traffic ...", err=True)
        ack = lifecycle_row.measure_ack_delay(0.8 * statistics.median(pipeline_rates), settings.data_dir, ack_seconds,
                                              partitions)
    if as_json:
        click.echo(json.dumps({"broker": "tansu", "partitions": partitions, "n": n, "repeats": repeats,
                               "rows": [dataclasses.asdict(r) for r in rows],
                               "lifecycle": [dataclasses.asdict(r) for r in lifecycle_rounds],
                               "pipeline_rates": pipeline_rates,
                               "ack_delay": None if ack is None else {**dataclasses.asdict(ack),
                                                                      "acks": ack.acks.to_json()}}))
    else:
        click.echo(report(rows, n, partitions, repeats))
        if lifecycle_rounds:
            click.echo("\n".join(lifecycle_row.lifecycle_report(pipeline_rates, lifecycle_rounds)))
        if ack is not None:
            click.echo(lifecycle_row.ack_delay_report(ack, statistics.median(pipeline_rates)))


def main(argv: Sequence[str] = ()) -> None:
    """Entry point for ``python -m benchmarks`` (no arguments) and ``python -m benchmarks.throughput``."""
    cli.main(args=list(argv), prog_name="python -m benchmarks.throughput", standalone_mode=False)


if __name__ == "__main__":
    main(sys.argv[1:])
