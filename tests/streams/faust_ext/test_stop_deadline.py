"""A worker told to stop leaves within STOP_DEADLINE_S even when its orderly stop cannot finish
(the broker went away with the parent that started both)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from streams.faust_ext import worker as worker_module


def test_a_stop_that_overruns_its_deadline_ends_the_process() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "import time\nfrom streams.faust_ext.worker import exit_after_deadline\n"
         "exit_after_deadline(0.3)\ntime.sleep(30)"],
        capture_output=True, text=True, timeout=20)
    assert done.returncode == worker_module.STOP_OVERRUN_EXIT
    assert time.monotonic() - started < 15
    assert "orderly stop took over 0.3 s" in done.stderr


def test_the_first_stop_signal_arms_the_deadline_once(monkeypatch: pytest.MonkeyPatch) -> None:
    armed: list[float] = []
    scheduled: list[object] = []
    monkeypatch.setattr(worker_module, "exit_after_deadline", armed.append)
    monkeypatch.setattr(worker_module.faust.Worker, "_schedule_shutdown",
                        lambda self, signal: scheduled.append(signal) or setattr(self, "_signal_stop_time", 1.0))
    stopping = worker_module.Worker.__new__(worker_module.Worker)  # no app, no loop: only the override runs
    stopping._signal_stop_time = None
    stopping._schedule_shutdown("SIGTERM")  # type: ignore[arg-type]
    stopping._schedule_shutdown("SIGINT")  # type: ignore[arg-type]  # a second signal: no second timer
    assert armed == [worker_module.STOP_DEADLINE_S] and scheduled == ["SIGTERM", "SIGINT"]
