"""How long one ``malloc_trim(0)`` takes on a fragmented heap, and whether it stalls an event loop.

    python -m benchmarks.malloc_trim_bench [--heap-mb 300] [--kept 0.25]

Builds a heap of ``--heap-mb`` MB of malloc'd blocks (1-4 kB ``bytes``: above CPython's 512-byte
small-object limit, so they come from glibc as a worker's decoded messages and outputs do), frees
all but every ``1/--kept``-th block (free chunks scattered between live ones: only
``malloc_trim`` can return them), then runs an asyncio loop that allocates and frees such blocks
as a batch does and measures its largest gap between two 1 ms ticks, first without a trim, then
while the worker's :class:`~streams.process_memory.Trimmer` trims once from its thread.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time

import click
import orjson

from streams.process_memory import Trimmer, load_glibc, rss_bytes


def fragmented_heap(heap_mb: int, kept: float, seed: int = 7) -> list[bytes]:
    """Allocate ``heap_mb`` MB of 1-4 kB blocks, keep every ``1/kept``-th one; return those kept."""
    rng = random.Random(seed)
    blocks = []
    total = 0
    while total < heap_mb * 1_000_000:
        size = rng.randint(1024, 4096)
        blocks.append(bytes(size))
        total += size
    step = max(1, round(1 / kept))
    return blocks[::step]


async def _max_tick_gap_s(duration_s: float, during: threading.Thread | None) -> float:
    """The largest gap between two 1 ms sleeps while the loop allocates like a batch."""
    rng = random.Random(1)
    worst = 0.0
    last = time.perf_counter()
    end = last + duration_s
    if during is not None:
        during.start()
    while time.perf_counter() < end or (during is not None and during.is_alive()):
        batch = [bytes(rng.randint(600, 3000)) for _ in range(200)]
        del batch
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        worst = max(worst, now - last)
        last = now
    return worst


def run(heap_mb: int, kept: float) -> dict[str, float]:
    glibc = load_glibc()
    if glibc is None:
        raise click.ClickException("not glibc: nothing to measure")
    start_rss = rss_bytes()
    live = fragmented_heap(heap_mb, kept)
    fragmented_rss = rss_bytes()
    baseline_gap = asyncio.run(_max_tick_gap_s(2.0, None))
    trimmer = Trimmer(glibc, 60.0)
    trims = []
    thread = threading.Thread(target=lambda: trims.append(trimmer.trim_once()))
    trim_gap = asyncio.run(_max_tick_gap_s(0.5, thread))
    thread.join()
    out = {"heap_mb": heap_mb, "kept_mb": round(sum(map(len, live)) / 1e6, 1),
           "rss_before_heap_mb": round(start_rss / 1e6, 1), "rss_fragmented_mb": round(fragmented_rss / 1e6, 1),
           "rss_after_trim_mb": round(rss_bytes() / 1e6, 1), "trim_s": round(trims[0].seconds, 4),
           "trim_released_mb": round(trims[0].released_bytes / 1e6, 1),
           "loop_max_gap_no_trim_ms": round(baseline_gap * 1e3, 2),
           "loop_max_gap_during_trim_ms": round(trim_gap * 1e3, 2)}
    del live
    return out


@click.command()
@click.option("--heap-mb", default=300, show_default=True, help="MB of blocks allocated before freeing.")
@click.option("--kept", type=click.FloatRange(0.01, 1), default=0.25, show_default=True,
              help="Share of the blocks kept alive (scattered through the heap).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(heap_mb: int, kept: float, as_json: bool) -> None:
    """One malloc_trim(0) on a fragmented heap: its time, what it returns, the event loop's largest stall."""
    out = run(heap_mb, kept)
    if as_json:
        click.echo(orjson.dumps(out).decode())
    else:
        for name, value in out.items():
            click.echo(f"{name}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
