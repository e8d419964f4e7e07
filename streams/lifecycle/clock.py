"""The worker's clock for SLA timers, and a controllable one for tests and drills.

``OffsetFileClock`` adds the number of seconds written in a file (``IOC_CLOCK_OFFSET_FILE``) to
the system time; the file is re-read when it changes, so a test can advance a running worker by
an hour with one write, and a restarted worker keeps the same time. Time never runs backwards
for one clock object, even if the file is rewritten with a smaller offset.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetFileClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._offset = 0.0
        self._last = datetime.min.replace(tzinfo=UTC)

    def offset_s(self) -> float:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self._offset
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._offset = float(self.path.read_text().strip() or 0.0)
                self._stamp = stamp
            except ValueError:
                pass  # half-written file: keep the previous offset, read again next time
        return self._offset

    def now(self) -> datetime:
        moment = max(datetime.now(UTC) + timedelta(seconds=self.offset_s()), self._last)
        self._last = moment
        return moment


def advance(path: Path, seconds: float) -> float:
    """Move an :class:`OffsetFileClock` forward (atomically: write then rename); returns the new offset."""
    current = float(path.read_text().strip() or 0.0) if path.exists() else 0.0
    new = current + seconds
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(f"{new}\n")
    os.replace(tmp, path)
    return new


def clock_for(offset_file: Path | None) -> Clock:
    return SystemClock() if offset_file is None else OffsetFileClock(offset_file)
