"""What routing decides for one located event: plain data the pipeline publishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

Priority = Literal["P1", "P2", "P3", "P4"]


@dataclass(frozen=True, slots=True)
class Sla:
    ack_s: int
    resolve_s: int


@lru_cache(maxsize=256)
def shared_sla(ack_s: int, resolve_s: int) -> Sla:
    """One :class:`Sla` per pair, for what is kept: every open incident holds its first event's
    (48 bytes each), and the rules know a handful of pairs."""
    return Sla(ack_s, resolve_s)


@dataclass(frozen=True, slots=True)
class Decision:
    """Targets are ``ward:<code>``, ``agency:<name>`` or ``city-ioc``.

    ``suppressed`` is ``None`` or the reason (quiet window, inhibition); a suppressed decision
    still names its targets so the explain trace shows what would have happened.
    ``trace`` holds the explain lines: rule ids walked and the matchers that decided.
    """

    targets: tuple[str, ...]
    priority: Priority
    sla: Sla
    matched: tuple[str, ...]
    rules_version: str
    suppressed: str | None = None
    group_key: str | None = None
    trace: tuple[str, ...] = field(default=())
    # events with the same group_key within this many seconds fold into one incident (rules' group_window)
    group_window_s: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "targets": list(self.targets),
            "priority": self.priority,
            "sla": {"ack_s": self.sla.ack_s, "resolve_s": self.sla.resolve_s},
            "matched": list(self.matched),
            "suppressed": self.suppressed or False,
            "group_key": self.group_key,
            "group_window_s": self.group_window_s,
        }
