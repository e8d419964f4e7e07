"""Scale-out: events/s of the real pipeline with 1, 2 and 3 ``ioc worker`` processes on the embedded broker.

``python -m benchmarks scaleout`` (part of ``make bench``). For each worker count a fresh consumer
group of real worker subprocesses (same ``IOC_APP_ID``) is started and waited for until the group
has split the intake partitions (``ioc_assigned_partitions``). Each repeat then freezes the
workers (SIGSTOP, well under the session timeout), produces a burst of simulator messages into the
intake topics, thaws them (SIGCONT) and times how long the group takes to ingest the whole burst,
read from the workers' ``ioc_ingested_total``. The figure is the median over the repeats.

Honesty notes, printed with the numbers: this machine has 2 cores shared by the broker, Redis,
the workers and this process, so three workers cannot be three times one; and the embedded
Tansu broker is not Apache Kafka. Measure again on the target hardware with the same command.

:class:`Fleet` (workers of one group, their assignments, clean stops and restarts) is also what
``tests/scaleout`` drives.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from routers import topics
from streams import kafka_clients
from streams.embedded.process import ManagedProcess, free_port
from streams.process_memory import rss_bytes
from streams.scrape import Totals, scrape
from streams.settings import Settings, load_settings

WORKER_COUNTS = (1, 2, 3)
PARTITIONS = 6  # divisible by 1, 2 and 3: every worker count gets an even split
BURST_S = 4.0  # seconds of work per measured burst (sized from the warm-up burst)
REPEATS = 3


@dataclass
class Fleet:
    """Worker subprocesses of one consumer group on ``settings``' broker and Redis.

    ``fleet.start("w0", "w1")``, ``fleet.wait_balanced(["w0", "w1"], 60)``, ``fleet.stop("w1")``.
    Every worker's output goes to ``log_dir/<name>.log`` (appended across restarts)."""

    settings: Settings
    log_dir: Path
    app_id: str = field(default_factory=lambda: f"ioc-scale-{uuid.uuid4().hex[:8]}")
    log_level: str = "info"
    workers: dict[str, ManagedProcess] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "IOC_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap or "",
            "IOC_REDIS_URL": self.settings.redis_url or "",
            "IOC_DATA_DIR": str(self.settings.data_dir),
            "IOC_PARTITIONS": str(self.settings.partitions),
            "IOC_APP_ID": self.app_id,
            "IOC_LOG_LEVEL": self.log_level,
        })
        return env

    def start(self, *names: str) -> None:
        """Start workers one after the other, each waited for until its web port listens.

        From the calling thread on purpose: a child dies with the *thread* that started it
        (PR_SET_PDEATHSIG), so starting them from short-lived threads would stop them at once."""
        for name in names:
            port = free_port()
            argv = [sys.executable, "-m", "cli", "worker", "--web-port", str(port)]
            self.workers[name] = ManagedProcess(name, argv, port, self.log_path(name), ready_timeout_s=120,
                                                env=self.env())

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.workers[name].port}/metrics"

    def totals(self, names: Iterable[str] | None = None) -> Totals:
        return scrape([self.url(n) for n in (self.workers if names is None else names)])

    def assignment(self, name: str) -> dict[str, int]:
        """Intake partitions this worker holds now, by topic (from its ``ioc_assigned_partitions``)."""
        held = scrape([self.url(name)]).by_label("ioc_assigned_partitions", "topic")
        return {t: int(held.get(t, 0)) for t in topics.INTAKE}

    def balanced(self, names: Sequence[str]) -> dict[str, dict[str, int]] | None:
        """The assignments if ``names`` together hold every intake partition, evenly; else None."""
        table = {n: self.assignment(n) for n in names}
        share = self.settings.partitions // len(names)
        for topic in topics.INTAKE:
            if sum(table[n][topic] for n in names) != self.settings.partitions:
                return None
            if any(table[n][topic] < share for n in names):
                return None
        return table

    def wait_balanced(self, names: Sequence[str], timeout_s: float) -> tuple[float, dict[str, dict[str, int]]]:
        """Seconds until ``names`` hold an even split of every intake topic, and that split."""
        started = time.monotonic()
        last: dict[str, dict[str, int]] = {}
        while time.monotonic() - started < timeout_s:
            try:
                table = self.balanced(names)
            except OSError:
                table = None
            if table is not None:
                return time.monotonic() - started, table
            last = {n: self.assignment(n) for n in names if self.workers[n].running()}
            time.sleep(0.25)
        raise TimeoutError(f"workers {list(names)} did not split the intake partitions within {timeout_s:.0f} s; "
                           f"last seen {last}; logs in {self.log_dir}")

    def stop(self, name: str, timeout_s: float = 30.0) -> tuple[int | None, float]:
        """SIGTERM one worker and wait for it: (exit code, seconds it took)."""
        worker = self.workers.pop(name)
        started = time.monotonic()
        worker.stop(timeout_s=timeout_s)
        return worker.process.returncode, time.monotonic() - started

    def signal_all(self, signum: int) -> None:
        for worker in self.workers.values():
            os.kill(worker.pid, signum)

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each worker (VmRSS from /proc)."""
        out: dict[str, float] = {}
        for name, worker in self.workers.items():
            out[name] = rss_bytes(worker.pid) / 2**20
        return out

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by the running workers, from /proc/<pid>/stat."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for worker in self.workers.values():
            fields_after_name = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields_after_name[11]) + int(fields_after_name[12])) / ticks  # utime, stime
        return total

    def stop_all(self) -> None:
        for name in list(self.workers):
            self.stop(name)


def prepare_topics(settings: Settings, province: str | None = "79") -> list[str]:
    """Intake/output topics and the ward topics of ``province`` (None: every ward of the active
    generation; 3,321 topics take 15-40 s to create on Tansu); returns the ward codes."""
    from routers.boundaries.registry import BoundaryRegistry
    from streams.admin import create_topics

    generation = BoundaryRegistry(settings.data_dir).load_active()
    wards = generation.wards if province is None else generation.wards_in_province(province)
    codes = [w.code for w in wards]
    create_topics(settings, codes)
    return codes


def burst_messages(settings: Settings, count: int, seed: int) -> list[tuple[str, bytes | None, bytes]]:
    """``count`` simulator messages (HCMC, rainstorm: reports, camera and sensor readings, some malformed)
    as (topic, key, value); their devices are registered in Redis."""
    from streams.simulator.run import build_scenario, register_scenario_devices

    sim = build_scenario(settings, "hcmc", "rainstorm", seed)
    register_scenario_devices(settings, sim)
    out: list[tuple[str, bytes | None, bytes]] = []
    for _ in range(count):
        message = sim.next_message()
        out.append((message.topic, message.key, message.value))
    return out


def send_all(settings: Settings, messages: Sequence[tuple[str, bytes | None, bytes]]) -> float:
    """Produce and wait for every ack; return the seconds it took."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**kafka_clients.kafka_python(settings, linger_ms=10, acks=1, batch_size=256 * 1024,
                                                          max_request_size=2 * 1024 * 1024, client_id="ioc-bench"))
    started = time.monotonic()
    try:
        for topic, key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()
    return time.monotonic() - started


def ingested(fleet: Fleet) -> float:
    return fleet.totals().total("ioc_ingested_total")


@dataclass(frozen=True)
class Burst:
    events: int
    seconds: float
    worker_cpu_s: float  # CPU (user + system) all workers used between thaw and the last event ingested

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.events / self.worker_cpu_s if self.worker_cpu_s > 0 else float("nan")


def time_burst(fleet: Fleet, messages: Sequence[tuple[str, bytes | None, bytes]], timeout_s: float = 120.0) -> Burst:
    """Freeze the group, produce ``messages``, thaw it; time until all of them are ingested."""
    before = ingested(fleet)
    fleet.signal_all(signal.SIGSTOP)
    try:
        send_all(fleet.settings, messages)
        cpu_before = fleet.cpu_seconds()
    finally:
        fleet.signal_all(signal.SIGCONT)
    started = time.monotonic()
    target = before + len(messages)
    while time.monotonic() - started < timeout_s:
        if ingested(fleet) >= target:
            return Burst(len(messages), time.monotonic() - started, fleet.cpu_seconds() - cpu_before)
        time.sleep(0.05)
    raise TimeoutError(f"{len(fleet.workers)} worker(s) ingested {ingested(fleet) - before:.0f} of {len(messages)} "
                       f"within {timeout_s:.0f} s")


@dataclass(frozen=True)
class Row:
    workers: int
    bursts: tuple[Burst, ...]
    rss_mib: tuple[float, ...]
    balanced_after_s: float

    @property
    def median(self) -> float:
        return statistics.median(b.rate for b in self.bursts)

    @property
    def per_cpu_second(self) -> float:
        return statistics.median(b.per_cpu_second for b in self.bursts)


def burst_size(rate: float, seconds: float, low: int = 300, high: int = 6000) -> int:
    """Events for a burst of about ``seconds`` at ``rate``: long enough to dwarf the 50 ms polling."""
    return int(min(max(rate * seconds, low), high))


def measure(settings: Settings, log_dir: Path, counts: Sequence[int] = WORKER_COUNTS, burst_s: float = BURST_S,
            repeats: int = REPEATS, say: Callable[[str], None] = print) -> list[Row]:
    pool = burst_messages(settings, 6000 * (repeats + 1), seed=7)
    rows = []
    size = 0
    for n in counts:
        fleet = Fleet(settings, log_dir / f"{n}-workers", log_level="warn")
        names = [f"w{i}" for i in range(n)]
        try:
            fleet.start(*names)
            balanced_s, _table = fleet.wait_balanced(names, timeout_s=120)
            # warm-up (device cache, rules, first fetches), not counted; it also sizes the bursts
            warm = time_burst(fleet, pool[:300])
            size = max(size, burst_size(warm.rate * 1.5, burst_s))  # one size for every count: comparable bursts
            bursts = tuple(time_burst(fleet, pool[300 + r * size: 300 + (r + 1) * size]) for r in range(repeats))
            rss = tuple(fleet.rss_mib().values())
        finally:
            fleet.stop_all()
        row = Row(n, bursts, rss, balanced_s)
        say(f"  {n} worker(s): {row.median:7.0f} events/s (repeats {', '.join(f'{b.rate:.0f}' for b in bursts)}; "
            f"bursts of {size}); {row.per_cpu_second:.0f} events per worker CPU-second; "
            f"RSS {max(rss):.0f} MiB per worker; partitions split {balanced_s:.1f} s after start")
        rows.append(row)
    return rows


def main() -> None:
    from routers.boundaries.registry import BoundaryRegistry
    from streams.embedded.stack import EmbeddedStack

    data_dir = load_settings().data_dir
    BoundaryRegistry(data_dir).ensure_default()  # built once (~10 s): the approximate nationwide generation
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"scale-out: real `ioc worker` processes on the embedded Tansu broker, {PARTITIONS} partitions per intake "
          f"topic, HCMC rainstorm simulator mix, bursts of ~{BURST_S:g} s, median of {REPEATS}.\n"
          f"this machine: {cores} cores shared by broker, Redis, workers and producer; load average {load:.1f} at start",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="ioc-scaleout-") as tmp:
        run_dir = Path(tmp)
        with EmbeddedStack(Settings(data_dir=data_dir, partitions=PARTITIONS), run_dir=run_dir) as stack:
            settings = dataclasses.replace(stack.settings, data_dir=data_dir)
            wards = prepare_topics(settings)
            print(f"  topics: intake/outputs + {len(wards)} HCMC ward topics", flush=True)
            rows = measure(settings, run_dir / "logs", say=lambda line: print(line, flush=True))
    one = rows[0].median
    print("\n| workers | events/s (median) | vs 1 worker | events per worker CPU-second | RSS per worker |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.workers} | {row.median:.0f} | {row.median / one:.2f}x | {row.per_cpu_second:.0f} | "
              f"{max(row.rss_mib):.0f} MiB |")
    print(f"\n{cores} CPUs for everything (load average now {os.getloadavg()[0]:.1f}): past {cores} workers the "
          "cores, not the partitions, bound the total. 'events per worker CPU-second' is the contention-free "
          "capacity of one worker on one core; capacity planning uses it.")


if __name__ == "__main__":
    main()
