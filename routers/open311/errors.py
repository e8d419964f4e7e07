"""GeoReport v2 errors: an HTTP status and a list of ``{"code", "description"}``."""

from __future__ import annotations

from typing import Any


class GeoReportError(Exception):
    """A request the API refuses. ``code`` is short and stable; ``status`` is 400, 403, 404, 413 or 429.

    >>> GeoReportError(403, "invalid_api_key", "api_key is not valid").to_json()
    [{'code': 'invalid_api_key', 'description': 'api_key is not valid'}]
    """

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description

    def to_json(self) -> list[dict[str, Any]]:
        return [{"code": self.code, "description": self.description}]


def bad_request(code: str, description: str) -> GeoReportError:
    return GeoReportError(400, code, description)


def not_found(code: str, description: str) -> GeoReportError:
    return GeoReportError(404, code, description)
