"""Helpers shared by tests that run real worker processes against the session's embedded stack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def stack_env(embedded_stack: Any, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an `ioc` child process pointed at the session broker, Redis and data dir."""
    env = dict(os.environ)
    env.update({
        "IOC_KAFKA_BOOTSTRAP": embedded_stack.settings.kafka_bootstrap,
        "IOC_REDIS_URL": embedded_stack.settings.redis_url,
        "IOC_DATA_DIR": str(data_dir),
        "IOC_PARTITIONS": "4",
    })
    env.update(extra)
    return env
