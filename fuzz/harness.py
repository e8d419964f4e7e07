"""What every fuzz target shares: outcome counting, the stats file the runner reads, and the
libFuzzer entry point.

libFuzzer ends a run with C ``exit()``, so Python's ``atexit`` never runs; the counts are written
to ``IOC_FUZZ_STATS`` every ``FLUSH_EVERY`` inputs and after the last input (``-runs=N``).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable

import orjson

from routers.exceptions import Rejected

FLUSH_EVERY = 1000

Outcome = str  # "accepted", "unresolved", "rejected:<reason>" or "filtered:<reason>"


class Stats:
    def __init__(self, path: str | None, runs: int | None) -> None:
        self.path = path
        self.runs = runs
        self.outcomes: Counter[Outcome] = Counter()
        self.executed = 0

    def record(self, outcome: Outcome) -> None:
        self.executed += 1
        self.outcomes[outcome] += 1
        if self.path and (self.executed % FLUSH_EVERY == 0 or (self.runs and self.executed >= self.runs)):
            self.flush()

    def flush(self) -> None:
        assert self.path is not None
        tmp = f"{self.path}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(orjson.dumps({"executed": self.executed, "outcomes": dict(self.outcomes)}))
        os.replace(tmp, self.path)


def reason_code(rejection: Rejected) -> Outcome:
    """A rejection must carry a short stable code and a human message, or it is a bug."""
    if not (rejection.reason and rejection.reason.isidentifier() and len(rejection.reason) <= 40):
        raise AssertionError(f"rejection without a stable reason code: {rejection.reason!r}")
    if not rejection.detail:
        raise AssertionError(f"rejection {rejection.reason!r} without a message")
    return f"rejected:{rejection.reason}"


def runs_from_argv(argv: list[str]) -> int | None:
    for arg in argv:
        if arg.startswith("-runs="):
            return int(arg.split("=", 1)[1])
    return None


def main(check_one: Callable[[bytes], Outcome]) -> None:
    """Run ``check_one`` under libFuzzer with the process's argv (``-runs=N``, corpus dirs...)."""
    import atheris

    stats = Stats(os.environ.get("IOC_FUZZ_STATS"), runs_from_argv(sys.argv))

    selftest_crash = bool(os.environ.get("IOC_FUZZ_SELFTEST_CRASH"))  # proves the runner reports crashes

    def test_one_input(data: bytes) -> None:
        if selftest_crash:
            raise RuntimeError("IOC_FUZZ_SELFTEST_CRASH is set: a deliberate crash")
        stats.record(check_one(data))

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
