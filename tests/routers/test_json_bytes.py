"""JSON bytes kept as long as their content: orjson's results keep its whole output buffer."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import orjson
import pytest

from routers import json_bytes

SMALL = "ward-26734"
DOCUMENT = {"id": "inc-1", "ward": "26734", "description": "ngập nước " * 120, "reports": [f"r-{i}" for i in range(20)]}


def traced_per_item(make: Callable[[], bytes], count: int = 200) -> float:
    """Bytes the allocator holds per result of ``make`` while ``count`` of them are alive."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(count)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == count
    return held / count


@pytest.mark.parametrize("value", [SMALL, DOCUMENT], ids=["a ward key", "a 1.5 kB incident"])
def test_dumps_is_orjsons_json_in_bytes_its_own_length(value: object) -> None:
    raw = json_bytes.dumps(value)
    assert raw == orjson.dumps(value)
    # a bytes object's header is 33 bytes; the list holding the results 8 more
    assert traced_per_item(lambda: json_bytes.dumps(value)) < len(raw) + 64


def test_trimmed_copies_any_bytes_to_their_length() -> None:
    raw = orjson.dumps(DOCUMENT)
    assert json_bytes.trimmed(raw) == raw
    assert traced_per_item(lambda: json_bytes.trimmed(raw)) < len(raw) + 64
