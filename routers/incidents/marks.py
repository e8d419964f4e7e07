"""Redelivery marks without a record per event: a high-water offset per origin partition and path.

Every routed envelope names the intake message it came from (``iocorigin`` =
``<intake topic>/<partition>/<offset>``, set by the pipeline). The pipeline publishes a ward's
events of one intake partition in that partition's order (one producer per intake partition at a
time; aiokafka keeps one request in flight per partition, so retries do not reorder), and a
redelivery - the pipeline's after a rebalance or a restart, or the lifecycle's own after a restart
from its changelog - re-sends the same events in the same order. So, per ward, per intake
partition and per path an event took to the ward's partition, an event at or below the highest
offset already applied is a redelivery. The state is O(wards x intake partitions), not one record
per event.

The path matters: an event keyed by its ward reaches the ward's partition directly on
``ioc.routed``; one keyed ``city`` (an ambiguous location) is forwarded through the commands topic.
The two paths interleave differently, so each keeps its own high-water mark.

``seen["<ward>|<path>|<intake topic>/<partition>"]`` -> the highest offset applied (an int; the
ward's partition holds it, so the changelog keeps it with the ward's incidents).

Example::

    key, offset = high_water_key("27142", "routed", "ioc.in.reports/3/1207")  # ("27142|routed|ioc.in.reports/3", 1207)
    is_redelivery(seen.get(key), offset)
"""

from __future__ import annotations

from typing import Any

PATHS = ("routed", "forwarded")


def parse_origin(origin: str | None) -> tuple[str, int] | None:
    """``"<topic>/<partition>/<offset>"`` -> (``"<topic>/<partition>"``, offset); None if absent or malformed."""
    if not origin:
        return None
    source, _, offset = origin.rpartition("/")
    if not source or "/" not in source or not offset.isdigit():
        return None
    return source, int(offset)


def high_water_key(ward: str, path: str, origin: str | None) -> tuple[str, int] | None:
    """The ``seen`` key of an event's (ward, path, origin partition) and its origin offset."""
    parsed = parse_origin(origin)
    if parsed is None:
        return None
    return f"{ward}|{path}|{parsed[0]}", parsed[1]


def is_redelivery(known: Any, offset: int) -> bool:
    """Whether ``offset`` is at or below the mark ``known`` (a value no version wrote: no mark)."""
    return isinstance(known, int) and not isinstance(known, bool) and offset <= known
