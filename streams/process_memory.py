"""The worker process's memory under glibc malloc: allocator settings at start, a periodic trim.

Why (measured; docs/performance.md, "The allocator: mallopt and a periodic malloc_trim"): each
batch's transient bytes (decoded messages, outputs held until acknowledged) are freed into
glibc's heap, which keeps them: free chunks between live ones are never given back by ``free()``
(only the heap's top is, past ``M_TRIM_THRESHOLD``), so the RSS follows the high-water mark of
the working set. In the 1,000 events/s soak each trim handed ~69 MB back in ~14 ms, and with the
shipped thresholds the worker ran ~40 MB lower; ``malloc_trim(0)`` returns every free page of
every arena to the kernel (``madvise(MADV_DONTNEED)``), zeroed on the next use.

Invariant kept: nothing here runs on the event loop. The trim runs in a daemon thread; ctypes
releases the GIL for the call, so Python code goes on, and only an allocation in the arena being
trimmed waits for it (small objects come from CPython's own pools, not from malloc).

Glibc only (``os.confstr("CS_GNU_LIBC_VERSION")``): under musl or on macOS every step is skipped
with one log line saying so. The ``mallopt`` parameter numbers are glibc's ``<malloc.h>`` ABI.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings

log = logging.getLogger(__name__)

# <malloc.h>: parameter numbers of mallopt(), unchanged since glibc 2.10
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


@dataclass(frozen=True, slots=True)
class AllocatorPlan:
    """What to ask of the allocator; 0 leaves a parameter to glibc (its default, dynamic thresholds)."""

    arena_max: int = 0
    mmap_threshold_bytes: int = 0
    trim_threshold_bytes: int = 0
    trim_interval_s: float = 0.0  # 0: no periodic trim

    def __post_init__(self) -> None:
        for name in ("arena_max", "mmap_threshold_bytes", "trim_threshold_bytes", "trim_interval_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (glibc's own) or positive, not {getattr(self, name)}")

    def describe(self) -> str:
        def own(value: float, text: str) -> str:
            return text if value else "glibc's own"

        return (f"arena max {own(self.arena_max, str(self.arena_max))}, "
                f"mmap threshold {own(self.mmap_threshold_bytes, f'{self.mmap_threshold_bytes} B')}, "
                f"trim threshold {own(self.trim_threshold_bytes, f'{self.trim_threshold_bytes} B')}, "
                f"malloc_trim {f'every {self.trim_interval_s:g} s' if self.trim_interval_s else 'never'}")


def glibc_version() -> str | None:
    """``"2.36"`` under glibc, None under another C library (musl, macOS's)."""
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):  # no confstr, or the name unknown to this libc
        return None
    if not value or not value.startswith("glibc "):
        return None
    return value.split(" ", 1)[1]


class Glibc:
    """glibc's malloc controls, through ctypes (a ``CDLL``: the GIL is released during each call)."""

    def __init__(self, version: str, libc: ctypes.CDLL) -> None:
        self.version = version
        self._mallopt = libc.mallopt
        self._mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        self._mallopt.restype = ctypes.c_int
        self._malloc_trim = libc.malloc_trim
        self._malloc_trim.argtypes = (ctypes.c_size_t,)
        self._malloc_trim.restype = ctypes.c_int

    def mallopt(self, param: int, value: int) -> bool:
        """True when glibc accepted the value."""
        return bool(self._mallopt(param, value))

    def malloc_trim(self) -> bool:
        """Return every free page to the kernel; True when some memory was released."""
        return bool(self._malloc_trim(0))


def load_glibc() -> Glibc | None:
    """glibc's malloc controls, or None when this process does not run on glibc."""
    version = glibc_version()
    if version is None:
        return None
    try:
        return Glibc(version, ctypes.CDLL("libc.so.6"))
    except (OSError, AttributeError):  # a glibc without the symbols (none known), or no libc.so.6
        return None


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of process ``pid`` (default: this one) from ``/proc/<pid>/statm``; 0 when
    there is no /proc or no such process."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True, slots=True)
class Trim:
    seconds: float
    released_bytes: int  # RSS before minus after (what the kernel took back; may be 0)


class Trimmer:
    """Calls ``malloc_trim(0)`` every ``interval_s`` in a daemon thread, off the event loop."""

    def __init__(self, glibc: Glibc, interval_s: float,
                 on_trim: Callable[[Trim], None] | None = None) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.glibc, self.interval_s, self.on_trim = glibc, interval_s, on_trim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ioc-malloc-trim", daemon=True)

    def trim_once(self) -> Trim:
        before = rss_bytes()
        started = time.perf_counter()
        self.glibc.malloc_trim()
        trim = Trim(time.perf_counter() - started, max(before - rss_bytes(), 0))
        if self.on_trim is not None:
            self.on_trim(trim)
        return trim

    def start(self) -> Trimmer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.trim_once()
            except Exception:  # never let the thread die silently: the RSS would grow again unnoticed
                log.exception("process memory: malloc_trim failed")


def configure(plan: AllocatorPlan, glibc: Glibc | None,
              on_trim: Callable[[Trim], None] | None = None) -> Trimmer | None:
    """Apply ``plan``'s mallopt values (call at process start, before threads and the big loads:
    the arena limit counts arenas made from then on) and return the trimmer to start, if any.

    ``glibc`` None (another C library): nothing is changed, one log line says so."""
    if glibc is None:
        log.warning("process memory: not running on glibc; allocator settings and malloc_trim skipped (%s)",
                    plan.describe())
        return None
    for param, value, name in ((M_ARENA_MAX, plan.arena_max, "M_ARENA_MAX"),
                               (M_MMAP_THRESHOLD, plan.mmap_threshold_bytes, "M_MMAP_THRESHOLD"),
                               (M_TRIM_THRESHOLD, plan.trim_threshold_bytes, "M_TRIM_THRESHOLD")):
        if value and not glibc.mallopt(param, value):
            log.warning("process memory: glibc %s refused mallopt(%s, %d)", glibc.version, name, value)
    log.info("process memory: glibc %s, %s", glibc.version, plan.describe())
    return Trimmer(glibc, plan.trim_interval_s, on_trim) if plan.trim_interval_s else None


def plan_from(settings: Settings) -> AllocatorPlan:
    return AllocatorPlan(settings.malloc_arena_max, settings.malloc_mmap_threshold, settings.malloc_trim_threshold,
                         settings.malloc_trim_interval_s)


def record_trim(trim: Trim) -> None:
    """The worker's metrics of each trim (how long it held the arenas, what it gave back)."""
    from streams import metrics

    metrics.malloc_trims.observe(trim.seconds)
    metrics.malloc_trim_released.inc(trim.released_bytes)
