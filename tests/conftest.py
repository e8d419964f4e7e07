"""Session-wide fixtures: real shared boundary data, embedded broker and Redis (started once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import embedded_stack_in, stack_env

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
    with embedded_stack_in(tmp_path_factory.mktemp("embedded")) as stack:
        yield stack


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_stack) -> str:
    return embedded_stack.settings.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(embedded_stack) -> str:
    return embedded_stack.settings.redis_url


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the built-in reference boundary generation (copied from the prebuild, or
    compiled once per session).

    Set ``IOC_TEST_DATA_DIR`` to reuse a directory across sessions while developing."""
    from routers.boundaries.registry import BoundaryRegistry

    reuse = os.environ.get("IOC_TEST_DATA_DIR")
    path = Path(reuse) if reuse else tmp_path_factory.mktemp("data")
    BoundaryRegistry(path).ensure_default()
    return path


@pytest.fixture(scope="session")
def topics_ready(embedded_stack, data_dir: Path) -> None:
    """Intake, output and every ward topic exist on the session broker."""
    import dataclasses

    from routers.boundaries.registry import BoundaryRegistry
    from streams.admin import create_topics

    settings = dataclasses.replace(embedded_stack.settings, data_dir=data_dir)
    wards = BoundaryRegistry(data_dir).load_active().wards
    # status topics (read by every lifecycle worker) for HCMC's wards only, as `ioc up` does for its city
    create_topics(settings, [w.code for w in wards], status_codes=[w.code for w in wards if w.province_code == "79"])


@pytest.fixture(scope="session")
def pipeline_worker(embedded_stack, data_dir: Path, topics_ready, tmp_path_factory: pytest.TempPathFactory):
    """One real `ioc worker` process on the session broker and Redis; yields its /metrics URL."""
    import sys

    from streams.embedded.process import ManagedProcess, free_port

    port = free_port()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = ManagedProcess("worker", [sys.executable, "-m", "cli", "worker", "--web-port", str(port)], port,
                            log, ready_timeout_s=120, env=stack_env(embedded_stack, data_dir))
    yield f"http://127.0.0.1:{port}/metrics"
    worker.stop(timeout_s=20)
