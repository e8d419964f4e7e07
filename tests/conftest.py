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
