"""Bytes on a status topic (``ioc.status.<actor>``) -> :class:`StatusUpdate`, checked against ``status.schema.json``.

Shape errors are answered with the JSON Schema's own message (path + what is wrong); meaning
errors come from :func:`routers.incidents.update_from_json`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from routers.exceptions import Rejected
from routers.incidents import StatusUpdate, update_from_json
from streams.contracts import schema

SCHEMA_FILE = "status.schema.json"
# The contract's longest legitimate update is ~5 KB (note and summary cap at 2000 characters);
# anything far larger is refused before JSON parsing and schema validation spend time on it.
MAX_STATUS_BYTES = 64 * 1024


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema(SCHEMA_FILE), format_checker=Draft202012Validator.FORMAT_CHECKER)


def decode_json(raw: bytes | None) -> Any:
    if not raw:
        raise Rejected("bad_json", "empty message")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected("bad_json", f"not JSON: {exc}") from None


def parse_status_update(raw: bytes | None) -> tuple[StatusUpdate, Any]:
    """The update and its decoded JSON body (forwarded as is to the ward's partition)."""
    if raw is not None and len(raw) > MAX_STATUS_BYTES:
        raise Rejected("bad_update", f"{len(raw)} bytes is over the {MAX_STATUS_BYTES}-byte cap for status updates")
    body = decode_json(raw)
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(message)"
        raise Rejected("bad_update", f"{where}: {first.message}")
    return update_from_json(body), body
