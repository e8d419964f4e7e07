"""Start the embedded servers that the settings do not point elsewhere, and stop them together."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from types import TracebackType

from streams.embedded.kafka import bootstrap_of, start_tansu
from streams.embedded.process import ManagedProcess
from streams.embedded.redis import start_redis, url_of
from streams.settings import Settings

KEEP_RUNS = 5


def new_run_dir(data_dir: Path) -> Path:
    """``<data dir>/runs/<time>-<pid>`` for this run's server logs; only the newest few are kept."""
    runs = data_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for old in sorted(runs.iterdir())[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    path = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir()
    return path


class EmbeddedStack:
    """``with EmbeddedStack(settings) as stack: stack.settings.kafka_bootstrap ...``

    With ``IOC_KAFKA_BOOTSTRAP`` / ``IOC_REDIS_URL`` set, nothing is started for that part.
    """

    def __init__(self, settings: Settings, run_dir: Path | None = None) -> None:
        self.requested = settings
        self.settings = settings
        self.run_dir = run_dir or new_run_dir(settings.data_dir)
        self.kafka: ManagedProcess | None = None
        self.redis: ManagedProcess | None = None

    def start(self) -> EmbeddedStack:
        kafka_bootstrap, redis_url = self.requested.kafka_bootstrap, self.requested.redis_url
        try:
            if self.requested.embedded_kafka:
                self.kafka = start_tansu(self.run_dir)
                kafka_bootstrap = bootstrap_of(self.kafka)
            if self.requested.embedded_redis:
                self.redis = start_redis(self.run_dir / "redis")
                redis_url = url_of(self.redis)
        except Exception:
            self.stop()
            raise
        self.settings = dataclasses.replace(self.requested, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url)
        return self

    def stop(self) -> None:
        for process in (self.redis, self.kafka):
            if process is not None:
                process.stop()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
