"""Run an ``ioc`` command (the soak's workers) under ``tracemalloc`` and report what grows.

    python -m benchmarks.memtrace --every 60 --out /tmp/trace -- worker --web-port 0

Tracing starts after ``--warmup`` seconds, so only memory allocated from then on and still alive
is traced: that is the growth. Every ``--every`` seconds a daemon thread appends to
``<out>/memtrace.log``: RSS, the sizes of the lifecycle tables (and of the wards' open and closed
lists, and what the open incidents hold) and of the locator's caches, the allocators' own readings
(CPython's arenas and live blocks, glibc's heaps and mmapped blocks, the anonymous mappings' RSS:
these cost no tracing, so ``--frames 0`` gives them at full speed), the bytes traced, the top 20
allocation sites (grouped by their ``--frames``-deep traceback), what grew site by site since the
last report, and the live blocks of 128 KiB and more; with ``--census``, the collector's objects
by type and the largest containers.
The worker's own code is not touched: this module starts the tracer, then runs ``cli``
in the same process. Taking a snapshot holds the GIL for a time that grows with the traced
blocks, so the worker pauses briefly: keep ``--every`` at a minute or more.

``tracemalloc`` only sees memory allocated through Python's allocator; the allocator readings tell
live objects (pymalloc's bytes in blocks) from memory held around them (arenas, free pool space).
"""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import click

from benchmarks.worker_memory import rss_by_mapping
from streams.process_memory import rss_bytes

TOP = 20
LARGE_BLOCK = 128 * 1024
_HIDDEN = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
           tracemalloc.Filter(False, "<unknown>"))


def _rss_mb() -> float:
    return rss_bytes() / 2**20


def _sizes() -> dict[str, int]:
    """Lengths of the long-lived structures the soak suspects (those that exist in this process)."""
    out: dict[str, int] = {}
    agents = sys.modules.get("streams.lifecycle.agents")
    if agents is not None:
        for name in ("incidents_table", "wards_table", "seen_table", "reports_table"):
            table = getattr(agents, name, None)
            if table is not None:
                out[f"lifecycle.{name}"] = len(table.data)
        services = getattr(getattr(agents, "app", None), "attached", None)
        state = getattr(services, "lifecycle", None)
        book = getattr(state, "book", None)
        if book is not None:
            out["lifecycle.book._decoded"] = len(book._decoded)
            out.update(_incident_parts(table_values(agents)))
            open_, closed = 0, 0
            for ward_book in _values(getattr(agents, "wards_table", None)):
                if isinstance(ward_book, dict):
                    open_ += len(ward_book.get("open", ()))
                    closed += len(ward_book.get("closed", ()))
            out["lifecycle.open_incidents"] = open_
            out["lifecycle.closed_incidents_kept"] = closed
    address = sys.modules.get("routers.locate.address")
    if address is not None:
        out["address._by_spelling_key"] = len(getattr(address, "_by_spelling_key", ()))
        for name in dir(address):
            info: Callable[[], object] | None = getattr(getattr(address, name), "cache_info", None)
            if info is not None:
                out[f"address.{name}.cache"] = info().currsize  # type: ignore[attr-defined]
    # not gc.get_objects(): from another thread it can catch a tuple the event loop is still
    # building and make its resize fail (SystemError in aiokafka)
    return out


class _Mallinfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (<malloc.h>, glibc >= 2.33): every field a size_t
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _glibc_heap() -> dict[str, int]:
    """glibc's view, in bytes (``_allocators`` turns the ``_mb`` ones into MB): taken by its heaps (all
    arenas), in use there, free there, and in mmapped blocks."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return {}
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return {"alloc.glibc_heap_mb": info.arena, "alloc.glibc_in_use_mb": info.uordblks,
            "alloc.glibc_free_mb": info.fordblks, "alloc.glibc_mmapped_mb": info.hblkhd}


_PYMALLOC_FIELDS = {"# arenas allocated current": "alloc.pymalloc_arenas",
                    "# bytes in allocated blocks": "alloc.pymalloc_in_blocks_mb",
                    "# bytes in available blocks": "alloc.pymalloc_free_in_pools_mb",
                    "# bytes in unused pools": "alloc.pymalloc_unused_pools_mb"}


def _pymalloc() -> dict[str, int]:
    """CPython's small-object allocator: arenas held (1 MiB each) against the bytes its live blocks use.

    ``sys._debugmallocstats()`` writes to the C ``stderr``, so fd 2 is pointed at a file for the
    call: a line another thread logs meanwhile lands there, not in the worker's log.
    """
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("ascii", "replace")
    out: dict[str, int] = {}
    for line in text.splitlines():
        label, _, value = line.partition("=")
        name = _PYMALLOC_FIELDS.get(label.strip())
        if name is not None:
            out[name] = int(value.strip().replace(",", ""))
    return out


def _anonymous_mb() -> dict[str, float]:
    """RSS of the anonymous mappings by kind: the brk heap, and the rest."""
    try:
        by_name, _ = rss_by_mapping()
    except OSError:
        return {}
    return {"alloc.brk_heap_rss_mb": by_name.get("[heap]", 0.0), "alloc.anonymous_rss_mb": by_name.get("[anon]", 0.0)}


def _collector() -> dict[str, int]:
    """The cyclic collector's runs and what they freed, per generation: garbage in a cycle is live
    to the allocator until a collection of its generation runs, and a full one (generation 2) runs
    only once the objects promoted since the last exceed a quarter of the old generation."""
    readings: dict[str, int] = {}
    for generation, stats in enumerate(gc.get_stats()):
        readings[f"gc.gen{generation}_collections"] = stats["collections"]
        readings[f"gc.gen{generation}_collected"] = stats["collected"]
    readings["gc.frozen"] = gc.get_freeze_count()
    return readings


def _allocators() -> dict[str, float]:
    sizes: dict[str, float] = {name: value / 2**20 if name.endswith("_mb") else value
                               for name, value in {**_glibc_heap(), **_pymalloc()}.items()}
    sizes["alloc.python_blocks"] = sys.getallocatedblocks()
    sizes.update(_collector())
    sizes.update(_anonymous_mb())
    return {name: round(value, 2) for name, value in sizes.items()}


def _incident_parts(bodies: list[object]) -> dict[str, int]:
    """What the open incidents hold, summed: the parts that grow while they stay open."""
    parts = dict.fromkeys(("evidence_items", "history_entries", "device_ids", "report_ids", "report_tail_bytes",
                           "report_sealed_bytes"), 0)
    for body in bodies:
        if isinstance(body, dict):
            parts["evidence_items"] += len(body.get("evidence", ()))
            continue
        evidence = getattr(body, "evidence", None)
        if evidence is None:
            continue
        parts["evidence_items"] += len(evidence)
        parts["history_entries"] += len(getattr(body, "history", ()))
        parts["device_ids"] += len(getattr(body, "device_ids", ()))
        ids = getattr(body, "report_ids", ())
        parts["report_ids"] += len(ids)
        parts["report_tail_bytes"] += len(getattr(ids, "_tail", b""))
        parts["report_sealed_bytes"] += sum(len(chunk) for chunk in getattr(ids, "_sealed", ()))
    return {f"lifecycle.{name}": value for name, value in parts.items()}


def table_values(agents: object) -> list[object]:
    return _values(getattr(agents, "incidents_table", None))


def _values(table: object) -> list[object]:
    if table is None:
        return []
    try:
        return list(table.data.values())  # type: ignore[attr-defined]
    except RuntimeError:  # resized by the event loop meanwhile: skip this count
        return []


CENSUS_TOP = 25


def _census() -> list[str]:
    """Objects the collector tracks, counted by type, and the largest containers by length.

    Run on the worker's event loop (``gc.get_objects`` from another thread can catch a tuple being
    built); it holds the loop for a fraction of a second, so keep ``--every`` at a minute or more.
    Containers are named by type, length and ``id`` (the same id over reports is the same object).
    Only what the collector tracks is seen: not strings, bytes and numbers, nor a dict holding only
    those, nor the C caches of ``functools.lru_cache`` (their sizes are in the ``size`` lines).
    """
    by_type: collections.Counter[str] = collections.Counter()
    sized: list[tuple[int, str]] = []
    for obj in gc.get_objects():
        kind = type(obj)
        by_type[kind.__qualname__] += 1
        if kind in (dict, list, set, collections.deque, collections.OrderedDict, collections.defaultdict):
            length = len(obj)  # type: ignore[arg-type]
            if length >= 2000:
                sample = ""
                if isinstance(obj, dict) and obj:
                    sample = repr(next(iter(obj)))[:60]
                elif isinstance(obj, (list, collections.deque)) and obj:
                    sample = type(obj[0]).__qualname__
                sized.append((length, f"{kind.__qualname__} id={id(obj):x} first={sample}"))
    lines = [f"census type {name} = {count}" for name, count in by_type.most_common(CENSUS_TOP)]
    lines += [f"census container {length} {what}" for length, what in sorted(sized, reverse=True)[:CENSUS_TOP]]
    return lines


def _on_loop(work: Callable[[], list[str]], what: str, timeout_s: float = 30.0) -> list[str]:
    """``work()`` run on the worker's event loop (between two of its callbacks), its lines."""
    app_module = sys.modules.get("streams.app")
    loop = getattr(getattr(app_module, "app", None), "loop", None)
    if loop is None or not loop.is_running():
        return [f"{what} skipped: no running event loop"]
    done = threading.Event()
    result: list[str] = []

    def run() -> None:
        try:
            result.extend(work())
        finally:
            done.set()

    loop.call_soon_threadsafe(run)
    return result if done.wait(timeout_s) else [f"{what} skipped: the loop did not run it in time"]


def _census_on_loop(timeout_s: float = 30.0) -> list[str]:
    return _on_loop(_census, "census", timeout_s)


def _full_collection() -> list[str]:
    """A full collection now, and what it freed: the cyclic garbage that was waiting in the older
    generations (counted as live by the allocator readings until a collection of its generation
    runs). An experiment, not a reading: it changes the worker it measures."""
    before = _pymalloc().get("alloc.pymalloc_in_blocks_mb", 0) / 2**20
    started = time.perf_counter()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what it finds is kept in gc.garbage, to be named below
    try:
        freed = gc.collect()
    finally:
        gc.set_debug(0)
    took_ms = (time.perf_counter() - started) * 1000
    found = collections.Counter(_garbage_name(obj) for obj in gc.garbage)
    gc.garbage.clear()
    after = _pymalloc().get("alloc.pymalloc_in_blocks_mb", 0) / 2**20
    return [f"size gc.full_collection_freed = {freed}", f"size gc.full_collection_ms = {took_ms:.0f}",
            f"size gc.full_collection_released_mb = {before - after:.2f}",
            *(f"collected {count} {name}" for name, count in found.most_common(CENSUS_TOP))]


def _garbage_name(obj: object) -> str:
    """A collected object's type, and for a frame or function where its code is."""
    code = getattr(obj, "f_code", None) or getattr(obj, "__code__", None)
    name = type(obj).__qualname__
    if code is not None:
        return f"{name} {code.co_filename.rsplit('/', 3)[-1]}:{code.co_name}"
    return name


_previous: dict[str, tracemalloc.Snapshot] = {}


def _report(log: Path, started: float, frames: int, census: bool = False, collect: bool = False) -> None:
    lines = [f"=== t={time.monotonic() - started:.0f}s rss={_rss_mb():.1f}MB"]
    lines += [f"size {name} = {value}" for name, value in sorted({**_sizes(), **_allocators()}.items())]
    if census:
        lines += _census_on_loop()
    if collect:
        lines += _on_loop(_full_collection, "full collection")
    if tracemalloc.is_tracing():
        taking = time.monotonic()
        # only what was allocated since tracing started and is still alive: the growth itself
        snapshot = tracemalloc.take_snapshot()
        traced, peak = tracemalloc.get_traced_memory()
        stats = snapshot.filter_traces(_HIDDEN).statistics("traceback")
        lines.append(f"traced={traced / 2**20:.1f}MB traced_peak={peak / 2**20:.1f}MB "
                     f"traces={len(snapshot.traces)} snapshot_took={time.monotonic() - taking:.1f}s")
        for stat in stats[:TOP]:
            lines.append(f"{stat.size / 2**20:8.2f} MB  {stat.count:9d} blocks")
            lines += [f"      {frame.filename}:{frame.lineno}" for frame in stat.traceback[-frames:]]
        filtered = snapshot.filter_traces(_HIDDEN)
        # blocks of 128 KiB and more get their own mapping from glibc (the worker's mmap threshold):
        # which are alive, and who made them
        large = sorted((t for t in filtered.traces if t.size >= LARGE_BLOCK), key=lambda t: -t.size)
        lines.append(f"large blocks alive: {len(large)}, {sum(t.size for t in large) / 2**20:.2f} MB")
        for trace in large[:TOP]:
            lines.append(f"{trace.size / 2**20:8.2f} MB")
            lines += [f"      {frame.filename}:{frame.lineno}" for frame in trace.traceback[-frames:]]
        earlier = _previous.get("snapshot")
        if earlier is not None:
            # what grew since the last report, site by site: a steady grower shows in every report,
            # the backlog's buffers come and go
            lines.append("grown since the last report:")
            for diff in filtered.compare_to(earlier, "traceback")[:TOP]:
                lines.append(f"{diff.size_diff / 2**20:+8.2f} MB  {diff.count_diff:+9d} blocks")
                lines += [f"      {frame.filename}:{frame.lineno}" for frame in diff.traceback[-frames:]]
        _previous["snapshot"] = filtered
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def start(every_s: float, out: Path, frames: int, warmup_s: float, census: bool = False, collect: bool = False) -> None:
    """After ``warmup_s``, start tracing (frames > 0) and report every ``every_s`` (with a census)."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "memtrace.log"
    started = time.monotonic()

    def loop() -> None:
        time.sleep(warmup_s)
        if frames > 0:
            tracemalloc.start(frames)  # from here on: start-up allocations are not in the report
        while True:
            _report(log, started, frames, census, collect)
            time.sleep(every_s)

    threading.Thread(target=loop, name="memtrace", daemon=True).start()


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--every", type=click.FloatRange(min=1), default=60.0, show_default=True, help="Seconds between snapshots.")
@click.option("--warmup", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds before the first (baseline) snapshot.")
@click.option("--frames", type=click.IntRange(0, 50), default=6, show_default=True,
              help="Traceback depth kept; 0: no tracemalloc, only RSS and the structure sizes.")
@click.option("--census", is_flag=True,
              help="Also count the collector's objects by type and list the largest containers, on the event loop.")
@click.option("--collect", is_flag=True,
              help="Also run a full collection on the event loop at each report and say what it freed "
                   "(an experiment: the worker measured is not left as it was).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.argument("ioc_args", nargs=-1, type=click.UNPROCESSED)
def main(every: float, warmup: float, frames: int, census: bool, collect: bool, out: Path,
         ioc_args: tuple[str, ...]) -> None:
    """Start tracemalloc, then run ``ioc IOC_ARGS...`` in this process."""
    start(every, out, frames, warmup, census, collect)
    from cli import main as ioc_main

    sys.argv = ["ioc", *ioc_args]
    ioc_main()


if __name__ == "__main__":
    main()
