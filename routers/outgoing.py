"""A message to publish, as plain data: what the pure deciders return (the batch router,
:func:`routers.route.route_batch`) and what the streams layer's delivery publishes unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Outgoing(NamedTuple):
    """One message to publish: bytes in, bytes out (serialize in the handler, e.g. with orjson)."""

    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone (a table's deleted key on its changelog)
    headers: Sequence[tuple[str, bytes]] | None = None
    partition: int | None = None  # None: the producer's partitioner picks it from the key
