"""Scale-out on this machine: real `ioc worker` processes of one consumer group on the embedded broker.

Two workers split the intake partitions, a third joins and takes its share, one leaves on SIGTERM
(cleanly: exit 0, a clean Faust shutdown in its log, its partitions taken over by the others within
a bounded time) and comes back to take its share again, while the simulator keeps producing. At
the end the conservation ledger must show nothing lost and nothing misplaced; duplicates (allowed
at-least-once) are counted and printed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.scaleout import Fleet
from routers import topics
from streams.conservation import Ledger, Verdict, read_topics, verdict
from streams.settings import Settings
from streams.simulator.run import build_scenario, produce, register_scenario_devices
from tests.support import intake_committed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

RATE = 20.0  # events/s: below what even one worker keeps up with on a busy 2-core machine
START_S = 120.0  # a worker start plus the group's first assignment
REBALANCE_S = 60.0  # bound for taking over a departed member's partitions (session timeout is 10 s)
DRAIN_S = 120.0  # after the last rebalance, for the backlog a busy machine builds up
CLEAN_SHUTDOWN = ("[^Worker]: Signal received: 15", "LeaveGroup request succeeded", "[^Worker]: Closing event loop")


class Intake:
    """The simulator producing in the background; ``origins`` are the intake positions it wrote."""

    def __init__(self, settings: Settings) -> None:
        sim = build_scenario(settings, "hcmc", "rainstorm", seed=29)
        register_scenario_devices(settings, sim)
        self.origins: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=produce, name="intake", daemon=True, kwargs={
            "settings": settings, "sim": sim, "rate": RATE, "stop": self._stop, "on_sent": self._sent})

    def _sent(self, message: object, partition: int, offset: int) -> None:
        with self._lock:
            self.origins.append(f"{message.topic}/{partition}/{offset}")  # type: ignore[attr-defined]

    def __enter__(self) -> Intake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _clean_shutdown(log: Path) -> None:
    text = log.read_text("utf-8", "replace")
    for line in CLEAN_SHUTDOWN:
        assert line in text, f"{log} lacks {line!r}: not a clean shutdown"
    assert "Traceback" not in text and "CRITICAL" not in text, f"{log} shows an error"


@dataclass
class Story:
    """What happened while the group grew, shrank and grew again (run once for the module's tests)."""

    splits: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    sigterm_exit: int | None = None
    final_exits: dict[str, int | None] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    result: Verdict | None = None


@pytest.fixture(scope="module")
def story(scale_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Story:
    fleet = Fleet(scale_settings, tmp_path_factory.mktemp("scaleout-logs"), log_level="info")
    told = Story()
    t = told.timings
    try:
        fleet.start("w0", "w1")
        t["2 workers split"], told.splits["2 workers"] = fleet.wait_balanced(["w0", "w1"], START_S)
        with Intake(scale_settings) as intake:
            time.sleep(3)
            fleet.start("w2")  # joins while events flow
            t["3rd joins"], told.splits["3 workers"] = fleet.wait_balanced(["w0", "w1", "w2"], START_S)
            time.sleep(3)
            told.sigterm_exit, t["SIGTERM to exit"] = fleet.stop("w1")
            told.logs["w1 after SIGTERM"] = fleet.log_path("w1")
            _clean_shutdown(fleet.log_path("w1"))  # read now: the restart appends to the same log
            t["takeover after SIGTERM"], told.splits["w1 gone"] = fleet.wait_balanced(["w0", "w2"], REBALANCE_S)
            time.sleep(3)
            fleet.start("w1")  # restarted: takes its share back
            t["restarted takes back"], told.splits["w1 back"] = fleet.wait_balanced(["w0", "w1", "w2"], START_S)
            time.sleep(3)
        produced = list(intake.origins)
        assert len(produced) > RATE * 10, f"the simulator produced only {len(produced)} events"
        deadline = time.monotonic() + DRAIN_S
        while True:  # the group drains what was produced during the rebalances
            ledger = read_topics(scale_settings, [topics.ROUTED, topics.UNROUTABLE, topics.DEADLETTER], Ledger(),
                                 idle_s=2.0)
            told.result = verdict(produced, ledger)
            # once the group committed every intake offset, a message without an outcome is lost for good
            if told.result.lost == 0 or time.monotonic() > deadline or intake_committed(scale_settings.kafka_bootstrap or "", fleet.app_id):
                break
            time.sleep(3)
        print(f"\nscale-out: {told.result.line()}, e.g. lost {told.result.lost_examples}; "
              + "; ".join(f"{k} {v:.1f} s" for k, v in t.items()))
    finally:
        for name in list(fleet.workers):
            told.final_exits[name] = fleet.stop(name)[0]
            told.logs[name] = fleet.log_path(name)
    return told


def test_two_then_three_workers_split_the_intake_partitions(story: Story) -> None:
    for worker, held in story.splits["2 workers"].items():
        assert held == dict.fromkeys(topics.INTAKE, 3), f"{worker} holds {held}"
    for worker, held in story.splits["3 workers"].items():
        assert held == dict.fromkeys(topics.INTAKE, 2), f"{worker} holds {held}"


def test_sigterm_leaves_cleanly_and_the_others_take_over_in_bounded_time(story: Story) -> None:
    assert story.sigterm_exit == 0
    assert story.timings["SIGTERM to exit"] < 30
    assert story.timings["takeover after SIGTERM"] < REBALANCE_S
    for worker, held in story.splits["w1 gone"].items():
        assert held == dict.fromkeys(topics.INTAKE, 3), f"{worker} holds {held} after w1 left"


def test_a_restarted_worker_takes_its_share_back(story: Story) -> None:
    assert story.splits["w1 back"]["w1"] == dict.fromkeys(topics.INTAKE, 2)
    assert story.final_exits == {"w0": 0, "w1": 0, "w2": 0}
    for name in ("w0", "w1", "w2"):
        _clean_shutdown(story.logs[name])


def test_nothing_is_lost_or_misplaced_across_the_rebalances(story: Story) -> None:
    assert story.result is not None
    assert story.result.misplaced == 0
    assert story.result.lost == 0, f"lost {story.result.lost} of {story.result.produced}: {story.result.lost_examples}"
