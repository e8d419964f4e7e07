"""``/api/locate``'s decision: the same JSON as ``ioc locate --json``, 400 with a reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from routers.boundaries.registry import BoundaryRegistry
from routers.locate.locator import Locator
from routers.locate.query import locate_query


@pytest.fixture(scope="module")
def locator(default_data_dir: Path) -> Locator:
    return Locator(BoundaryRegistry(default_data_dir).load_for_serving())


def test_point_and_address_answer_like_the_cli(locator: Locator) -> None:
    status, body = locate_query(locator, {"lat": "10.7769", "lon": "106.7009", "accuracy": "300"})
    assert status == 200 and body == locator.locate_point(10.7769, 106.7009, 300.0).to_json()
    assert body["ward"] == {"code": "26740", "name": "Phường Sài Gòn", "province_code": "79"}
    status, body = locate_query(locator, {"address": "P. Đa Kao, Q.1, TP.HCM"})
    assert status == 200 and body["status"] == "ambiguous" and body["reason"] == "ambiguous_address"
    status, body = locate_query(locator, {"address": "Phường 50, Quận 3, TP.HCM"})
    assert status == 200 and body["status"] == "unresolved" and body["candidates"] == []
    status, body = locate_query(
        locator, {"lat": "10.7769", "lon": "106.7009", "at": "2025-06-15T08:00+07:00"}
    )
    assert status == 200 and body["corrections"] == ["no_generation_for_time"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "invalid_request"),
        ({"lat": "10.7"}, "invalid_request"),
        ({"lat": "abc", "lon": "106.7"}, "invalid_lat"),
        ({"lat": "nan", "lon": "106.7"}, "invalid_lat"),
        ({"lat": "1e999", "lon": "106.7"}, "invalid_lat"),
        ({"lat": "95", "lon": "106.7"}, "invalid_coordinates"),
        ({"lat": "10.7", "lon": "106.7", "accuracy": "-5"}, "invalid_coordinates"),  # the locator's own check
        ({"lat": "10.7", "lon": "106.7", "accuracy": "x"}, "invalid_accuracy"),
        ({"lat": "10.7", "lon": "106.7", "at": "yesterday"}, "invalid_time"),
        ({"lat": "10.7", "lon": "106.7", "at": "2025-06-15T08:00"}, "invalid_time"),
        ({"lat": "10.7", "lon": "106.7", "address": "P.7, Q.3"}, "invalid_request"),
        ({"address": "x" * 501}, "invalid_address"),
        ({"accuracy": "5", "address": "P.7, Q.3"}, "invalid_request"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(locator: Locator, params: dict[str, str], reason: str) -> None:
    status, body = locate_query(locator, params)
    assert status == 400 and body["error"] == reason and isinstance(body["detail"], str) and body["detail"]
