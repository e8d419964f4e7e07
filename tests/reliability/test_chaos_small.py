"""The small chaos run `make test` includes: 5k mixed events through two real workers while one is
SIGKILLed and restarted, Redis is stopped and restarted, and the broker is frozen (SIGSTOP).
Nothing produced may be lost; duplicates are allowed (at-least-once) and counted. The full run
is `make chaos` (benchmarks/chaos.py, 100k events)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import ChaosPlan, run_chaos

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(420)
def test_nothing_is_lost_when_a_worker_redis_and_the_broker_fail(data_dir: Path, tmp_path: Path) -> None:
    plan = ChaosPlan(events=5000, rate=250.0, workers=2, kills=1, redis_outage_s=6.0, broker_freeze_s=4.0,
                     timeout_s=360.0, seed=21)
    lines: list[str] = []
    result = run_chaos(plan, data_dir, say=lines.append, run_dir=tmp_path / "run")
    story = "\n".join(lines)
    assert [f.fault for f in result.faults] == ["kill", "redis", "broker"], story
    assert result.unexpected_exits == [], f"a worker crashed instead of waiting:\n{story}"
    assert not result.timed_out, f"not drained in {plan.timeout_s:.0f}s:\n{story}\n{result.to_json()}"
    assert result.produced == plan.events
    assert result.verdict is not None
    assert result.verdict.lost == 0, f"lost e.g. {result.verdict.lost_examples}\n{story}"
    assert result.verdict.misplaced == 0
    # every outcome kind is present: the mix has bad input and unplaceable events too
    assert set(result.outcomes) == {"ioc.routed", "ioc.unroutable", "ioc.deadletter"}, result.outcomes
    assert sum(result.outcomes.values()) == plan.events
