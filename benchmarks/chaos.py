"""``make chaos``: mixed city traffic through real workers while the infrastructure fails.

What runs: the embedded broker (Tansu) and Redis (Valkey), N ``ioc worker`` subprocesses in one
consumer group, and the simulator producing a mixed stream (reports, cameras, sensors, 3 % bad
input). While it flows, a fault schedule runs, one fault at a time:

* ``kill``: a worker gets SIGKILL (no shutdown, no commit) and is started again;
* ``redis``: Redis is **stopped** — snapshot (``SAVE``), SIGTERM, down for the outage, then started
  again on the same port from that snapshot, as a Redis with persistence comes back after a crash
  or a restart. Clients see refused connections for the whole outage;
* ``broker``: the broker is frozen with SIGSTOP (sockets open, nothing answers) and thawed with
  SIGCONT — the nastiest broker fault for clients: no error, just silence.

Conservation is then checked by reading the outputs back as any consumer would
(:mod:`streams.conservation`): every intake message the broker acknowledged must reach exactly
one outcome topic (``ioc.routed`` for routed events — one copy per event besides its ward/agency
topics —, ``ioc.unroutable`` or ``ioc.deadletter``). The run prints ``lost=N duplicated=M``;
duplicates are redeliveries of the same output id (at-least-once on a broker without transactions).

    python -m benchmarks.chaos                       # 100k events, 2 workers, the full schedule
    python -m benchmarks.chaos --events 5000 --kills 1 --redis-outage 5 --broker-freeze 3
    python -m benchmarks.chaos --json                # one JSON object on stdout

The whole run has a hard deadline (``--timeout``); past it the run stops and reports what it has.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import orjson
import redis
from kafka import KafkaConsumer, TopicPartition

from cli.progress import progress_printer
from streams.admin import create_topics
from streams.conservation import OUTCOME_TOPICS, Ledger, Verdict, verdict
from streams.embedded.process import ManagedProcess, free_port
from streams.embedded.redis import start_redis
from streams.embedded.stack import EmbeddedStack
from streams.settings import Settings, load_settings
from streams.simulator.places import CITIES
from streams.simulator.scenario import CityScenario
from streams.simulator.scenario import Message as SimMessage

Say = Callable[[str], None]


@dataclass(frozen=True)
class ChaosPlan:
    events: int = 100_000
    rate: float = 1000.0  # produced per second; about what two workers sustain, so faults hit a backlog
    workers: int = 2
    kills: int = 2
    restart_after_s: float = 2.0
    redis_outage_s: float = 30.0
    broker_freeze_s: float = 10.0
    timeout_s: float = 1800.0
    city: str = "hcmc"
    seed: int = 7

    def schedule(self) -> list[tuple[float, str]]:
        """``(start second, fault)`` in order: faults spread over the production window, never overlapping."""
        window = self.events / self.rate
        faults: list[str] = []
        kills = self.kills
        if kills:
            faults.append("kill")
            kills -= 1
        if self.redis_outage_s > 0:
            faults.append("redis")
        if self.broker_freeze_s > 0:
            faults.append("broker")
        faults.extend(["kill"] * kills)
        if not faults:
            return []
        step = window / (len(faults) + 1)
        return [(step * (n + 1), fault) for n, fault in enumerate(faults)]


@dataclass
class FaultRecord:
    fault: str
    target: str
    started_s: float
    lasted_s: float

    def to_json(self) -> dict[str, object]:
        return {"fault": self.fault, "target": self.target, "started_s": round(self.started_s, 1),
                "lasted_s": round(self.lasted_s, 1)}


@dataclass
class ChaosResult:
    plan: ChaosPlan
    produced: int = 0
    not_acknowledged: int = 0  # sends the broker never confirmed: not part of the intake, not "lost"
    verdict: Verdict | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)  # workers that died without being killed
    elapsed_s: float = 0.0
    drain_s: float = 0.0  # from the end of production to the last output accounted for
    timed_out: bool = False
    run_dir: str = ""
    diagnosis: list[str] = field(default_factory=list)  # for lost messages: what the broker knows about them

    @property
    def lost(self) -> int:
        return self.verdict.lost if self.verdict else self.produced

    @property
    def ok(self) -> bool:
        return (self.verdict is not None and self.verdict.lost == 0 and self.verdict.misplaced == 0
                and not self.unexpected_exits and not self.timed_out)

    def line(self) -> str:
        v = self.verdict
        dup = v.duplicated if v else 0
        misplaced = v.misplaced if v else 0
        return (f"lost={self.lost} duplicated={dup} misplaced={misplaced} produced={self.produced} "
                f"time={self.elapsed_s:.0f}s")

    def to_json(self) -> dict[str, object]:
        v = self.verdict
        return {
            "ok": self.ok,
            "produced": self.produced,
            "lost": self.lost,
            "duplicated": v.duplicated if v else 0,
            "misplaced": v.misplaced if v else 0,
            "lost_examples": list(v.lost_examples) if v else [],
            "not_acknowledged": self.not_acknowledged,
            "outcomes": self.outcomes,
            "faults": [f.to_json() for f in self.faults],
            "unexpected_worker_exits": self.unexpected_exits,
            "elapsed_s": round(self.elapsed_s, 1),
            "drain_s": round(self.drain_s, 1),
            "timed_out": self.timed_out,
            "diagnosis": self.diagnosis,
            "plan": dataclasses.asdict(self.plan),
            "run_dir": self.run_dir,
        }


class OutcomeReader:
    """Reads the outcome topics from the beginning into a :class:`Ledger`, in a background thread."""

    def __init__(self, bootstrap: str) -> None:
        self.ledger = Ledger()
        self.lock = threading.Lock()
        self.last_read = time.monotonic()
        self._stop = threading.Event()
        self._bootstrap = bootstrap
        self._thread = threading.Thread(target=self._run, name="outcome-reader", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            consumer = KafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                     auto_offset_reset="earliest", client_id="ioc-chaos-reader",
                                     max_partition_fetch_bytes=4 * 1024 * 1024)
            try:
                consumer.assign([TopicPartition(name, p) for name in OUTCOME_TOPICS
                                 for p in sorted(consumer.partitions_for_topic(name) or ())])
                consumer.seek_to_beginning()
                while not self._stop.is_set():
                    for records in consumer.poll(timeout_ms=200, max_records=5000).values():
                        with self.lock:
                            for record in records:
                                self.ledger.add(record.topic, record.value)
                        self.last_read = time.monotonic()
            finally:
                consumer.close()
        except BaseException as exc:  # reported by the run, not swallowed
            self.error = exc

    def missing(self, origins: list[str]) -> int:
        with self.lock:
            places = self.ledger.places
            return sum(1 for o in origins if not places.get(o))


class Accounting:
    """How many produced messages have an outcome, checked incrementally: each call looks only at
    the origins produced since the last call and at those still without an outcome (a full scan of
    100k origins every half second would compete with the producer for the GIL)."""

    def __init__(self, reader: OutcomeReader) -> None:
        self.reader = reader
        self.seen = 0
        self.pending: set[str] = set()

    def unaccounted(self, origins: list[str]) -> int:
        self.pending.update(origins[self.seen:])
        self.seen = len(origins)
        with self.reader.lock:
            places = self.reader.ledger.places
            self.pending = {o for o in self.pending if not places.get(o)}
        return len(self.pending)


class ChaosRun:
    def __init__(self, plan: ChaosPlan, data_dir: Path, say: Say, run_dir: Path | None = None) -> None:
        self.plan = plan
        self.say = say
        self.data_dir = data_dir
        self.stack = EmbeddedStack(Settings(data_dir=data_dir, partitions=4), run_dir=run_dir)
        self.app_id = f"ioc-chaos-{uuid.uuid4().hex[:8]}"
        self.workers: list[ManagedProcess] = []
        self.killed: set[int] = set()  # pids we killed on purpose
        self.origins: list[str] = []
        self._origins_lock = threading.Lock()
        self.produced_attempts = 0
        self.producer_error: BaseException | None = None
        self.production_done = threading.Event()
        self.started = 0.0
        self.result = ChaosResult(plan)

    # -- parts ----------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def _worker_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "IOC_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap or "",
            "IOC_REDIS_URL": self.settings.redis_url or "",
            "IOC_DATA_DIR": str(self.data_dir),
            "IOC_PARTITIONS": "4",
            "IOC_APP_ID": self.app_id,
            "IOC_LOG_LEVEL": "warn",
        })
        return env

    def _start_worker(self, slot: int) -> ManagedProcess:
        port = free_port()
        generation = sum(1 for w in self.workers if w.name.startswith(f"worker-{slot}"))
        log = self.stack.run_dir / f"worker-{slot}-{generation}.log"
        worker = ManagedProcess(f"worker-{slot}.{generation}",
                                [sys.executable, "-m", "cli", "worker", "--web-port", str(port)],
                                port, log, ready_timeout_s=120.0, env=self._worker_env())
        if slot < len(self.workers):
            self.workers[slot] = worker
        else:
            self.workers.append(worker)
        return worker

    def _now(self) -> float:
        return time.monotonic() - self.started

    # -- faults ---------------------------------------------------------------------------------
    def _kill(self, slot: int) -> FaultRecord:
        victim = self.workers[slot]
        at = self._now()
        self.killed.add(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.process.wait(10)
        victim.stop()  # closes its log
        time.sleep(self.plan.restart_after_s)
        self._start_worker(slot)
        return FaultRecord("kill", f"worker-{slot} (pid {victim.pid})", at, self._now() - at)

    def _stop_redis(self) -> FaultRecord:
        old = self.stack.redis
        assert old is not None
        at = self._now()
        client = redis.Redis(port=old.port, socket_timeout=10)
        try:
            client.save()  # the snapshot a persistent Redis would restart from
        finally:
            client.close()
        old.stop()
        time.sleep(self.plan.redis_outage_s)
        self.stack.redis = start_redis(self.stack.run_dir / "redis", port=old.port)
        return FaultRecord("redis", f"stopped, restarted on port {old.port}", at, self._now() - at)

    def _freeze_broker(self) -> FaultRecord:
        broker = self.stack.kafka
        assert broker is not None
        at = self._now()
        broker.pause()
        try:
            time.sleep(self.plan.broker_freeze_s)
        finally:
            broker.resume()
        return FaultRecord("broker", "SIGSTOP then SIGCONT", at, self._now() - at)

    def _run_fault(self, fault: str, kills_so_far: int) -> None:
        if fault == "kill":
            record = self._kill(kills_so_far % len(self.workers))
        elif fault == "redis":
            record = self._stop_redis()
        else:
            record = self._freeze_broker()
        self.result.faults.append(record)
        self.say(f"chaos: {record.fault:6s} {record.target} at {record.started_s:.0f}s for {record.lasted_s:.1f}s")

    def _check_workers(self) -> None:
        for worker in self.workers:
            if not worker.running() and worker.pid not in self.killed:
                name = f"{worker.name} (exit {worker.process.returncode}, log {worker.log_path})"
                if name not in self.result.unexpected_exits:
                    self.result.unexpected_exits.append(name)

    # -- production -----------------------------------------------------------------------------
    def _produce(self, sim: CityScenario) -> None:
        from streams.simulator.run import produce

        def sent(message: SimMessage, partition: int, offset: int) -> None:
            with self._origins_lock:
                self.origins.append(f"{message.topic}/{partition}/{offset}")

        try:
            stats = produce(self.settings, sim, rate=self.plan.rate, count=self.plan.events, on_sent=sent)
            self.produced_attempts = stats.produced
        except BaseException as exc:
            self.producer_error = exc
        finally:
            self.production_done.set()

    def produced_origins(self) -> list[str]:
        with self._origins_lock:
            return list(self.origins)

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> ChaosResult:
        from routers.boundaries.registry import BoundaryRegistry
        from streams.simulator.run import build_scenario, register_scenario_devices

        plan = self.plan
        wall_started = time.monotonic()
        deadline = wall_started + plan.timeout_s
        self.stack.start()
        self.result.run_dir = str(self.stack.run_dir)
        reader: OutcomeReader | None = None
        try:
            registry = BoundaryRegistry(self.data_dir)
            registry.ensure_default()
            wards = registry.load_active().wards
            create_topics(dataclasses.replace(self.settings, data_dir=self.data_dir), [w.code for w in wards],
                          status_codes=[w.code for w in wards if w.province_code == CITIES[plan.city]])
            sim = build_scenario(dataclasses.replace(self.settings, data_dir=self.data_dir), plan.city, "normal",
                                 plan.seed)
            register_scenario_devices(self.settings, sim)
            self.say(f"chaos: broker {self.settings.kafka_bootstrap}, redis {self.settings.redis_url}, "
                     f"logs in {self.stack.run_dir}")
            for slot in range(plan.workers):
                self._start_worker(slot)
            self.say(f"chaos: {plan.workers} workers up ({time.monotonic() - wall_started:.0f}s); "
                     f"producing {plan.events} events at {plan.rate:g}/s")
            reader = OutcomeReader(self.settings.kafka_bootstrap or "")
            reader.start()
            self.started = time.monotonic()
            producer = threading.Thread(target=self._produce, args=(sim,), name="chaos-producer", daemon=True)
            producer.start()
            self._watch(reader, deadline)
            self.result.elapsed_s = time.monotonic() - wall_started
            lost = [o for o in self.produced_origins() if not reader.ledger.places.get(o)]
            if lost:
                self.result.diagnosis = diagnose(self.settings.kafka_bootstrap or "", self.app_id, lost[:20])
        finally:
            self.result.elapsed_s = self.result.elapsed_s or time.monotonic() - wall_started
            if reader is not None:
                reader.stop()
            for worker in self.workers:
                worker.stop(timeout_s=20.0)
            self.stack.stop()
        if reader is not None and reader.error is not None:
            raise RuntimeError(f"reading the outcome topics failed: {reader.error!r}") from reader.error
        if self.producer_error is not None:
            raise RuntimeError(f"the producer failed: {self.producer_error!r}") from self.producer_error
        origins = self.produced_origins()
        self.result.produced = len(origins)
        self.result.not_acknowledged = max(self.produced_attempts - len(origins), 0)
        if reader is not None:
            self.result.verdict = verdict(origins, reader.ledger)
            kinds: dict[str, int] = {}
            for origin in origins:
                places = reader.ledger.places.get(origin)
                if places:
                    kinds[places[0]] = kinds.get(places[0], 0) + 1
            self.result.outcomes = dict(sorted(kinds.items()))
        return self.result

    def _watch(self, reader: OutcomeReader, deadline: float) -> None:
        """Run the faults when due and watch until every produced message has an outcome, or the deadline.

        Faults run on this (the main) thread on purpose: servers and workers are started with
        PR_SET_PDEATHSIG, which fires when the *thread* that started them ends.
        """
        schedule = list(self.plan.schedule())
        kills = 0
        production_ended: float | None = None
        reported = time.monotonic()
        accounting = Accounting(reader)
        with progress_printer({"outputs accounted for": self.plan.events}, show_pos=True) as progress:
            accounted = 0
            while True:
                if schedule and self._now() >= schedule[0][0]:
                    fault = schedule.pop(0)[1]
                    self._run_fault(fault, kills)
                    kills += fault == "kill"
                self._check_workers()
                if self.result.unexpected_exits and not any(w.running() for w in self.workers):
                    return  # every worker is gone: nothing will drain, stop now
                if time.monotonic() >= deadline:
                    self.result.timed_out = True
                    return
                if reader.error is not None:
                    return
                if self.production_done.is_set() and production_ended is None:
                    production_ended = time.monotonic()
                origins = self.produced_origins()
                now_accounted = len(origins) - accounting.unaccounted(origins)
                progress("outputs accounted for", now_accounted - accounted)
                accounted = now_accounted
                if not sys.stderr.isatty() and time.monotonic() - reported >= 30.0:  # the bar only draws on a terminal
                    reported = time.monotonic()
                    self.say(f"chaos: {accounted}/{len(origins)} produced messages accounted for at {self._now():.0f}s")
                if production_ended is not None and not schedule and accounted == len(origins):
                    self.result.drain_s = time.monotonic() - production_ended
                    break
                time.sleep(0.5)
        # late redeliveries still count as duplicates: read on until the outputs are quiet
        settle_until = min(time.monotonic() + 15.0, deadline)
        while time.monotonic() < settle_until and time.monotonic() - reader.last_read < 3.0:
            time.sleep(0.5)


def diagnose(bootstrap: str, group: str, lost: list[str]) -> list[str]:
    """For each lost origin: the intake message, the event it decodes to, the group's committed
    offset on its partition, and whether any output names that event (under another origin)."""
    from routers.exceptions import Rejected
    from routers.ingest import decode

    # the group's committed offsets, read without joining it (kafka-python 3 dropped
    # KafkaAdminClient.list_consumer_group_offsets)
    group_reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                 client_id="ioc-chaos-diagnose")
    try:
        origins = {(topic, int(partition)) for topic, partition, _ in (o.rsplit("/", 2) for o in lost)}
        committed = {key: group_reader.committed(TopicPartition(*key)) for key in origins}
    finally:
        group_reader.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="ioc-chaos-diagnose",
                             consumer_timeout_ms=3000, max_partition_fetch_bytes=4 * 1024 * 1024)
    wanted: dict[str, str] = {}
    lines = []
    try:
        for origin in lost:
            topic, partition, offset = origin.rsplit("/", 2)
            tp = TopicPartition(topic, int(partition))
            consumer.assign([tp])
            consumer.seek(tp, int(offset))
            record = next(iter(consumer.poll(timeout_ms=3000, max_records=1).values()), [None])[0]
            if record is None or record.offset != int(offset):
                lines.append(f"{origin}: not readable on the broker")
                continue
            try:
                event_id = decode(topic, record.value).id
            except Rejected as rejection:
                event_id = f"(rejected {rejection.reason})"
            wanted[event_id] = origin
            lines.append(f"{origin}: event {event_id}, committed offset of the group there: "
                         f"{committed.get((topic, int(partition)))}")
        outputs = [TopicPartition(n, p) for n in (*OUTCOME_TOPICS,) for p in sorted(consumer.partitions_for_topic(n) or ())]
        consumer.assign(outputs)
        consumer.seek_to_beginning()
        for record in consumer:
            body = orjson.loads(record.value)
            if body.get("subject") in wanted:
                lines.append(f"{wanted[body['subject']]}: output on {record.topic} with origin {body.get('iocorigin')}")
    finally:
        consumer.close()
    return lines


def run_chaos(plan: ChaosPlan, data_dir: Path, say: Say | None = None, run_dir: Path | None = None) -> ChaosResult:
    """Run the plan on a fresh embedded stack in ``run_dir`` (boundaries from ``data_dir``)."""
    return ChaosRun(plan, data_dir, say or (lambda line: click.echo(line, err=True)), run_dir).run()


@click.command()
@click.option("--events", type=click.IntRange(min=1), default=ChaosPlan.events, show_default=True)
@click.option("--rate", type=click.FloatRange(min=1), default=ChaosPlan.rate, show_default=True,
              help="Events produced per second.")
@click.option("--workers", type=click.IntRange(1, 4), default=ChaosPlan.workers, show_default=True)
@click.option("--kills", type=click.IntRange(min=0), default=ChaosPlan.kills, show_default=True,
              help="Workers killed with SIGKILL (and restarted) during the run.")
@click.option("--redis-outage", type=click.FloatRange(min=0), default=ChaosPlan.redis_outage_s, show_default=True,
              help="Seconds Redis is stopped (0: no Redis fault).")
@click.option("--broker-freeze", type=click.FloatRange(min=0), default=ChaosPlan.broker_freeze_s, show_default=True,
              help="Seconds the broker is frozen with SIGSTOP (0: no broker fault).")
@click.option("--timeout", type=click.FloatRange(min=10), default=ChaosPlan.timeout_s, show_default=True,
              help="Hard limit for the whole run, in seconds.")
@click.option("--seed", type=int, default=ChaosPlan.seed, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the boundary generations live (default: IOC_DATA_DIR).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
def main(events: int, rate: float, workers: int, kills: int, redis_outage: float, broker_freeze: float,
         timeout: float, seed: int, data_dir: Path | None, as_json: bool) -> None:
    """Chaos run: SIGKILLed workers, a stopped Redis and a frozen broker; prints lost=N duplicated=M."""
    plan = ChaosPlan(events=events, rate=rate, workers=workers, kills=kills, redis_outage_s=redis_outage,
                     broker_freeze_s=broker_freeze, timeout_s=timeout, seed=seed)
    data_dir = data_dir or load_settings().data_dir
    # Last resort against a hang outside our own deadline checks (e.g. a client call that never
    # returns): dump the stacks and exit; the servers and workers die with us (PR_SET_PDEATHSIG).
    faulthandler.dump_traceback_later(timeout + 120, exit=True)
    try:
        result = run_chaos(plan, data_dir)
    finally:
        faulthandler.cancel_dump_traceback_later()
    if as_json:
        click.echo(orjson.dumps(result.to_json(), option=orjson.OPT_SORT_KEYS).decode())
    else:
        click.echo(result.line())
        click.echo(f"outcomes: {', '.join(f'{k}={v}' for k, v in result.outcomes.items())}")
        click.echo(f"drain after production: {result.drain_s:.1f}s; broker never confirmed: {result.not_acknowledged}")
        for record in result.faults:
            click.echo(f"fault {record.fault:6s} at {record.started_s:6.1f}s for {record.lasted_s:5.1f}s: {record.target}")
        for name in result.unexpected_exits:
            click.echo(f"UNEXPECTED worker exit: {name}")
        if result.timed_out:
            click.echo(f"TIMED OUT after {plan.timeout_s:.0f}s")
        if result.verdict and result.verdict.lost_examples:
            click.echo(f"lost, e.g.: {', '.join(result.verdict.lost_examples)}")
        for line in result.diagnosis:
            click.echo(f"diagnosis: {line}")
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
