"""Ingest: turn the raw bytes of an intake message into an :class:`~routers.events.Event`,
or raise :class:`~routers.exceptions.Rejected` with a stable reason code.

    >>> from routers.ingest import decode
    >>> decode("ioc.in.sensors", b'{"sensor_id": "wl-1", "kind": "water_level", "value": 42, "unit": "cm",'
    ...        b' "time": "2026-06-01T18:00:00+07:00"}').value
    0.42
"""

from __future__ import annotations

from routers.ingest.decode import decode, intake_kind

__all__ = ["decode", "intake_kind"]
