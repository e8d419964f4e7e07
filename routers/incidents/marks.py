"""Redelivery marks: ``seen[event id]`` says which incident an event went into, by whom and when.

A mark is stored as ``[incident id, ward, epoch seconds]`` (a JSON list: the Faust changelog
serialises table values as JSON). The ward is the partition that wrote the mark: only that ward's
housekeeping may delete it, so a changelog tombstone always lands on the partition holding the mark
(a reassigned incident's copy in its new ward never touches the old ward's marks). The time lets
housekeeping drop marks older than the redelivery window.

Marks written before marks carried a time are a bare incident id; they read as belonging to any
ward and as marked at the epoch, so the next housekeeping of their incident's ward drops them.

Example::

    seen["rep-1"] = mark("inc-...", "27142", now)
    read_mark(seen["rep-1"])  # Mark(incident='inc-...', ward='27142', at=1764000000.0)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple


class Mark(NamedTuple):
    incident: str
    ward: str | None  # None: an old bare-id mark, owned by whichever ward's housekeeping finds it
    at: float  # epoch seconds, worker clock

    def belongs_to(self, incident: str, ward: str) -> bool:
        return self.incident == incident and (self.ward is None or self.ward == ward)


def mark(incident: str, ward: str, now: datetime) -> list[Any]:
    return [incident, ward, now.timestamp()]


def read_mark(value: Any) -> Mark | None:
    """The mark stored as ``value``; None for no mark (or a value no version of this code wrote)."""
    if isinstance(value, str):
        return Mark(value, None, 0.0)
    if isinstance(value, list | tuple) and len(value) == 3:
        incident, ward, at = value
        if isinstance(incident, str) and isinstance(ward, str) and isinstance(at, int | float):
            return Mark(incident, ward, float(at))
    return None
