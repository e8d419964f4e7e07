"""The incident lifecycle beside the pipeline, in the same run: sustained throughput, and how long a
ward's acknowledgement takes to show on its incident while routine traffic flows.

Two measurements (``benchmarks.throughput`` runs them; ``make bench`` prints them):

* **throughput** (:func:`measure_lifecycle`), per round, on the broker the pipeline round just
  filled: ``ioc.routed`` holds the pipeline's lifecycle copy of every routed report. A real
  ``ioc worker --role lifecycle`` (fresh app id, so its consumer group starts at the beginning)
  absorbs that backlog while a ward stand-in (:class:`Acknowledger`) acknowledges every incident it
  sees opened on ``ioc.incidents``. The rate is read from the worker's own counter of inputs taken
  (``ioc_lifecycle_inputs_total``: routed events plus ward updates), sampled every second, as the
  median of 10 per-interval rates like every other row: the lifecycle coalesces its outputs per
  batch, so counting output messages would not count inputs. Its ratio to the pipeline's rate of
  the same round is the acceptance figure (>= 0.9x on one worker). The acknowledgements' delays
  during this run are the worst case: the lifecycle is saturated by a backlog.
* **acknowledgement delay under routine load** (:func:`measure_ack_delay`): a fresh stack, an
  ``ioc worker --role pipeline`` and an ``ioc worker --role lifecycle`` (the two stages scale apart,
  as docs/deploy.md plans them), the city simulator's mixed traffic (reports, cameras, gauges) at 80 % of
  the pipeline's measured rate, and the :class:`Acknowledger`: the delay from the acknowledgement
  being on ``ioc.status`` (the broker acknowledged it) to the incident's state on ``ioc.incidents``
  showing ``acknowledged``; p50 and p99.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks._broker import Drained, embedded_settings
from benchmarks.producer_process import ProducerProcess
from benchmarks.results import process_cpu_seconds, rates_of
from routers import topics
from routers.boundaries.registry import BoundaryRegistry
from streams.admin import create_topics
from streams.embedded.process import ManagedProcess, free_port
from streams.lifecycle.serving import IndexKeys
from streams.scrape import scrape
from streams.settings import Settings
from streams.simulator.places import CITIES

LIFECYCLE_NAME = "incident lifecycle (ioc worker --role lifecycle)"
INPUT_KINDS = ("routed", "update", "skipped", "malformed")
# How often the ward stand-in looks for incidents to acknowledge and for its acknowledgements
# applied. It runs on the worker's machine, which a ward system would not: polling every 20 ms, it
# read and decoded each waiting incident's document 50 times a second (8-10 % of a core, and
# Valkey's time to answer; docs/performance.md, session 17). A delay it measures is late by at most
# this much, never early.
POLL_S = 0.1
_ACK_UNSET = b'"acknowledged_at":null'  # in the index's compact JSON (orjson) until acknowledged


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


@dataclass
class AckStats:
    sent: int = 0
    applied: int = 0
    delays_s: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        p50, p99 = percentile(self.delays_s, 0.5), percentile(self.delays_s, 0.99)
        return {"sent": self.sent, "applied": self.applied, "p50_s": None if p50 is None else round(p50, 3),
                "p99_s": None if p99 is None else round(p99, 3),
                "max_s": round(max(self.delays_s), 3) if self.delays_s else None}


class Acknowledger:
    """A ward system stand-in: acknowledges incidents still ``routed`` (at most ``max_per_s`` a second)
    and times each acknowledgement from the broker's ack of the update on ``ioc.status`` to the
    incident showing ``acknowledged`` in the Redis serving index (what ``/api/incidents/<id>``, the
    dashboard and ``ioc incidents show`` read). It finds incidents in the index too: reading
    ``ioc.incidents`` (whole incidents, thousands a second) would make it lag behind the worker."""

    def __init__(self, bootstrap: str, redis_url: str, app_id: str, max_per_s: float = 50.0) -> None:
        self.bootstrap = bootstrap
        self.redis_url = redis_url
        self.keys = IndexKeys(app_id)
        self.max_per_s = max_per_s
        self.stats = AckStats()
        self.error: BaseException | None = None
        self._on_topic: dict[str, float] = {}  # incident -> when the broker had its acknowledgement
        self._sent: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-acknowledger", daemon=True)

    def start(self) -> Acknowledger:
        self._thread.start()
        return self

    def stop(self) -> AckStats:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.stats

    def _acked_by_broker(self, incident: str) -> object:
        def on_ack(_metadata: object) -> None:
            with self._lock:
                self._on_topic[incident] = time.monotonic()
        return on_ack

    def _run(self) -> None:
        import redis

        try:
            client = redis.Redis.from_url(self.redis_url)
            producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0, acks=1,
                                     client_id="bench-acknowledger")
            try:
                budget, last, candidates, refreshed = 0.0, time.monotonic(), [], 0.0
                while not self._stop.wait(POLL_S):
                    now = time.monotonic()
                    budget = min(budget + (now - last) * self.max_per_s, self.max_per_s)
                    last = now
                    if now - refreshed > 0.5:
                        candidates, refreshed = self._routed(client), now
                    while budget >= 1.0 and candidates:
                        incident, ward = candidates.pop()
                        if incident in self._sent:
                            continue
                        self._sent.add(incident)
                        budget -= 1.0
                        update = {"update_id": f"bench-{uuid.uuid4()}", "incident_id": incident, "ward": ward,
                                  "status": "acknowledged", "actor": "bench-ward"}
                        producer.send(topics.STATUS, key=ward.encode(), value=orjson.dumps(update)).add_callback(
                            self._acked_by_broker(incident))
                        self.stats.sent += 1
                    self._check(client)
                producer.flush(timeout=10)
                self._check(client)
            finally:
                producer.close(timeout=5)
                client.close()
        except BaseException as exc:  # reported by the run
            self.error = exc

    def _routed(self, client: Any) -> list[tuple[str, str]]:
        """The newest incidents still ``routed`` (not acknowledged by us yet), oldest last."""
        ids = [i.decode() for i in client.zrevrange(self.keys.all_recent, 0, 300)]
        ids = [i for i in ids if i not in self._sent]
        if not ids:
            return []
        docs = client.mget([self.keys.doc(i) for i in ids])
        found = [orjson.loads(d) for d in docs if d is not None]
        return [(d["id"], d["ward"]) for d in reversed(found) if d["status"] == "routed" and not d.get("moved_to")]

    def _check(self, client: Any) -> None:
        with self._lock:
            waiting = {i: t for i, t in self._on_topic.items()}
        if not waiting:
            return
        seen = time.monotonic()
        ids = list(waiting)
        for incident, raw in zip(ids, client.mget([self.keys.doc(i) for i in ids]), strict=True):
            # a byte test first: decoding every waiting document at each poll cost a share of a core
            if raw is not None and _ACK_UNSET not in raw and orjson.loads(raw).get("acknowledged_at"):
                with self._lock:
                    self._on_topic.pop(incident, None)
                self.stats.applied += 1
                self.stats.delays_s.append(max(seen - waiting[incident], 0.0))

    def unapplied(self) -> int:
        with self._lock:
            return len(self._on_topic)


@dataclass(frozen=True, slots=True)
class LifecycleRound:
    rate: float  # inputs/s: median of the per-interval rates
    inputs: int  # routed copies in the backlog
    cpu_us_per_input: float | None
    acks: AckStats
    complete: bool


def _lifecycle_env(settings: Settings, data_dir: Path, partitions: int, role: str, app_id: str) -> dict[str, str]:
    return {**os.environ, "IOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "IOC_REDIS_URL": settings.redis_url or "",
            "IOC_DATA_DIR": str(data_dir), "IOC_PARTITIONS": str(partitions), "IOC_WORKER_ROLE": role,
            "IOC_APP_ID": app_id}


def _routed_backlog(bootstrap: str) -> int:
    """How many messages ``ioc.routed`` holds (read, not ListOffsets: see benchmarks._broker.drain)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000, client_id="bench-routed-count",
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        consumer.assign([TopicPartition(topics.ROUTED, p) for p in sorted(consumer.partitions_for_topic(topics.ROUTED) or ())])
        return sum(1 for _ in consumer)
    finally:
        consumer.close()


def _count_inputs(url: str, target: int, timeout_s: float, alive: object, cpu: object) -> Drained:
    """Sample the worker's ``ioc_lifecycle_inputs_total`` (routed events, updates and the rest it
    took) until it reaches ``target`` (updates included) or the timeout."""
    samples: list[tuple[float, int]] = [(time.monotonic(), 0)]
    cpu_first = cpu_last = None
    deadline = time.monotonic() + timeout_s
    count = 0
    while count < target and time.monotonic() < deadline and alive():  # type: ignore[operator]
        time.sleep(1.0)  # the worker renders /metrics for each scrape: not more often
        try:
            totals = scrape([url], timeout_s=2.0)
        except Exception:  # noqa: BLE001 - not up yet
            continue
        now = int(sum(totals.total("ioc_lifecycle_inputs_total", kind=k) for k in INPUT_KINDS))
        if now > count:
            count = now
            samples.append((time.monotonic(), count))
            cpu_last = cpu()  # type: ignore[operator]
            cpu_first = cpu_last if cpu_first is None else cpu_first
    cpu_s = cpu_last - cpu_first if cpu_first is not None and cpu_last is not None else None
    return Drained(tuple(samples), target, (), cpu_s)


def measure_lifecycle(settings: Settings, data_dir: Path, partitions: int, timeout_s: float,
                      ack_per_s: float = 50.0) -> LifecycleRound:
    """On a broker whose ``ioc.routed`` the pipeline just filled: a lifecycle worker absorbs it."""
    assert settings.kafka_bootstrap is not None
    backlog = _routed_backlog(settings.kafka_bootstrap)
    port = free_port()
    app_id = f"bench-lifecycle-{uuid.uuid4().hex[:8]}"
    env = _lifecycle_env(settings, data_dir, partitions, "lifecycle", app_id)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-lc-") as tmp:
        acker = Acknowledger(settings.kafka_bootstrap, settings.redis_url or "", app_id, ack_per_s).start()
        worker = ManagedProcess("lifecycle", [sys.executable, "-m", "cli", "worker", "--web-port", str(port)],
                                port, Path(tmp) / "worker.log", ready_timeout_s=120, env=env)
        try:
            progress = _count_inputs(f"http://127.0.0.1:{port}/metrics", backlog, timeout_s, worker.running,
                                     lambda: process_cpu_seconds(worker.pid))
            time.sleep(1.0)  # the last acknowledgements' states
        finally:
            worker.stop(timeout_s=20)
            acks = acker.stop()
    overall, intervals = rates_of(progress)
    moved = progress.count - (progress.samples[1][1] if len(progress.samples) > 1 else 0)
    cpu_us = progress.cpu_s * 1e6 / moved if progress.cpu_s and moved > 0 else None
    return LifecycleRound(statistics.median(intervals) if intervals else overall, backlog, cpu_us, acks,
                          progress.count >= backlog)


@dataclass(frozen=True, slots=True)
class AckDelay:
    target_rate: float
    produced: int
    seconds: float
    acks: AckStats
    lifecycle_inputs: int
    ingested: int = 0  # intake messages the worker consumed (its ioc_ingested_total)
    # the lifecycle's own view (ioc_status_apply_latency_seconds): broker timestamp -> applied
    in_worker: Mapping[str, object] = field(default_factory=dict)
    produced_per_s: float = 0.0  # what the producer achieved over its producing time

    @property
    def achieved_rate(self) -> float:
        return self.produced_per_s or (self.produced / self.seconds if self.seconds else 0.0)


def measure_ack_delay(rate: float, data_dir: Path, seconds: float = 40.0, partitions: int = 4,
                      city: str = "hcmc", ack_per_s: float = 20.0, warmup_s: float = 8.0) -> AckDelay:
    """A pipeline and a lifecycle worker under the simulator's mixed traffic at ``rate``/s; the
    acknowledgements' delays after ``warmup_s``.

    The traffic comes from a child process sending record batches (:class:`ProducerProcess`,
    :mod:`streams.simulator.batched`): a kafka-python producer thread in this process, sharing its
    GIL with the acknowledger, reached 2,539 of the 6,031/s asked on 2 cores. The rate reported is
    what the child achieved while producing, not what was asked."""
    from streams.simulator.run import build_scenario, register_scenario_devices

    seed = 11
    with embedded_settings(partitions) as stack_settings, tempfile.TemporaryDirectory(prefix="ioc-bench-ack-") as tmp:
        settings = dataclasses.replace(stack_settings, data_dir=data_dir)
        assert settings.kafka_bootstrap is not None
        generation = BoundaryRegistry(data_dir).load_active()
        create_topics(settings, [w.code for w in generation.wards_in_province(CITIES[city])])
        register_scenario_devices(settings, build_scenario(settings, city, "normal", seed=seed))
        app_id = f"bench-ack-{uuid.uuid4().hex[:8]}"
        workers = []
        for role in ("pipeline", "lifecycle"):  # the two stages as the capacity plan scales them: apart
            port = free_port()
            workers.append(ManagedProcess(role, [sys.executable, "-m", "cli", "worker", "--web-port", str(port)],
                                          port, Path(tmp) / f"{role}.log", ready_timeout_s=120,
                                          env=_lifecycle_env(settings, data_dir, partitions, role, app_id)))
        urls = [f"http://127.0.0.1:{w.port}/metrics" for w in workers]
        acker: Acknowledger | None = None
        producer = ProducerProcess(settings, rate, seconds + warmup_s, Path(tmp) / "origins", city=city, seed=seed)
        try:
            started = time.monotonic()
            producer.start()
            while not producer.origins() and producer.is_alive():  # the child loads the boundaries first
                time.sleep(0.2)
            time.sleep(warmup_s)
            acker = Acknowledger(settings.kafka_bootstrap, settings.redis_url or "", app_id, ack_per_s).start()
            give_up = time.monotonic() + seconds + 60
            while producer.is_alive() and time.monotonic() < give_up:
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            give_up = time.monotonic() + 10  # acknowledgements sent at the end: let them show
            while acker.unapplied() and time.monotonic() < give_up:
                time.sleep(0.2)
            acks = acker.stop()
            acker = None
            totals = scrape(urls)
            inputs = int(sum(totals.total("ioc_lifecycle_inputs_total", kind=k) for k in INPUT_KINDS))
            ingested = int(totals.total("ioc_ingested_total"))
            count = totals.total("ioc_status_apply_latency_seconds_count")
            in_worker = {"updates": int(count),
                         "mean_s": round(totals.total("ioc_status_apply_latency_seconds_sum") / count, 3) if count else None,
                         "within_1s": int(totals.total("ioc_status_apply_latency_seconds_bucket", le="1.0"))}
            if producer.exitcode != 0:
                raise RuntimeError(f"the simulator's process exited with {producer.exitcode}")
            produced = len(producer.origins())
            produced_per_s = producer.achieved_rate() or 0.0
        finally:
            producer.stop()
            if acker is not None:
                acker.stop()
            for worker in workers:
                worker.stop(timeout_s=20)
    return AckDelay(rate, produced, elapsed, acks, inputs, ingested, in_worker, produced_per_s)


def lifecycle_report(pipeline_rates: Sequence[float], rounds: Sequence[LifecycleRound]) -> list[str]:
    """Lines for the throughput report: the lifecycle's rate and its ratio to the same round's pipeline."""
    ratios = [r.rate / p for p, r in zip(pipeline_rates, rounds, strict=True) if p > 0]
    rate = statistics.median(r.rate for r in rounds)
    cpus = [r.cpu_us_per_input for r in rounds if r.cpu_us_per_input is not None]
    delays = [d for r in rounds for d in r.acks.delays_s]
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    lines = [
        f"{LIFECYCLE_NAME}: {rate:.0f} inputs/s (rounds {', '.join(f'{r.rate:.0f}' for r in rounds)}), "
        f"{statistics.median(ratios) if ratios else 0:.2f}x the pipeline of the same round "
        f"(rounds {', '.join(f'{x:.2f}' for x in ratios)})"
        + (f", {statistics.median(cpus):.0f} us CPU/input" if cpus else "")
        + ("" if all(r.complete for r in rounds) else "   INCOMPLETE within the timeout"),
        f"  ward acknowledgements while it absorbed the backlog: {sum(r.acks.applied for r in rounds)} of "
        f"{sum(r.acks.sent for r in rounds)} applied, delay p50 {_s(p50)}, p99 {_s(p99)}",
    ]
    return lines


def ack_delay_report(result: AckDelay, pipeline_rate: float) -> str:
    j = result.acks.to_json()
    return (f"ack-to-applied at {result.target_rate:.0f} ev/s of routine traffic (80 % of the pipeline's "
            f"{pipeline_rate:.0f}; achieved {result.achieved_rate:.0f}/s; a pipeline and a lifecycle worker): "
            f"{j['applied']} of {j['sent']} acknowledgements applied, p50 {_s(j['p50_s'])}, p99 {_s(j['p99_s'])}, "
            f"max {_s(j['max_s'])}; the pipeline ingested {result.ingested} and the lifecycle took {result.lifecycle_inputs}; "
            f"in the lifecycle worker, status message to applied: {result.in_worker}")


def _s(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f} s"  # type: ignore[arg-type]


def main(argv: Sequence[str] = ()) -> None:
    """``python -m benchmarks.lifecycle_row [rate]``: only the acknowledgement delay at ``rate``/s."""
    from streams.settings import load_settings

    settings = load_settings()
    BoundaryRegistry(settings.data_dir).ensure_default()
    rate = float(argv[0]) if argv else 500.0
    result = measure_ack_delay(rate, settings.data_dir)
    print(ack_delay_report(result, rate / 0.8))
    print(orjson.dumps(dataclasses.asdict(result)).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
