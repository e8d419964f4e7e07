"""JSON Schemas of every topic's messages: the contracts with intake systems and ward systems."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMAS = {
    "ioc.in.reports": "report.schema.json",
    "ioc.in.camera": "camera.schema.json",
    "ioc.in.sensors": "sensor.schema.json",
    "routed": "routed.schema.json",
    "ioc.unroutable": "unroutable.schema.json",
    "ioc.deadletter": "deadletter.schema.json",
    "ioc.filtered": "filtered.schema.json",
}


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema for a topic (``ioc.in.reports``) or output kind (``routed``)."""
    text = resources.files(__name__).joinpath(SCHEMAS.get(name, name)).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
