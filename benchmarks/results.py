"""The benchmarks' shared result types: one contender's round (:class:`Result`), its summary over the
rounds (:class:`Row`), and the two measurements every row is built from (rates from the drain's
samples, a process's CPU seconds).

``throughput`` builds rows from them and ``pipeline_row``/``lifecycle_row`` add rows of their own;
keeping them here lets those modules import one way (rows -> results) instead of each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from benchmarks._broker import Drained


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    n: int
    delivered: int
    rate: float  # events/s: median of the per-interval rates while the sink was filling
    overall_rate: float  # events/s: from the first output message to the N-th
    interval_rates: tuple[float, ...] = field(default=())
    lost: int = 0
    duplicates: int = 0
    cpu_us_per_event: float | None = None  # contender CPU per message (load-independent cost)

    @property
    def complete(self) -> bool:
        return self.delivered >= self.n


def rates_of(progress: Drained, intervals: int = 10) -> tuple[float, tuple[float, ...]]:
    """(overall rate, per-interval rates) from the watcher's samples.

    The clock starts at the first sample with output (the contender's startup and consumer group join
    are not throughput) and stops when the target was reached. The span is cut into ``intervals``
    equal slices of *messages*; each slice's rate is its messages over the time they took.
    """
    samples = [(t, c) for t, c in progress.samples if c > 0]
    if len(samples) < 2:
        return 0.0, ()
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    overall = (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0
    rates: list[float] = []
    step = max(1, (c1 - c0) // intervals)
    boundary_t, boundary_c = t0, c0
    for t, c in samples[1:]:
        if c - boundary_c >= step and t > boundary_t:
            rates.append((c - boundary_c) / (t - boundary_t))
            boundary_t, boundary_c = t, c
    return overall, tuple(rates)


@dataclass(frozen=True, slots=True)
class Row:
    """One contender's summary over the rounds: ``rate`` is the median of the rounds' rates."""

    name: str
    rate: float
    ratio: float
    rounds: tuple[float, ...]
    cpu_us_per_event: float | None
    complete: bool
    delivered: int  # fewest delivered in a round (N when complete)
    lost: int
    duplicates: int


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, all threads (Linux /proc); -1 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
