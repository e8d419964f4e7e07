"""Start the embedded servers that the settings do not point elsewhere, and stop them together."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from types import TracebackType

from streams.embedded.kafka import bootstrap_of, start_tansu
from streams.embedded.process import ManagedProcess
from streams.embedded.redis import start_redis, url_of
from streams.settings import Settings


class EmbeddedStack:
    """``with EmbeddedStack(settings) as stack: stack.settings.kafka_bootstrap ...``

    With ``IOC_KAFKA_BOOTSTRAP`` / ``IOC_REDIS_URL`` set, nothing is started for that part.
    """

    def __init__(self, settings: Settings, run_dir: Path | None = None) -> None:
        self.requested = settings
        self.settings = settings
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="ioc-run-"))
        self.kafka: ManagedProcess | None = None
        self.redis: ManagedProcess | None = None

    def start(self) -> EmbeddedStack:
        changes: dict[str, str] = {}
        try:
            if self.requested.embedded_kafka:
                self.kafka = start_tansu(self.run_dir)
                changes["kafka_bootstrap"] = bootstrap_of(self.kafka)
            if self.requested.embedded_redis:
                self.redis = start_redis(self.run_dir / "redis")
                changes["redis_url"] = url_of(self.redis)
        except Exception:
            self.stop()
            raise
        self.settings = dataclasses.replace(self.requested, **changes)
        return self

    def stop(self) -> None:
        for process in (self.redis, self.kafka):
            if process is not None:
                process.stop()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
