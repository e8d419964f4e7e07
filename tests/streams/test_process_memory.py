"""The worker's allocator handling (streams/process_memory.py): mallopt at start, a periodic
malloc_trim off the event loop, nothing (and one log line) off glibc.

The trim is checked for real: a child process frees a large, fragmented heap and its RSS, read
from /proc, must fall once the worker's Trimmer thread has run."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from streams import process_memory
from streams.process_memory import AllocatorPlan, configure, glibc_version, load_glibc, plan_from
from streams.settings import load_settings

needs_glibc = pytest.mark.skipif(glibc_version() is None, reason="malloc_trim and mallopt are glibc's")


def test_off_glibc_nothing_is_changed_and_one_line_says_so(caplog: pytest.LogCaptureFixture) -> None:
    plan = AllocatorPlan(arena_max=2, trim_interval_s=30.0)
    with caplog.at_level(logging.WARNING, logger=process_memory.__name__):
        assert configure(plan, None) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "not running on glibc" in lines[0] and "arena max 2" in lines[0]


def test_plan_follows_the_settings_and_refuses_negative_values() -> None:
    settings = load_settings({"IOC_MALLOC_TRIM_INTERVAL_S": "15", "IOC_MALLOC_ARENA_MAX": "2",
                              "IOC_MALLOC_MMAP_THRESHOLD": "131072", "IOC_MALLOC_TRIM_THRESHOLD": "0"})
    assert plan_from(settings) == AllocatorPlan(2, 131072, 0, 15.0)
    assert "trim threshold glibc's own" in plan_from(settings).describe()
    with pytest.raises(ValueError, match="trim_interval_s"):
        AllocatorPlan(trim_interval_s=-1)


def test_no_periodic_trim_means_no_thread() -> None:
    glibc = load_glibc()
    if glibc is None:
        pytest.skip("not glibc")
    assert configure(AllocatorPlan(), glibc) is None


@needs_glibc
def test_glibc_is_found_and_accepts_the_worker_settings() -> None:
    glibc = load_glibc()
    assert glibc is not None and glibc.version.split(".")[0] == "2"
    # values a worker may set; glibc answers 1 when it takes them (the same values as now: harmless here)
    assert glibc.mallopt(process_memory.M_ARENA_MAX, 8 * 64)


CHILD = textwrap.dedent("""
    import sys, time
    from streams.process_memory import AllocatorPlan, configure, load_glibc, rss_bytes
    trims = []
    trimmer = configure(AllocatorPlan(trim_interval_s=0.2), load_glibc(), trims.append)
    # 200 MB of 2-16 kB blocks (malloc's, not CPython's small-object pools); keep every 16th, so the
    # freed chunks lie between live ones where free() cannot hand them back, only malloc_trim can
    blocks = [bytes(2048 + (n * 4099) % 14336) for n in range(22_000)]
    kept = blocks[::16]
    del blocks
    freed = rss_bytes()
    trimmer.start()
    deadline = time.monotonic() + 10
    while not trims and time.monotonic() < deadline:
        time.sleep(0.05)
    trimmer.stop()
    print(freed, rss_bytes(), len(trims), trims[0].released_bytes if trims else -1, len(kept))
""")


@needs_glibc
def test_the_trimmer_thread_hands_a_freed_heap_back_to_the_kernel() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    freed_rss, trimmed_rss, trims, released, _ = map(int, done.stdout.split())
    assert trims >= 1
    # ~190 MB were freed; at least 100 MB of it must leave the resident set (measured: ~150 MB)
    assert freed_rss - trimmed_rss > 100_000_000, (freed_rss, trimmed_rss)
    assert released > 100_000_000
