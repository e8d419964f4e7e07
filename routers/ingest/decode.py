"""Bytes on an intake topic -> Event, or Rejected with a reason code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from routers import topics
from routers.events import Event
from routers.exceptions import Rejected
from routers.ingest.camera import decode_camera
from routers.ingest.frigate_mapping import FrigateMapping
from routers.ingest.reports import decode_report
from routers.ingest.sensors import decode_sensor

DEFAULT_MAX_BYTES = 256 * 1024

_DECODERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "reports": decode_report,
    "camera": decode_camera,
    "sensors": decode_sensor,
}


def intake_kind(topic: str) -> str:
    """``ioc.in.reports`` -> ``reports`` (:data:`routers.topics.INTAKE_KIND`; also accepts the bare kind)."""
    return topics.INTAKE_KIND.get(topic, topic)


def decode(topic: str, raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES,
           frigate: FrigateMapping | None = None) -> Event:
    """:class:`Rejected` for broken input; :class:`~routers.exceptions.FilteredOut` for a valid
    camera message the Frigate mapping (``frigate``; default: the built-in one) maps to nothing."""
    kind = intake_kind(topic)
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise Rejected("unknown_topic", f"{topic!r} is not an intake topic")
    if raw is None or not raw:
        raise Rejected("empty", "the message has no value")
    if len(raw) > max_bytes:
        raise Rejected("too_large", f"{len(raw)} bytes is over the {max_bytes}-byte cap")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected("malformed_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise Rejected("wrong_type", f"the message must be a JSON object, got {type(obj).__name__}")
    try:
        return decode_camera(obj, frigate) if kind == "camera" else decoder(obj)
    except Rejected:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # a decoder bug must not stop a worker
        raise Rejected("invalid", f"{type(exc).__name__}: {exc}"[:200]) from None
