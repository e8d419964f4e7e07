"""``ioc up``: everything on one machine. Embedded broker and Redis (unless configured), topics,
stream workers, an MQTT broker (embedded unless ``IOC_MQTT_BROKER``) with the MQTT bridge, the
simulator (its cameras publish Frigate messages over MQTT) and the dashboard, stopped in order on
Ctrl-C, SIGTERM or when the duration is over."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routers import topics
from streams.admin import create_topics
from streams.embedded.process import ManagedProcess, free_port
from streams.embedded.stack import EmbeddedStack
from streams.scrape import Totals, scrape
from streams.settings import Settings
from streams.simulator.places import CITIES

Say = Callable[[str], None]


@dataclass
class RunOptions:
    # The argv that runs one `ioc` sub-command in a child process (e.g. ``python -m cli``): given by
    # the command line, which sits above streams/, so this module never imports it.
    ioc: tuple[str, ...]
    city: str = "hcmc"
    rate: float = 50.0
    scenario: str = "normal"
    duration_s: float | None = None
    workers: int = 1
    dashboard: bool = True
    seed: int = 2025


@dataclass
class RunSummary:
    produced: int = 0
    ingested: int = 0
    routed: int = 0
    unroutable: int = 0
    deadletter: int = 0
    filtered: int = 0  # by the workers' Frigate mapping
    bridge: dict[str, int] = field(default_factory=dict)  # the MQTT bridge: received, forwarded, filtered, deadletter
    published: dict[str, int] = field(default_factory=dict)
    unroutable_reasons: dict[str, int] = field(default_factory=dict)
    deadletter_reasons: dict[str, int] = field(default_factory=dict)
    top_wards: list[dict[str, object]] = field(default_factory=list)
    first_routed_after_s: float | None = None
    duration_s: float = 0.0
    drained: bool = False

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "IOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "IOC_REDIS_URL": settings.redis_url or "",
        "IOC_DATA_DIR": str(settings.data_dir),
        "IOC_PARTITIONS": str(settings.partitions),
        "IOC_APP_ID": settings.app_id,
    })
    if settings.frigate_mapping_file is not None:
        env["IOC_FRIGATE_MAPPING_FILE"] = str(settings.frigate_mapping_file)
    env.update(extra)
    return env


class LocalRun:
    def __init__(self, settings: Settings, options: RunOptions, say: Say) -> None:
        if options.city not in CITIES:
            raise ValueError(f"unknown city {options.city!r}")
        self.options = options
        self.say = say
        self.stack = EmbeddedStack(settings)
        self.run_dir = self.stack.run_dir
        self.workers: list[ManagedProcess] = []
        self.dashboard: ManagedProcess | None = None
        self.mqtt: ManagedProcess | None = None
        self.bridge: ManagedProcess | None = None
        self.mqtt_url = ""
        self.bridge_metrics_url: str | None = None
        self.api: ManagedProcess | None = None
        self.api_url: str | None = None
        self.delivery: ManagedProcess | None = None
        self.metrics_urls: list[str] = []
        self.ward_names: dict[str, str] = {}
        self._stop_sim = threading.Event()
        self._sim_thread: threading.Thread | None = None
        self._desks: Any = None  # streams.simulator.wards.WardDesks once the simulator runs
        self.city_codes: frozenset[str] = frozenset()
        self.produced = 0
        self.started_at = 0.0
        self.first_routed_at: float | None = None

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    # -- starting -------------------------------------------------------------------------------
    def start(self) -> None:
        from routers.boundaries.registry import BoundaryRegistry

        self.stack.start()
        s = self.settings
        kind = "embedded Tansu" if self.stack.kafka else "external"
        self.say(f"kafka      {s.kafka_bootstrap} ({kind})")
        self.say(f"redis      {s.redis_url} ({'embedded Valkey' if self.stack.redis else 'external'})")
        registry = BoundaryRegistry(s.data_dir)
        registry.ensure_default()
        generation = registry.load_active()
        self.ward_names = {w.code: w.name for w in generation.wards}
        city_wards = generation.wards_in_province(CITIES[self.options.city])
        self.city_codes = frozenset(w.code for w in city_wards)
        banner = (" - built-in REFERENCE polygons (not official survey boundaries): import a city's official file "
                  "with `ioc boundaries import`" if "reference" in generation.source.split("+") else "")
        self.say(f"boundaries {generation.id} ({generation.source}, {len(generation.wards)} wards){banner}")
        # The city's ward topics first (its events go there); the rest of the country's ~3,000
        # are created in the background once the simulator runs, so the first event is not
        # held up by them (~10 s on the embedded broker).
        create_topics(s, [w.code for w in city_wards])
        self.say(f"topics     {', '.join(topics.INTAKE)} -> ioc.ward.<code> ({len(city_wards)} in {self.options.city}, "
                 f"the other {len(generation.wards) - len(city_wards)} in the background), "
                 f"ioc.agency.*, {topics.UNROUTABLE}, {topics.DEADLETTER}")
        for n in range(self.options.workers):
            self._start_worker(n)
        self._start_mqtt_bridge()
        self._start_simulator()  # before the dashboard: its start-up need not delay the first event
        if self.options.dashboard:
            self._start_dashboard()
        self._start_open311()
        threading.Thread(target=self._create_other_topics, args=([w.code for w in generation.wards],),
                         name="topics", daemon=True).start()
        self.started_at = time.monotonic()

    def _create_other_topics(self, codes: list[str]) -> None:
        try:
            # no status topics for them: the workers read every ioc.status.* topic, the city's are enough
            create_topics(self.settings, codes, status_codes=())
        except Exception as exc:  # the broker stopping under it at shutdown, or a real failure: say so
            self.say(f"topics     not all ward topics were created: {type(exc).__name__}: {exc}")

    def _start_worker(self, n: int) -> None:
        port = free_port()
        argv = [*self.options.ioc, "worker", "--web-port", str(port)]
        worker = _spawn(f"worker-{n}", argv, port, self.run_dir / f"worker-{n}.log", _child_env(self.settings))
        self.workers.append(worker)
        self.metrics_urls.append(f"http://127.0.0.1:{port}/metrics")
        self.say(f"worker-{n}   http://127.0.0.1:{port}/metrics  (log {worker.log_path})")

    def _start_mqtt_bridge(self) -> None:
        from streams.embedded.mqtt import start_mqtt, url_of

        if self.settings.mqtt_broker:
            self.mqtt_url = self.settings.mqtt_broker
            self.say(f"mqtt       {self.mqtt_url} (external)")
        else:
            self.mqtt = start_mqtt(self.run_dir / "mqtt")
            self.mqtt_url = url_of(self.mqtt)
            self.say(f"mqtt       {self.mqtt_url} (embedded {self.mqtt.name})")
        port = free_port()
        argv = [*self.options.ioc, "bridge", "mqtt", "--broker", self.mqtt_url, "--web-port", str(port)]
        self.bridge = _spawn("bridge", argv, port, self.run_dir / "bridge.log", _child_env(self.settings))
        self.bridge_metrics_url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 30  # a new session gets only what is published after it subscribed
        while scrape([self.bridge_metrics_url]).total("ioc_bridge_connected") < 1:
            if time.monotonic() > deadline or not self.bridge.running():
                raise RuntimeError(f"the MQTT bridge did not subscribe; see {self.bridge.log_path}")
            time.sleep(0.1)
        self.say(f"bridge     {self.bridge_metrics_url}  (MQTT frigate/events, frigate/reviews -> {topics.CAMERA}; "
                 f"log {self.bridge.log_path})")

    def _start_dashboard(self) -> None:
        port = self.settings.dashboard_port
        if not _port_free(port):
            port = free_port()
        argv = [*self.options.ioc, "dashboard", "--port", str(port), "--city", self.options.city]
        env = _child_env(self.settings, IOC_WORKER_METRICS_URLS=",".join(self.metrics_urls))
        self.dashboard = _spawn("dashboard", argv, port, self.run_dir / "dashboard.log", env)
        self.say(f"dashboard  http://127.0.0.1:{port}/")

    def _start_open311(self) -> None:
        """The Open311 API, and the portal delivery when IOC_PORTAL_URLS is set (streams.open311)."""
        import secrets

        port = self.settings.api_port
        if not port or not _port_free(port):
            port = free_port()
        extra = {}
        demo_key = None
        if not self.settings.api_keys:
            demo_key = secrets.token_urlsafe(18)
            extra["IOC_API_KEYS"] = f"demo:app:{demo_key}"
        argv = [*self.options.ioc, "api", "--port", str(port)]
        self.api = _spawn("open311-api", argv, port, self.run_dir / "open311-api.log", _child_env(self.settings, **extra))
        self.api_url = f"http://127.0.0.1:{port}/open311/v2/"
        self.say(f"open311    {self.api_url}")
        if demo_key is not None:
            self.say(f"           api_key {demo_key} (client demo; set IOC_API_KEYS for real clients)")
        if self.settings.portal_urls:
            web_port = free_port()
            argv = [*self.options.ioc, "deliver", "--web-port", str(web_port)]
            self.delivery = _spawn("portal-delivery", argv, web_port, self.run_dir / "portal-delivery.log",
                                   _child_env(self.settings))
            self.say(f"portal     results -> {self.settings.portal_urls}")

    def _start_simulator(self) -> None:
        from streams.simulator.run import build_scenario, produce, register_scenario_devices

        o = self.options
        sim = build_scenario(self.settings, o.city, o.scenario, o.seed, frigate=True)
        register_scenario_devices(self.settings, sim)

        def progress(stage: str, advanced: int) -> None:
            self.produced += advanced

        def run() -> None:
            stats = produce(self.settings, sim, o.rate, stop=self._stop_sim, progress=progress,
                            mqtt_broker=self.mqtt_url)
            self.produced = stats.produced

        self._sim_thread = threading.Thread(target=run, name="simulator", daemon=True)
        self._sim_thread.start()
        self.say(f"simulator  {o.city} {o.scenario} at {o.rate:g} events/s ({len(sim.devices)} devices registered; "
                 "cameras publish Frigate messages over MQTT)")
        from streams.simulator.wards import WardDesks

        self._desks = WardDesks(self.settings, o.seed, self.city_codes)
        self._desks.start()
        self.say(f"ward desks {len(self.city_codes)} simulated desks acknowledge and resolve incidents on {topics.STATUS}")

    # -- watching -------------------------------------------------------------------------------
    def totals(self) -> Totals:
        totals = scrape([*self.metrics_urls, *([self.bridge_metrics_url] if self.bridge_metrics_url else [])])
        if self.first_routed_at is None and totals.total("ioc_routed_total"):
            self.first_routed_at = time.monotonic()
        return totals

    def status_line(self, totals: Totals, rate: float) -> str:
        routed = totals.total("ioc_routed_total")
        down = f" | {totals.unreachable} worker(s) not answering" if totals.unreachable else ""
        filtered = totals.total("ioc_filtered_total") + totals.total("ioc_bridge_filtered_total")
        return (f"in {rate:6.1f}/s | ingested {totals.total('ioc_ingested_total'):.0f} | routed {routed:.0f} | "
                f"unroutable {totals.total('ioc_unroutable_total'):.0f} | filtered {filtered:.0f} | "
                f"dead-letter {totals.total('ioc_deadletter_total') + totals.total('ioc_bridge_deadletter_total'):.0f}{down}")

    def check_children(self) -> None:
        for worker in [*self.workers, *(p for p in (self.api, self.delivery, self.bridge) if p is not None)]:
            if not worker.running():
                raise RuntimeError(f"{worker.name} exited (code {worker.process.returncode}); see {worker.log_path}")

    # -- stopping -------------------------------------------------------------------------------
    def stop_simulator(self) -> None:
        self._stop_sim.set()
        if self._sim_thread is not None:
            self._sim_thread.join(timeout=30)
        if self._desks is not None:
            self._desks.stop()

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until everything the simulator produced was ingested by the workers or ended at the
        bridge (filtered, or dead-lettered as too large)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            t = self.totals()
            ended_at_bridge = t.total("ioc_bridge_filtered_total") + t.total("ioc_bridge_deadletter_total")
            if t.total("ioc_ingested_total") + ended_at_bridge >= self.produced:
                return True
            time.sleep(0.5)
        return False

    def summary(self, drained: bool) -> RunSummary:
        t = self.totals()
        routed_by_ward = t.by_label("ioc_routed_total", "ward")
        wards = sorted(routed_by_ward.items(), key=lambda kv: kv[1], reverse=True)[:10]  # = Counter.most_common
        return RunSummary(
            produced=self.produced,
            ingested=int(t.total("ioc_ingested_total")),
            routed=int(t.total("ioc_routed_total")),
            unroutable=int(t.total("ioc_unroutable_total")),
            deadletter=int(t.total("ioc_deadletter_total")),
            filtered=int(t.total("ioc_filtered_total")),
            bridge={name: int(t.total(f"ioc_bridge_{name}_total"))
                    for name in ("received", "forwarded", "filtered", "deadletter", "reconnects")},
            published={k: int(v) for k, v in t.by_label("ioc_published_total", "target_kind").items()},
            unroutable_reasons={k: int(v) for k, v in t.by_label("ioc_unroutable_total", "reason").items()},
            deadletter_reasons={k: int(v) for k, v in t.by_label("ioc_deadletter_total", "reason").items()},
            top_wards=[{"code": c, "name": self.ward_names.get(c, ""), "routed": int(n)} for c, n in wards],
            first_routed_after_s=None if self.first_routed_at is None else round(self.first_routed_at - self.started_at, 2),
            duration_s=round(time.monotonic() - self.started_at, 2),
            drained=drained,
        )

    def stop(self) -> None:
        self.stop_simulator()
        if self.bridge is not None:
            self.bridge.stop(timeout_s=35.0)  # drains: what Kafka acknowledged is acknowledged to MQTT
        for process in [p for p in (self.api, self.delivery) if p is not None]:
            process.stop(timeout_s=10.0)
        for process in [*self.workers, *( [self.dashboard] if self.dashboard else [])]:
            process.stop(timeout_s=20.0)
        if self.mqtt is not None:
            self.mqtt.stop()
        self.stack.stop()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _spawn(name: str, argv: list[str], port: int, log_path: Path, env: dict[str, str]) -> ManagedProcess:
    return ManagedProcess(name, argv, port, log_path, ready_timeout_s=120.0, env=env)
