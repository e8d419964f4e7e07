"""The Open311 API (`ioc api`) and the portal delivery (`ioc deliver`) as real processes on the
session's embedded broker and Redis, next to the session's `ioc worker` (pipeline + lifecycle)."""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.streams.open311.receiver import PortalReceiver
from tests.support import stack_env

API_KEY = "test-portal-key-0123456789"
FUZZ_KEY = "test-fuzz-key-0123456789ab"
API_KEYS = f"portal1022:portal:{API_KEY},fuzzer:app:{FUZZ_KEY}"
PORTAL_SECRET = "portal-signing-secret-for-tests"


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@pytest.fixture(scope="session")
def open311_api(embedded_stack, data_dir: Path, topics_ready, tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a running `ioc api` (keys from a file, as in production)."""
    from streams.embedded.process import ManagedProcess, free_port

    run = tmp_path_factory.mktemp("open311")
    keys = run / "api-keys"
    keys.write_text(API_KEYS.replace(",", "\n") + "\n")
    port = free_port()
    env = stack_env(embedded_stack, data_dir, IOC_API_KEYS_FILE=str(keys), IOC_API_RATE_PER_MINUTE="100000")
    process = ManagedProcess("open311-api", [sys.executable, "-m", "cli", "api", "--port", str(port)], port,
                             run / "api.log", ready_timeout_s=60, env=env)
    base = f"http://127.0.0.1:{port}/open311/v2"
    wait_http(f"{base}/services.json")
    yield base
    process.stop(timeout_s=10)


@pytest.fixture(scope="session")
def portal_receiver():
    receiver = PortalReceiver(fail_first=1)
    receiver.url = receiver.start()  # type: ignore[attr-defined]
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def portal_delivery(embedded_stack, data_dir: Path, topics_ready, portal_receiver,
                    tmp_path_factory: pytest.TempPathFactory) -> str:
    """A running `ioc deliver` to the receiver (first try of each result refused); its /metrics URL."""
    from streams.embedded.process import ManagedProcess, free_port

    run = tmp_path_factory.mktemp("delivery")
    secret = run / "portal-secret"
    secret.write_text(PORTAL_SECRET + "\n")
    port = free_port()
    env = stack_env(embedded_stack, data_dir, IOC_PORTAL_URLS=portal_receiver.url, IOC_PORTAL_SECRET_FILE=str(secret),
                    IOC_PORTAL_BACKOFF_S="0.1", IOC_PORTAL_MAX_ATTEMPTS="5")
    process = ManagedProcess("portal-delivery", [sys.executable, "-m", "cli", "deliver", "--web-port", str(port)],
                             port, run / "deliver.log", ready_timeout_s=60, env=env)
    yield f"http://127.0.0.1:{port}/metrics"
    process.stop(timeout_s=10)
