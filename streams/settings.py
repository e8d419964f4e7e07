"""Deployment settings: one frozen, typed object read from the environment (and optionally a file).

Routing data (rules, boundaries) is not here: it is versioned data with its own ids.
Every field maps to an ``IOC_<NAME>`` environment variable; ``IOC_CONFIG`` may name a TOML file
with the same keys in lower case (environment wins). The README's configuration table is
generated from :data:`DOCUMENTATION`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ioc-router"


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    data_dir: Path = _default_data_dir()
    partitions: int = 4
    app_id: str = "ioc-router"
    worker_web_port: int = 0
    dashboard_port: int = 8700
    prometheus_url: str | None = None
    max_message_bytes: int = 256 * 1024
    nearest_max_m: float = 300.0
    rules_file: Path | None = None
    city: str = "hcmc"
    dashboard_token: str | None = None
    log_level: str = "warn"
    clock_offset_file: Path | None = None

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url


DOCUMENTATION: dict[str, str] = {
    "kafka_bootstrap": "Kafka bootstrap servers (host:port,...). Unset: start the embedded Tansu broker on a free 127.0.0.1 port.",
    "redis_url": "Redis URL (redis://host:port/0). Unset: start the embedded Valkey server on a free 127.0.0.1 port.",
    "data_dir": "Where compiled boundary generations, device caches and run state live.",
    "partitions": "Partitions for intake and output topics created by `ioc up`.",
    "app_id": "Faust application id (consumer group and changelog topic prefix).",
    "worker_web_port": "Port of the worker's web endpoint (/metrics, /healthz); 0 picks a free one.",
    "dashboard_port": "Port of `ioc dashboard`.",
    "prometheus_url": "Prometheus HTTP API base URL for the dashboard; unset: read the workers' /metrics directly.",
    "max_message_bytes": "Intake messages larger than this go to dead-letter (reason too_large).",
    "nearest_max_m": "A point in no ward goes to the nearest ward within this many metres (geodesic).",
    "rules_file": "Rules YAML used when no version was applied to ioc.config.rules; unset: the built-in default ruleset.",
    "city": "Default city for the simulator and the dashboard map: hcmc, hanoi or danang.",
    "dashboard_token": "When set, the dashboard and HTTP API require this bearer token.",
    "log_level": "Worker log level: crit, error, warn, info or debug.",
    "clock_offset_file": "Testing aid: a file holding seconds to add to the worker clock (SLA timers), re-read on change.",
}


def _coerce(raw: Any, current: Any, name: str) -> Any:
    annotation = Settings.__dataclass_fields__[name].type
    if raw is None or raw == "":
        return None if "None" in str(annotation) else current
    if "int" in str(annotation) and "float" not in str(annotation):
        return int(raw)
    if "float" in str(annotation):
        return float(raw)
    if "Path" in str(annotation):
        return Path(str(raw)).expanduser()
    return str(raw)


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``IOC_CONFIG`` (TOML) then ``IOC_*`` variables, then ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get("IOC_CONFIG")
    if config_file:
        with open(config_file, "rb") as handle:
            values.update(tomllib.load(handle))
        unknown = set(values) - {f.name for f in fields(Settings)}
        if unknown:
            raise ValueError(f"{config_file}: unknown settings {sorted(unknown)}")
    for f in fields(Settings):
        key = f"IOC_{f.name.upper()}"
        if key in env:
            values[f.name] = env[key]
    base = Settings()
    coerced = {name: _coerce(raw, getattr(base, name), name) for name, raw in values.items()}
    coerced.update(overrides)
    return replace(base, **coerced)
