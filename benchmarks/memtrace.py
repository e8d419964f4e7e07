"""Run an ``ioc`` command (the soak's workers) under ``tracemalloc`` and report what grows.

    python -m benchmarks.memtrace --every 60 --out /tmp/trace -- worker --web-port 0

Tracing starts after ``--warmup`` seconds, so only memory allocated from then on and still alive
is traced: that is the growth. Every ``--every`` seconds a daemon thread appends to
``<out>/memtrace.log``: RSS, the sizes of the lifecycle tables (and of the wards' open and closed
lists) and of the locator's caches, the bytes traced, and the top 20 allocation sites (grouped by
their ``--frames``-deep traceback).
The worker's own code is not touched: this module starts the tracer, then runs ``cli``
in the same process. Taking a snapshot holds the GIL for a time that grows with the traced
blocks, so the worker pauses briefly: keep ``--every`` at a minute or more.

``tracemalloc`` only sees memory allocated through Python's allocator; RSS growth it does not
account for is C-level (extension buffers) or allocator fragmentation.
"""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import click

from streams.process_memory import rss_bytes

TOP = 20
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
            evidence = 0
            for body in list(table_values(agents)):
                evidence += len(body.get("evidence", ())) if isinstance(body, dict) else 0
            out["lifecycle.evidence_items"] = evidence
            open_, closed = 0, 0
            for ward_book in _values(getattr(agents, "wards_table", None)):
                if isinstance(ward_book, dict):
                    open_ += len(ward_book.get("open", ()))
                    closed += len(ward_book.get("closed", ()))
            out["lifecycle.open_incidents"] = open_
            out["lifecycle.closed_incidents_kept"] = closed
    address = sys.modules.get("routers.locate.address")
    if address is not None:
        for name in dir(address):
            info: Callable[[], object] | None = getattr(getattr(address, name), "cache_info", None)
            if info is not None:
                out[f"address.{name}.cache"] = info().currsize  # type: ignore[attr-defined]
    # not gc.get_objects(): from another thread it can catch a tuple the event loop is still
    # building and make its resize fail (SystemError in aiokafka)
    return out


def table_values(agents: object) -> list[object]:
    return _values(getattr(agents, "incidents_table", None))


def _values(table: object) -> list[object]:
    if table is None:
        return []
    try:
        return list(table.data.values())  # type: ignore[attr-defined]
    except RuntimeError:  # resized by the event loop meanwhile: skip this count
        return []


def _report(log: Path, started: float, frames: int) -> None:
    lines = [f"=== t={time.monotonic() - started:.0f}s rss={_rss_mb():.1f}MB"]
    lines += [f"size {name} = {value}" for name, value in sorted(_sizes().items())]
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
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def start(every_s: float, out: Path, frames: int, warmup_s: float) -> None:
    """After ``warmup_s``, start tracing (frames > 0) and report every ``every_s``."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "memtrace.log"
    started = time.monotonic()

    def loop() -> None:
        time.sleep(warmup_s)
        if frames > 0:
            tracemalloc.start(frames)  # from here on: start-up allocations are not in the report
        while True:
            _report(log, started, frames)
            time.sleep(every_s)

    threading.Thread(target=loop, name="memtrace", daemon=True).start()


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--every", type=click.FloatRange(min=1), default=60.0, show_default=True, help="Seconds between snapshots.")
@click.option("--warmup", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds before the first (baseline) snapshot.")
@click.option("--frames", type=click.IntRange(0, 50), default=6, show_default=True,
              help="Traceback depth kept; 0: no tracemalloc, only RSS and the structure sizes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.argument("ioc_args", nargs=-1, type=click.UNPROCESSED)
def main(every: float, warmup: float, frames: int, out: Path, ioc_args: tuple[str, ...]) -> None:
    """Start tracemalloc, then run ``ioc IOC_ARGS...`` in this process."""
    start(every, out, frames, warmup)
    from cli import main as ioc_main

    sys.argv = ["ioc", *ioc_args]
    ioc_main()


if __name__ == "__main__":
    main()
