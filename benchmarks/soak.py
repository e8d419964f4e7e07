"""Soak: the design rate for minutes, with a slow-Redis episode in the middle; worker memory at the
start and the end says whether anything grows without bound.

    python -m benchmarks.soak                          # 5 minutes at 200 events/s, 2 workers
    python -m benchmarks.soak --minutes 1 --json       # a short one, one JSON object on stdout
    python -m benchmarks.soak --trace-memory 30 --trace-frames 0   # + lifecycle table sizes over time

While Redis is frozen (SIGSTOP, ``--redis-freeze`` seconds) every Redis call of the intake agent
times out and is retried (streams/redis_retry.py), so the agent stops taking batches: Faust's
stream buffer fills to ``stream_buffer_maxsize`` and the consumer pauses fetching, the intake lag
grows, and worker memory must stay flat. When Redis is back the lag drains. The report gives
each worker's RSS (resident memory, from /proc) after warm-up, at the end and at its peak, the
peak intake lag, and the conservation verdict of everything produced.

The lifecycle's state is bounded by time (incidents closed an hour ago and redelivery marks older
than an hour are forgotten; ``routers/incidents/book.py``), so the soak must reach that steady
state to say whether memory plateaus: a ward-system responder (:mod:`benchmarks.responder`)
acknowledges, resolves and closes incidents through ``ioc.status``, and the workers' lifecycle
clock (the ``IOC_CLOCK_OFFSET_FILE`` testing aid, which only the lifecycle reads) runs
``--clock-speed`` times faster than the wall clock, so an hour of retention passes in a minute at
the default 60. The event rate stays the wall-clock design rate: the plateau the soak reaches holds
an hour of *worker* time, i.e. 1/60 of the events an hour holds in operation (see
docs/reliability.md for the extrapolation).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
import orjson

from benchmarks.chaos import OutcomeReader, diagnose
from benchmarks.producer_process import ProducerProcess
from benchmarks.responder import WardResponder
from cli.progress import progress_printer
from streams.admin import create_topics
from streams.conservation import verdict
from streams.embedded.process import ManagedProcess, free_port
from streams.embedded.stack import EmbeddedStack
from streams.lifecycle.clock import clock_for
from streams.process_memory import rss_bytes
from streams.scrape import scrape
from streams.settings import Settings, load_settings

WARMUP_S = 20.0  # RSS is taken as "start" once the workers have routed for this long
SAMPLE_EVERY_S = 5.0


def rss_mb(pid: int) -> float | None:
    """Resident MiB of ``pid``; None when it is gone."""
    return rss_bytes(pid) / 2**20 or None


@dataclass
class WorkerMemory:
    name: str
    start_mb: float = 0.0
    end_mb: float = 0.0
    peak_mb: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"worker": self.name, "rss_start_mb": round(self.start_mb, 1), "rss_end_mb": round(self.end_mb, 1),
                "rss_peak_mb": round(self.peak_mb, 1),
                "growth_pct": round(100 * (self.end_mb - self.start_mb) / self.start_mb, 1) if self.start_mb else None}


@dataclass
class SoakResult:
    minutes: float
    rate: float
    produced: int = 0
    produced_per_s: float = 0.0  # what the producer achieved: below ``rate``, the soak measured less than asked
    lost: int = 0
    duplicated: int = 0
    peak_lag: int = 0
    lag_after_freeze_drained_s: float | None = None
    memory: list[WorkerMemory] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)  # t, total rss, lag
    elapsed_s: float = 0.0
    diagnosis: list[str] = field(default_factory=list)  # for lost messages (see benchmarks.chaos.diagnose)
    clock_speed: float = 1.0
    responder: dict[str, object] | None = None
    lifecycle: dict[str, float | None] = field(default_factory=dict)  # worker counters at the end, summed
    memtrace: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # worker -> samples

    def to_json(self) -> dict[str, object]:
        return {"minutes": self.minutes, "rate": self.rate, "produced": self.produced,
                "produced_per_s": self.produced_per_s, "lost": self.lost,
                "duplicated": self.duplicated, "peak_intake_lag": self.peak_lag,
                "lag_drained_after_freeze_s": self.lag_after_freeze_drained_s,
                "workers": [m.to_json() for m in self.memory], "samples": self.samples,
                "elapsed_s": round(self.elapsed_s, 1), "diagnosis": self.diagnosis, "clock_speed": self.clock_speed,
                "responder": self.responder, "lifecycle": self.lifecycle, "memtrace": self.memtrace,
                "last_window": flatness(self),
                "acceptance": {c.key: c.to_json() for c in acceptance(self)}}


def worker_command(port: int, trace_dir: Path | None, trace_every_s: float, trace_frames: int,
                   census: bool = False, collect: bool = False) -> list[str]:
    """``ioc worker``, under :mod:`benchmarks.memtrace` when memory is traced."""
    worker = ["worker", "--web-port", str(port)]
    if trace_dir is None:
        return [sys.executable, "-m", "cli", *worker]
    return [sys.executable, "-m", "benchmarks.memtrace", "--every", f"{trace_every_s:g}", "--warmup", f"{WARMUP_S:g}",
            "--frames", str(trace_frames), *(["--census"] if census else []), *(["--collect"] if collect else []),
            "--out", str(trace_dir), "--", *worker]


class FastClock:
    """Runs the workers' lifecycle clock ``speed`` times faster than the wall clock, by rewriting
    the offset file they read (``IOC_CLOCK_OFFSET_FILE``) every ``step_s``."""

    def __init__(self, path: Path, speed: float, step_s: float = 0.5) -> None:
        self.path, self.speed, self.step_s = path, speed, step_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-clock", daemon=True)
        self._write(0.0)

    def _write(self, offset_s: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{offset_s}\n")
        os.replace(tmp, self.path)  # atomic: a worker never reads half a number

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.step_s):
            self._write((time.monotonic() - self._started) * (self.speed - 1.0))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LifecycleBacklog:
    """Messages on the lifecycle's inputs (``ioc.routed``, ``ioc.status``, its commands topic) that
    the app's consumer group has not committed: whether the lifecycle keeps up (the intake lag in
    the samples says nothing about it). Tansu answers ListOffsets with the last batch's base offset
    + 1, so a reading can be short by up to one batch per partition."""

    def __init__(self, settings: Settings, group: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        from routers import topics
        from streams import kafka_clients

        # group_id only to fetch its committed offsets: this consumer never subscribes, so it never
        # joins the group nor commits
        self.consumer = KafkaConsumer(**kafka_clients.kafka_python(settings, group_id=group, enable_auto_commit=False,
                                                                   client_id="ioc-soak-backlog"))
        names = (topics.ROUTED, topics.STATUS, f"{group}-lifecycle-commands")
        self.partitions = [TopicPartition(name, p) for name in names
                           for p in sorted(self.consumer.partitions_for_topic(name) or ())]

    def read(self) -> int | None:
        try:
            ends = self.consumer.end_offsets(self.partitions)
            committed = {tp: self.consumer.committed(tp) or 0 for tp in self.partitions}
        except Exception:  # a reading is informative only; the soak goes on
            return None
        return sum(max(end - committed[tp], 0) for tp, end in ends.items())

    def close(self) -> None:
        self.consumer.close()


def read_memtrace(log: Path) -> list[dict[str, float]]:
    """The RSS and structure sizes of each report in a :mod:`benchmarks.memtrace` log."""
    samples: list[dict[str, float]] = []
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return samples
    for line in lines:
        if line.startswith("=== t="):
            t, rss = line[len("=== t="):].split(" rss=")
            samples.append({"t": float(t.rstrip("s")), "rss_mb": float(rss.rstrip("MB"))})
        elif line.startswith("size ") and samples:
            name, value = line[len("size "):].split(" = ")
            samples[-1][name] = float(value)
    return samples


def run_soak(minutes: float, rate: float, workers: int, redis_freeze_s: float, data_dir: Path,
             trace_every_s: float = 0.0, trace_frames: int = 6, role: str = "all", clock_speed: float = 60.0,
             respond: bool = True, unattended: float = 0.02, reassigned: float = 0.03,
             trace_census: bool = False, trace_collect: bool = False) -> SoakResult:
    from routers.boundaries.registry import BoundaryRegistry
    from streams.simulator.run import build_scenario, register_scenario_devices

    def tell(line: str) -> None:
        click.echo(line, err=True)

    result = SoakResult(minutes, rate, clock_speed=clock_speed)
    duration = minutes * 60.0
    started_wall = time.monotonic()
    stack = EmbeddedStack(Settings(data_dir=data_dir, partitions=4)).start()
    procs: list[ManagedProcess] = []
    urls: list[str] = []
    reader: OutcomeReader | None = None
    responder: WardResponder | None = None
    fast_clock: FastClock | None = None
    backlog: LifecycleBacklog | None = None
    producer: ProducerProcess | None = None
    try:
        settings = dataclasses.replace(stack.settings, data_dir=data_dir)
        registry = BoundaryRegistry(data_dir)
        registry.ensure_default()
        wards = registry.load_active().wards
        create_topics(settings, [w.code for w in wards], status_codes=[w.code for w in wards if w.province_code == "79"])
        register_scenario_devices(settings, build_scenario(settings, "hcmc", "normal", seed=3))
        app_id = f"ioc-soak-{uuid.uuid4().hex[:8]}"
        clock_file = stack.run_dir / "lifecycle-clock-offset"
        fast_clock = FastClock(clock_file, clock_speed)
        env = dict(os.environ, IOC_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "", IOC_REDIS_URL=settings.redis_url or "",
                   IOC_DATA_DIR=str(data_dir), IOC_PARTITIONS="4", IOC_APP_ID=app_id, IOC_WORKER_ROLE=role,
                   IOC_CLOCK_OFFSET_FILE=str(clock_file))
        for n in range(workers):
            port = free_port()
            trace_dir = stack.run_dir / f"memtrace-{n}" if trace_every_s > 0 else None
            procs.append(ManagedProcess(f"worker-{n}", worker_command(port, trace_dir, trace_every_s, trace_frames, trace_census,
                                                                        trace_collect), port,
                                        stack.run_dir / f"worker-{n}.log", ready_timeout_s=120.0, env=env))
            urls.append(f"http://127.0.0.1:{port}/metrics")
        result.memory = [WorkerMemory(p.name) for p in procs]
        reader = OutcomeReader(settings.kafka_bootstrap or "")
        reader.start()
        if respond and role == "all":
            responder = WardResponder(settings, clock_for(clock_file), unattended, reassigned)
            responder.start()
        if role == "all":
            backlog = LifecycleBacklog(settings, app_id)
        # the same scenario and seed as the devices registered above, in a process of its own
        producer = ProducerProcess(settings, rate, duration, stack.run_dir / "origins")
        t0 = time.monotonic()
        fast_clock.start()
        producer.start()
        tell(f"soak: {workers} workers ({role}), {rate:g} events/s for {minutes:g} min, lifecycle clock x{clock_speed:g}"
             f"{', ward responder on' if responder else ''}; logs in {stack.run_dir}")
        freeze_at = duration / 2 if redis_freeze_s > 0 else None
        frozen_until: float | None = None
        thawed_at: float | None = None
        with progress_printer({"soak": int(duration)}) as progress:
            shown = 0
            while producer.is_alive():
                now = time.monotonic() - t0
                if freeze_at is not None and now >= freeze_at and frozen_until is None:
                    assert stack.redis is not None
                    stack.redis.pause()
                    frozen_until = now + redis_freeze_s
                    tell(f"soak: Redis frozen (SIGSTOP) at {now:.0f}s for {redis_freeze_s:g}s")
                if frozen_until is not None and thawed_at is None and now >= frozen_until:
                    assert stack.redis is not None
                    stack.redis.resume()
                    thawed_at = now
                    tell(f"soak: Redis thawed at {now:.0f}s")
                _sample(result, procs, urls, now, backlog)
                if thawed_at is not None and result.lag_after_freeze_drained_s is None and result.samples[-1]["lag"] == 0:
                    result.lag_after_freeze_drained_s = round(now - thawed_at, 1)
                progress("soak", int(min(now, duration)) - shown)
                shown = int(min(now, duration))
                time.sleep(SAMPLE_EVERY_S)
        if frozen_until is not None and thawed_at is None and stack.redis is not None:
            stack.redis.resume()
        # drain, then the final memory reading
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if reader.missing(producer.origins()) == 0:
                break
            time.sleep(1.0)
        if responder is not None:  # acknowledgements sent at the very end: give them the drain's time
            responder.hold()
            deadline = time.monotonic() + 60
            while responder.unapplied_acks() and time.monotonic() < deadline:
                time.sleep(1.0)
        _sample(result, procs, urls, time.monotonic() - t0, backlog)
        for memory, proc in zip(result.memory, procs, strict=True):
            memory.end_mb = rss_mb(proc.pid) or 0.0
        totals = scrape(urls)
        result.lifecycle = {
            "status_applied": totals.total("ioc_status_updates_total"),
            "status_deadlettered": totals.total("ioc_deadletter_total", source="status"),
            "escalations": totals.total("ioc_escalations_total"),
            "open_incidents_gauge": totals.total("ioc_open_incidents"),
            "backlog_at_end": result.samples[-1].get("lifecycle_backlog"),
        }
        for labels, value in totals.samples.get("ioc_deadletter_total", {}).items():
            named = dict(labels)
            if named.get("source") == "status":
                result.lifecycle[f"status_deadlettered.{named.get('reason')}"] = value
        final = list(producer.origins())
        if producer.exitcode not in (0, None):
            result.diagnosis.append(f"the producer process exited with {producer.exitcode}")
        result.produced = len(final)
        result.produced_per_s = producer.achieved_rate() or 0.0
        v = verdict(final, reader.ledger)
        result.lost, result.duplicated = v.lost, v.duplicated
        if v.lost:
            lost = [o for o in final if not reader.ledger.places.get(o)]
            try:
                result.diagnosis = diagnose(settings.kafka_bootstrap or "", app_id, lost[:20])
            except Exception as exc:  # the report (memory, lag) matters more than the diagnosis
                result.diagnosis = [f"diagnosis failed: {type(exc).__name__}: {exc}"]
    finally:
        result.elapsed_s = time.monotonic() - started_wall
        if producer is not None:
            producer.stop()
        if responder is not None:
            responder.stop()
            result.responder = responder.stats.to_json()
            if responder.error is not None:
                result.responder["error"] = f"{type(responder.error).__name__}: {responder.error}"
        if fast_clock is not None:
            fast_clock.stop()
        if backlog is not None:
            backlog.close()
        if reader is not None:
            reader.stop()
        for proc in procs:
            proc.stop(timeout_s=20.0)
        if trace_every_s > 0:
            result.memtrace = {f"worker-{n}": read_memtrace(stack.run_dir / f"memtrace-{n}" / "memtrace.log")
                               for n in range(len(procs))}
        stack.stop()
    return result


def _sample(result: SoakResult, procs: list[ManagedProcess], urls: list[str], t: float,
            backlog: LifecycleBacklog | None = None) -> None:
    total = 0.0
    per_worker: dict[str, float] = {}
    for memory, proc in zip(result.memory, procs, strict=True):
        rss = rss_mb(proc.pid) or 0.0
        per_worker[f"rss_mb.{memory.name}"] = round(rss, 1)
        total += rss
        memory.peak_mb = max(memory.peak_mb, rss)
        if t >= WARMUP_S and memory.start_mb == 0.0:
            memory.start_mb = rss
    lag = int(scrape(urls).total("ioc_consumer_lag_messages"))
    result.peak_lag = max(result.peak_lag, lag)
    sample: dict[str, float] = {"t": round(t, 1), "rss_mb": round(total, 1), "lag": lag, **per_worker}
    behind = backlog.read() if backlog is not None else None
    if behind is not None:
        sample["lifecycle_backlog"] = behind
    result.samples.append(sample)


def slope_per_min(samples: list[dict[str, float]], name: str, window_s: float) -> float | None:
    """Least-squares slope of ``name`` per minute over the last ``window_s`` of the samples."""
    if not samples:
        return None
    end = samples[-1]["t"]
    points = [(s["t"], s[name]) for s in samples if name in s and s["t"] >= end - window_s]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else None


def flatness(result: SoakResult, window_s: float = 300.0) -> dict[str, object]:
    """The last ``window_s`` (at most the second half of the run): backlog and RSS slopes, range."""
    if not result.samples:
        return {}
    window = min(window_s, result.samples[-1]["t"] / 2)
    end = result.samples[-1]["t"]
    last = [s for s in result.samples if s["t"] >= end - window]
    out: dict[str, object] = {"window_s": round(window)}
    for name in ("lifecycle_backlog", *(f"rss_mb.{m.name}" for m in result.memory)):
        values = [s[name] for s in last if name in s]
        if values:
            out[name] = {"first": values[0], "last": values[-1], "max": max(values),
                         "slope_per_min": round(slope_per_min(result.samples, name, window) or 0.0, 2)}
    return out


# Issue 20's acceptance, item by item. "Flat" needs a tolerance: the backlog reading is short by up
# to one batch per partition and the lifecycle takes inputs in batches, so a healthy backlog wobbles
# by hundreds; a lifecycle that falls behind gains tens of thousands a minute at 1,000/s. Flat is a
# growth over the window of at most a second of traffic. RSS wobbles by a few MB as the heap and
# Faust's buffers breathe; 1 MB/min over the last 5 minutes is the growth we call flat.
RATE_SHARE = 0.97  # the producer reached the asked rate (a 2-core machine's scheduling costs a few %)
BACKLOG_GROWTH_S = 1.0
RSS_SLOPE_MB_PER_MIN = 1.0
RSS_LIMIT_MB = 400.0


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    passed: bool | None  # None: not measured in this soak (no responder, pipeline role)
    detail: str

    @property
    def verdict(self) -> str:
        return "N/A" if self.passed is None else "PASS" if self.passed else "FAIL"

    def to_json(self) -> dict[str, object]:
        return {"pass": self.passed, "detail": self.detail}


def _rejections(responder: Mapping[str, object]) -> str:
    """The responder's updates the worker dead-lettered, by reason, with the first examples."""
    rejected = responder.get("rejected")
    if not rejected:
        return ""
    examples = "; ".join(str(e) for e in responder.get("rejected_examples") or ())  # type: ignore[attr-defined]
    return f"; the worker rejected {rejected} (e.g. {examples})"


def acceptance(result: SoakResult) -> list[Check]:
    """Every acceptance item of issue 20 the soak measures, with its numbers."""
    window = flatness(result)
    span_min = float(window.get("window_s", 0) or 0) / 60  # type: ignore[arg-type]
    checks = [Check("rate", result.produced_per_s >= RATE_SHARE * result.rate,
                    f"produced {result.produced_per_s:.0f}/s of {result.rate:g}/s asked "
                    f"(at least {100 * RATE_SHARE:.0f} %)")]
    backlog = window.get("lifecycle_backlog")
    if isinstance(backlog, dict):
        growth = float(backlog["slope_per_min"]) * span_min
        allowed = BACKLOG_GROWTH_S * result.rate
        checks.append(Check("backlog_flat", growth <= allowed,
                            f"lifecycle backlog over the last {span_min * 60:.0f} s: {backlog['first']:.0f} -> "
                            f"{backlog['last']:.0f} (max {backlog['max']:.0f}), slope {backlog['slope_per_min']:+.0f}/min, "
                            f"growth {growth:+.0f} (at most {allowed:.0f}: {BACKLOG_GROWTH_S:g} s of traffic)"))
    else:
        checks.append(Check("backlog_flat", None, "no lifecycle backlog readings (pipeline role)"))
    responder = result.responder
    if responder is None:
        checks.append(Check("acks_applied", None, "no ward responder"))
        checks.append(Check("no_escalation_after_ack", None, "no ward responder"))
    else:
        sent = dict(responder.get("sent") or {}).get("acknowledged", 0)  # type: ignore[call-overload]
        unapplied, error = responder.get("acks_unapplied"), responder.get("error")
        checks.append(Check("acks_applied", bool(sent) and unapplied == 0 and error is None,
                            f"{responder.get('acks_applied')} of {sent} acknowledgements applied, {unapplied} not by the "
                            f"end; delay p50 {responder.get('ack_delay_p50_s')} s, p99 {responder.get('ack_delay_p99_s')} s, "
                            f"max {responder.get('ack_delay_max_s')} s; the responder left {responder.get('unread_at_end')} "
                            f"incident/escalation messages unread, saw {responder.get('out_of_order_states')} states "
                            f"out of version order" + (f"; responder failed: {error}" if error else "")
                            + _rejections(responder)))
        checks.append(Check("no_escalation_after_ack", responder.get("escalated_after_ack") == 0 and error is None,
                            f"{responder.get('escalated_after_ack')} ack escalations of incidents whose acknowledgement was "
                            f"on the broker before the deadline; {responder.get('ack_escalations_seen')} ack escalations "
                            f"in all"))
    for memory in result.memory:
        rss = window.get(f"rss_mb.{memory.name}")
        if isinstance(rss, dict):
            checks.append(Check(f"rss_flat.{memory.name}", float(rss["slope_per_min"]) <= RSS_SLOPE_MB_PER_MIN,
                                f"RSS over the last {span_min * 60:.0f} s: {rss['first']:.0f} -> {rss['last']:.0f} MB, "
                                f"slope {rss['slope_per_min']:+.2f} MB/min (at most {RSS_SLOPE_MB_PER_MIN:g})"))
        checks.append(Check(f"rss_limit.{memory.name}", 0 < memory.peak_mb <= RSS_LIMIT_MB,
                            f"RSS peak {memory.peak_mb:.0f} MB (at most {RSS_LIMIT_MB:g}), end {memory.end_mb:.0f} MB"))
    checks.append(Check("conservation", result.lost == 0 and result.duplicated == 0 and result.produced > 0,
                        f"lost={result.lost} duplicated={result.duplicated} of {result.produced}"))
    return checks


@click.command()
@click.option("--minutes", type=click.FloatRange(min=0.2), default=5.0, show_default=True)
@click.option("--rate", type=click.FloatRange(min=1), default=200.0, show_default=True, help="Events per second.")
@click.option("--workers", type=click.IntRange(1, 4), default=2, show_default=True)
@click.option("--redis-freeze", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds Redis is frozen (SIGSTOP) halfway through; 0: none.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--trace-memory", "trace_every", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Run the workers under tracemalloc, a report every this many seconds in "
                   "<run dir>/memtrace-<n>/memtrace.log (benchmarks.memtrace); 0: off.")
@click.option("--trace-frames", type=click.IntRange(0, 50), default=6, show_default=True,
              help="tracemalloc traceback depth with --trace-memory; 0: only RSS and structure sizes.")
@click.option("--trace-census", is_flag=True,
              help="With --trace-memory: also count the workers' objects by type and list their largest containers.")
@click.option("--trace-collect", is_flag=True,
              help="With --trace-memory: also run a full collection in the workers at each report and log what it "
                   "freed (an experiment: it changes the workers measured).")
@click.option("--role", type=click.Choice(["all", "pipeline"]), default="all", show_default=True,
              help="The workers' role: 'pipeline' leaves the incident lifecycle (and its tables) out.")
@click.option("--clock-speed", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="How many times faster than the wall clock the workers' lifecycle clock runs (SLAs, "
                   "retention); 60: an hour of retention passes in a minute. 1: real time.")
@click.option("--responder/--no-responder", "respond", default=True, show_default=True,
              help="A ward-system stand-in acknowledges, resolves and closes incidents via ioc.status.")
@click.option("--unattended", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="Share of incidents the responder never answers (they stay open and escalate).")
@click.option("--reassigned", type=click.FloatRange(0, 1), default=0.03, show_default=True,
              help="Share of incidents the responder hands to another ward.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(minutes: float, rate: float, workers: int, redis_freeze: float, data_dir: Path | None, trace_every: float,
         trace_frames: int, trace_census: bool, trace_collect: bool, role: str, clock_speed: float, respond: bool,
         unattended: float, reassigned: float, as_json: bool) -> None:
    """Soak at the design rate; reports worker RSS at start and end, peak lag and conservation."""
    if unattended + reassigned > 1:
        raise click.BadParameter("--unattended plus --reassigned is more than 1", param_hint="--reassigned")
    result = run_soak(minutes, rate, workers, redis_freeze, data_dir or load_settings().data_dir, trace_every,
                      trace_frames, role, clock_speed, respond, unattended, reassigned, trace_census, trace_collect)
    if as_json:
        click.echo(orjson.dumps(result.to_json()).decode())
    else:
        click.echo(f"soak {minutes:g} min at {rate:g}/s: produced={result.produced} ({result.produced_per_s:g}/s) "
                   f"lost={result.lost} "
                   f"duplicated={result.duplicated} peak intake lag={result.peak_lag}"
                   + (f", drained {result.lag_after_freeze_drained_s}s after Redis came back"
                      if result.lag_after_freeze_drained_s is not None else ""))
        for m in result.memory:
            j = m.to_json()
            click.echo(f"{m.name}: RSS start {j['rss_start_mb']} MB, end {j['rss_end_mb']} MB, "
                       f"peak {j['rss_peak_mb']} MB ({j['growth_pct']}%)")
        if result.responder is not None:
            click.echo(f"responder: {orjson.dumps(result.responder).decode()}")
        if result.lifecycle:
            click.echo(f"lifecycle (worker counters): {orjson.dumps(result.lifecycle).decode()}")
        click.echo(f"last window: {orjson.dumps(flatness(result)).decode()}")
        for worker, samples in result.memtrace.items():
            for sample in samples:
                click.echo(f"{worker} t={sample['t']:.0f}s " + " ".join(
                    f"{name.removeprefix('lifecycle.')}={value:g}" for name, value in sample.items() if name != "t"))
        for line in result.diagnosis:
            click.echo(f"diagnosis: {line}")
        checks = acceptance(result)
        click.echo(f"acceptance (issue 20): {sum(1 for c in checks if c.passed)} of "
                   f"{sum(1 for c in checks if c.passed is not None)} PASS")
        for check in checks:
            click.echo(f"  {check.verdict:4} {check.key}: {check.detail}")
    sys.exit(0 if result.lost == 0 else 1)


if __name__ == "__main__":
    main()
