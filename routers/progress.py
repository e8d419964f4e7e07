"""Progress of a long operation, told as it goes; the one type for all of them (boundary import
and compilation, what-if replay, recording, batch locating, load generation, benchmarks).

``progress(stage, advanced)``: ``advanced`` more units of ``stage`` are done since the last call
(0: the stage has begun). The operation does not know who listens: the command line draws bars
and lines for people on stderr (``cli/progress.py``), ``ioc up`` counts, tests collect the calls,
and :func:`quiet` ignores them. Nothing here prints, so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Progress = Callable[[str, int], None]

T = TypeVar("T")


def quiet(stage: str, advanced: int) -> None:
    """Progress nobody watches."""


def tracked(items: Iterable[T], stage: str, progress: Progress) -> Iterator[T]:
    """``items``, telling ``progress`` one unit of ``stage`` as each is taken."""
    for item in items:
        yield item
        progress(stage, 1)
