"""Session-wide fixtures: real shared boundary data, embedded broker and Redis (started once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_BOUNDARIES = Path(os.environ.get("IOC_SHARED_BOUNDARIES", REPO.parent / "shared" / "boundaries"))


@pytest.fixture(scope="session")
def shared_boundaries() -> Path:
    """The real post-merger polygons in ../shared/boundaries; skip clearly when absent."""
    if not (SHARED_BOUNDARIES / "vn2025-79-hcmc.geojson.gz").is_file():
        pytest.skip(f"real boundary data not found at {SHARED_BOUNDARIES} (set IOC_SHARED_BOUNDARIES)")
    return SHARED_BOUNDARIES


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory):
    """The real embedded broker (Tansu) and Redis (Valkey), started once per test session."""
    from streams.embedded.stack import EmbeddedStack
    from streams.settings import Settings

    run_dir = tmp_path_factory.mktemp("embedded")
    stack = EmbeddedStack(Settings(data_dir=run_dir / "data", partitions=4), run_dir=run_dir).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_stack) -> str:
    return embedded_stack.settings.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(embedded_stack) -> str:
    return embedded_stack.settings.redis_url
