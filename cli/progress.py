"""Progress for people: a :data:`routers.progress.Progress` that draws on stderr, so stdout (and
``--json``) carries only the result.

A stage named in ``bars`` gets a click progress bar (its length, or ``None`` when unknown: a
running count); any other stage prints one line, ``  <stage> ...``, when it begins.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click

from routers.progress import Progress


@contextmanager
def progress_printer(bars: Mapping[str, int | None] | None = None, show_pos: bool = False) -> Iterator[Progress]:
    """``with progress_printer({"locating": len(rows)}) as progress: ... progress("locating", 1)``."""
    wanted = dict(bars or {})
    open_bar: list[Any] = []  # the bar being drawn, if any: a line of another stage closes it
    last_line = [""]

    def close_bar() -> None:
        if open_bar:
            open_bar.pop().__exit__(None, None, None)

    def progress(stage: str, advanced: int) -> None:
        if stage in wanted:
            if not open_bar or open_bar[0].label != stage:
                close_bar()
                length = wanted[stage]
                # an endless iterable: click then counts instead of drawing a fraction
                bar = click.progressbar(None if length is not None else itertools.repeat(None), length=length,
                                        label=stage, file=sys.stderr, show_pos=show_pos)
                open_bar.append(bar.__enter__())
            open_bar[0].update(advanced)
            return
        close_bar()
        if stage != last_line[0]:
            click.echo(f"  {stage} ...", err=True)
            last_line[0] = stage

    try:
        yield progress
    finally:
        close_bar()
