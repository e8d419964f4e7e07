"""Fixtures for the Faust extension tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import faust
import pytest


@pytest.fixture
def offline_app() -> Callable[..., faust.App]:
    """Makes faust.Apps with a fresh id and an unreachable broker: for tests of an app's configuration
    and consumer objects, which never start it."""

    def make(**options: Any) -> faust.App:
        return faust.App(f"t-{uuid.uuid4().hex[:6]}", broker="kafka://127.0.0.1:1", **options)

    return make
