"""A short run of every atheris target (`python -m fuzz --runs 100000` is the full one): each
input must be accepted or rejected with a reason code; any other exception is a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
RUNS = 2000


@pytest.mark.timeout(600)
def test_every_fuzz_target_runs_without_a_crash(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fuzz", "--runs", str(RUNS), "--json", "--artifacts", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=540,
    )
    report = orjson.loads(done.stdout)
    by_name = {t["target"]: t for t in report["targets"]}
    assert set(by_name) == {"intake", "address", "status"}
    for name, target in by_name.items():
        assert target["crashes"] == 0, f"{name} crashed; reproducers: {target['artifacts']}\n{target.get('tail')}"
        assert target["executed"] >= RUNS, (name, target)
        assert sum(target["outcomes"].values()) >= RUNS, (name, target["outcomes"])
        assert target["accepted"] > 0, f"{name}: nothing accepted, the fuzzer never got past the parser"
    assert by_name["intake"]["rejected"] > 0 and by_name["status"]["rejected"] > 0
    assert done.returncode == 0 and report["ok"]


def test_a_crash_is_reported_with_its_reproducer(tmp_path: Path) -> None:
    """The runner must not hide a crash: a target that raises is counted and its input kept."""
    from fuzz.__main__ import run_target

    report = run_target("status", 50, seed=1, artifacts=tmp_path, timeout_s=120, show_progress=False,
                        extra_env={"IOC_FUZZ_SELFTEST_CRASH": "1"})
    assert report.crashes >= 1 and not report.ok
    assert report.artifacts and Path(report.artifacts[0]).is_file()
