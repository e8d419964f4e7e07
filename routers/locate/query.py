"""``GET /api/locate`` as a pure function: query parameters in, (HTTP status, JSON body) out.

MapIt-style: ``?lat=..&lon=..[&accuracy=..][&at=..]`` or ``?address=..[&at=..]``. A good request
answers 200 with exactly what ``ioc locate --json`` prints (:meth:`Location.to_json`); a bad one
answers 400 with ``{"error": <reason>, "detail": <what is expected>}``. No input makes it raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from routers.exceptions import Rejected
from routers.locate.address import MAX_ADDRESS_CHARS
from routers.locate.locator import Locator

Answer = tuple[int, dict[str, object]]
_PARAMETERS = ("lat", "lon", "accuracy", "at", "address")


def _bad(reason: str, detail: str) -> Answer:
    return 400, {"error": reason, "detail": detail}


def _number(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name)
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise Rejected(f"invalid_{name}", f"{name} must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value):
        raise Rejected(f"invalid_{name}", f"{name} must be finite, got {text[:40]!r}")
    return value


def _time(params: Mapping[str, str]) -> datetime | None:
    text = params.get("at")
    if text is None or not text.strip():
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Rejected("invalid_time", f"at must be an ISO time such as 2025-06-15T08:00+07:00, got {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise Rejected("invalid_time", f"at needs a time zone, e.g. 2025-06-15T08:00+07:00, got {text[:40]!r}")
    return parsed


def locate_query(locator: Locator, params: Mapping[str, str]) -> Answer:
    """Answer one ``/api/locate`` request (``params``: the query string, first value of each name)."""
    try:
        lat, lon, accuracy = _number(params, "lat"), _number(params, "lon"), _number(params, "accuracy")
        at = _time(params)
        address = params.get("address")
        has_point = lat is not None or lon is not None
        if has_point and address is not None:
            return _bad("invalid_request", "give lat and lon, or address, not both")
        if has_point:
            if lat is None or lon is None:
                return _bad("invalid_request", "lat and lon go together")
            return 200, locator.locate_point(lat, lon, accuracy, at).to_json()
        if accuracy is not None:
            return _bad("invalid_request", "accuracy goes with lat and lon")
        if address is None:
            return _bad("invalid_request", f"give lat and lon, or address (parameters: {', '.join(_PARAMETERS)})")
        if len(address) > MAX_ADDRESS_CHARS:
            return _bad("invalid_address", f"address is {len(address)} characters, the limit is {MAX_ADDRESS_CHARS}")
        return 200, locator.locate_address(address, at).to_json()
    except Rejected as exc:
        return _bad(exc.reason, exc.detail)
