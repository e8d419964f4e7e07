"""The soak's memory readings (benchmarks.memtrace): what each one counts, on real objects."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import tracemalloc
import types
from pathlib import Path

import pytest

from benchmarks import memtrace
from routers.incidents.lifecycle import add_evidence, open_incident
from tests.routers.incidents.factories import T0, routed_event


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython's small-object allocator")
def test_the_allocator_readings_count_live_objects() -> None:
    before = memtrace._allocators()
    kept = [object() for _ in range(200_000)]  # 16-byte objects: ~3 MB of pymalloc blocks
    after = memtrace._allocators()
    assert after["alloc.python_blocks"] - before["alloc.python_blocks"] >= 190_000
    assert after["alloc.pymalloc_in_blocks_mb"] - before["alloc.pymalloc_in_blocks_mb"] >= 2.5
    # the live blocks sit in the arenas held (1 MiB each; free arenas may have taken these objects)
    assert after["alloc.pymalloc_arenas"] >= after["alloc.pymalloc_in_blocks_mb"]
    del kept


def test_the_collector_readings_count_a_full_collection() -> None:
    before = memtrace._allocators()
    gc.collect()
    after = memtrace._allocators()
    assert after["gc.gen2_collections"] == before["gc.gen2_collections"] + 1
    assert {f"gc.gen{n}_collected" for n in range(3)} <= after.keys() and after["gc.frozen"] >= 0


def test_the_full_collection_says_what_cyclic_garbage_it_freed() -> None:
    gc.collect()
    gc.disable()  # so that no automatic collection frees them first
    try:
        for _ in range(1_000):  # garbage only a collection frees: each list holds itself
            cycle: list[object] = [bytes(512)]
            cycle.append(cycle)
        del cycle
        report = memtrace._full_collection()
    finally:
        gc.enable()
    lines = dict(line.removeprefix("size ").split(" = ") for line in report if line.startswith("size "))
    collected = {line.split()[2]: int(line.split()[1]) for line in report if line.startswith("collected ")}
    assert int(lines["gc.full_collection_freed"]) >= 1_000
    assert float(lines["gc.full_collection_ms"]) >= 0 and "gc.full_collection_released_mb" in lines
    assert collected["list"] >= 1_000  # and what they were


def test_the_incident_parts_sum_what_open_incidents_hold() -> None:
    first = open_incident(routed_event("1022-a"), T0)
    grown = add_evidence(first, routed_event("1022-b"), T0)
    grown = add_evidence(grown, routed_event("1022-c"), T0)
    parts = memtrace._incident_parts([first, grown, {"evidence": [1, 2]}, None])
    assert parts["lifecycle.report_ids"] == 1 + 3
    assert parts["lifecycle.evidence_items"] == len(first.evidence) + len(grown.evidence) + 2
    # the open chunks are JSON arrays of the ids: ["1022-a"] and ["1022-a","1022-b","1022-c"]
    assert parts["lifecycle.report_tail_bytes"] == len(b'["1022-a"]') + len(b'["1022-a","1022-b","1022-c"]')
    assert parts["lifecycle.report_sealed_bytes"] == 0


def test_the_census_runs_on_the_event_loop_and_names_large_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    # larger than anything pytest holds; values the collector tracks (a dict of atoms only is untracked)
    big = {f"key-{n}": [n] for n in range(300_000)}
    ran_on: list[str] = []
    real_census = memtrace._census

    def census() -> list[str]:
        ran_on.append(threading.current_thread().name)
        return real_census()

    monkeypatch.setattr(memtrace, "_census", census)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, name="event-loop")
    runner.start()
    try:
        monkeypatch.setitem(sys.modules, "streams.app", types.SimpleNamespace(app=types.SimpleNamespace(loop=loop)))
        lines = memtrace._census_on_loop()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join()
        loop.close()
    assert ran_on == ["event-loop"]
    assert any(line.startswith("census type dict = ") for line in lines)
    assert f"census container 300000 dict id={id(big):x} first='key-0'" in lines


def test_no_census_without_a_running_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "streams.app", types.SimpleNamespace(app=None))
    assert memtrace._census_on_loop() == ["census skipped: no running event loop"]


def test_a_traced_report_names_the_large_blocks_and_what_grew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memtrace, "_previous", {})
    log = tmp_path / "memtrace.log"
    tracemalloc.start(1)
    try:
        memtrace._report(log, started=0.0, frames=1)
        large = bytearray(300 * 1024)  # over glibc's mmap threshold in the worker: its own mapping
        small = [str(n) * 20 for n in range(20_000)]
        memtrace._report(log, started=0.0, frames=1)
    finally:
        tracemalloc.stop()
    text = log.read_text(encoding="utf-8")
    assert "large blocks alive: " in text
    here = f"{__file__}:"
    second = text.split("=== t=")[-1]
    listed = second.split("large blocks alive: ")[1].split("grown since the last report:")[0]
    assert "0.29 MB" in listed and here in listed  # the bytearray, named by this file
    grown = second.split("grown since the last report:")[1]
    assert here in grown  # the strings made between the two reports
    del large, small
