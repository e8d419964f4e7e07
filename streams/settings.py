"""Deployment settings: one frozen, typed object read from the environment (and optionally a file).

Routing data (rules, boundaries) is not here: it is versioned data with its own ids.
Every field maps to an ``IOC_<NAME>`` environment variable; ``IOC_CONFIG`` may name a TOML file
with the same keys in lower case (environment wins). A secret (:data:`SECRETS`) may instead be
given as ``IOC_<NAME>_FILE`` (TOML: ``<name>_file``), the path of a file whose content is the value,
which is how Kubernetes mounts Secrets. The README's configuration table is generated from
:data:`DOCUMENTATION` by ``python -m streams.settings_doc README.md``. No other module reads an
``IOC_*`` variable (``tests/streams/test_settings.py`` checks).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import click


def _default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/ioc-router``, else ``~/.local/share/ioc-router``; read when a Settings is
    made, not at import (``environ``: the README table's default, whatever this shell says)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ioc-router"


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    data_dir: Path = field(default_factory=_default_data_dir)  # read when built, not on import
    partitions: int = 4
    app_id: str = "ioc-router"
    worker_web_host: str = "127.0.0.1"
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
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    processing_guarantee: str = "at_least_once"
    legacy_status_topic: bool = True
    frigate_mapping_file: Path | None = None
    mqtt_broker: str | None = None
    mqtt_frigate_topics: str = "frigate/events,frigate/reviews"
    mqtt_sensor_topics: str = "sensors/{kind}/{sensor_id}"
    mqtt_client_id: str = "ioc-bridge"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    bridge_web_port: int = 0
    api_host: str = "127.0.0.1"
    api_port: int = 8711
    api_keys: str | None = None
    api_jurisdictions: str = "hcmc,hanoi,danang"
    api_rate_per_minute: int = 120
    api_max_body_bytes: int = 64 * 1024
    portal_urls: str | None = None
    portal_secret: str | None = None
    portal_max_attempts: int = 8
    portal_backoff_s: float = 1.0
    portal_timeout_s: float = 10.0
    dashboard_tile_url: str | None = None
    dashboard_viewers: Path | None = None
    dashboard_host: str = "127.0.0.1"
    dashboard_trust_forwarded_proto: bool = False
    worker_role: str = "all"
    worker_metrics_urls: str | None = None
    prometheus_worker_job: str = "ioc-worker"
    dashboard_node_modules: Path | None = None
    malloc_trim_interval_s: float = 30.0
    malloc_arena_max: int = 2
    malloc_mmap_threshold: int = 128 * 1024
    malloc_trim_threshold: int = 128 * 1024

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url


DOCUMENTATION: dict[str, str] = {
    "kafka_bootstrap": "Kafka bootstrap servers (host:port,...). Unset: start the embedded Tansu broker on a free 127.0.0.1 port.",
    "redis_url": "Redis URL (redis://host:port/0; rediss://:password@host:port/0 for AUTH + TLS); secret: may come from IOC_REDIS_URL_FILE. Unset: start the embedded Valkey server on a free 127.0.0.1 port.",
    "data_dir": "Where compiled boundary generations, device caches and run state live.",
    "partitions": "Partitions for intake and output topics created by `ioc up`.",
    "app_id": "Faust application id (consumer group and changelog topic prefix).",
    "worker_web_host": "Address the worker's web endpoint binds; 0.0.0.0 in a container so probes and Prometheus reach it.",
    "worker_web_port": "Port of the worker's web endpoint (/metrics, /healthz); 0 picks a free one.",
    "dashboard_port": "Port of `ioc dashboard`.",
    "prometheus_url": "Prometheus HTTP API base URL for the dashboard; unset: read the workers' /metrics directly.",
    "max_message_bytes": "Intake messages larger than this go to dead-letter (reason too_large).",
    "nearest_max_m": "A point in no ward goes to the nearest ward within this many metres (geodesic).",
    "rules_file": "Rules YAML used when no version was applied to ioc.config.rules; unset: the built-in default ruleset.",
    "city": "Default city for the simulator and the dashboard map: hcmc, hanoi or danang.",
    "dashboard_token": "Operator token: the dashboard and the workers' APIs (/api/incidents) require it (Bearer or basic auth; /healthz and /metrics stay open); secret: may come from IOC_DASHBOARD_TOKEN_FILE. Unset: open on 127.0.0.1 only, closed to everyone beyond loopback.",
    "log_level": "Worker log level: crit, error, warn, info or debug.",
    "clock_offset_file": "Testing aid: a file holding seconds to add to the worker clock (SLA timers), re-read on change.",
    "kafka_security_protocol": "Kafka security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (production: SASL_SSL).",
    "kafka_sasl_mechanism": "SASL mechanism with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
    "kafka_sasl_username": "SASL user name (the KafkaUser), required with SASL_*.",
    "kafka_sasl_password": "SASL password, required with SASL_*; secret: prefer IOC_KAFKA_SASL_PASSWORD_FILE.",
    "kafka_ssl_cafile": "PEM CA bundle that verifies the brokers' certificates (hostname included) with SSL/SASL_SSL; unset: system CAs.",
    "processing_guarantee": "at_least_once or exactly_once (Kafka transactions; refused on the embedded broker, which has none).",
    "legacy_status_topic": "Deprecated, removed in the next release: also accept status updates on the shared ioc.status, trusting their `ward` field (true/false). Off in deploy/; ward systems write ioc.status.<ward>.",
    "frigate_mapping_file": "Frigate mapping YAML (Frigate labels, sub_labels, zones, severity -> IOC camera labels), checked at start; unset: the built-in default (`routers/ingest/default_frigate_mapping.yaml`).",
    "mqtt_broker": "MQTT broker URL (mqtt://host:port) that `ioc bridge mqtt` subscribes to; unset: `ioc up` starts an embedded one (Mosquitto when installed, else amqtt) on a free 127.0.0.1 port.",
    "mqtt_frigate_topics": "Comma-separated MQTT topics carrying Frigate payloads, bridged to ioc.in.camera.",
    "mqtt_sensor_topics": "Comma-separated MQTT topic patterns of sensor readings, bridged to ioc.in.sensors; `{sensor_id}` and `{kind}` each match one topic level and fill the reading's field when the JSON lacks it.",
    "mqtt_client_id": "MQTT client id of the bridge; fixed, with a persistent session, so the broker keeps QoS 1 messages for it while it is down.",
    "mqtt_username": "MQTT user name, when the broker requires one.",
    "mqtt_password": "MQTT password; secret: prefer IOC_MQTT_PASSWORD_FILE.",
    "bridge_web_port": "Port of the MQTT bridge's /metrics; 0 picks a free one (the bridge prints its URL).",
    "api_host": "Address `ioc api` (the Open311 GeoReport v2 API) binds; 0.0.0.0 in a container.",
    "api_port": "Port of `ioc api`; 0 picks a free one (`ioc up` does when it is taken).",
    "api_keys": "Open311 API clients, `name:key` or `name:channel:key` (channel: portal, app, zalo, ...), comma- or newline-separated; secret: may come from IOC_API_KEYS_FILE. Unset: every POST is refused (`ioc up` makes a demo key).",
    "api_jurisdictions": "Open311 jurisdiction_id values, `city` or `id=city` (city: hcmc, hanoi, danang), comma-separated; the first is the default when a client sends none.",
    "api_rate_per_minute": "POSTs per minute and API key, per `ioc api` process (GETs: ten times as many, per key or client address); over it: 429.",
    "api_max_body_bytes": "Largest request body `ioc api` reads; larger: 413.",
    "portal_urls": "Portal endpoint(s) `ioc deliver` POSTs each result on ioc.out.results to, comma-separated. Unset: no delivery.",
    "portal_secret": "HMAC-SHA256 key that signs each delivery (X-IOC-Signature); secret: may come from IOC_PORTAL_SECRET_FILE.",
    "portal_max_attempts": "Delivery attempts per result and endpoint before it goes to ioc.deadletter (reason portal_unreachable).",
    "portal_backoff_s": "First retry delay of a delivery; doubles per attempt (jittered), capped at 60 s.",
    "portal_timeout_s": "Timeout of one delivery attempt.",
    "dashboard_tile_url": "Optional basemap under the dashboard's ward map: an XYZ tile URL template of a tile server the city hosts ({z}/{x}/{y}); unset: wards only, nothing fetched.",
    "dashboard_host": "Address `ioc dashboard` binds (0.0.0.0 in a container); beyond loopback the dashboard is closed until a token or viewers file is configured.",
    "dashboard_trust_forwarded_proto": "true when a TLS-terminating proxy in front of the dashboard sets X-Forwarded-Proto (and clients cannot reach the dashboard around it): the login cookie is then Secure on https requests.",
    "dashboard_viewers": "Ward viewers file (YAML: name, token_sha256, wards) for the dashboard and the workers' APIs: each token sees its wards' incidents only, their reporters in clear (see docs/dashboard.md). Unset: the operator token only.",
    "worker_role": "What `ioc worker` runs when --role is not given: all, pipeline (the intake pipeline only) or lifecycle (the incident lifecycle only).",
    "worker_metrics_urls": "Comma-separated worker /metrics URLs the dashboard reads when IOC_PROMETHEUS_URL is unset (`ioc up` sets it).",
    "prometheus_worker_job": "The workers' Prometheus scrape job; the dashboard reads their `up` series from it to tell stopped workers.",
    "dashboard_node_modules": "The node_modules folder the dashboard serves its map library (Leaflet) from (a container image sets it); unset: the one next to the repository's package.json (`make setup`).",
    "malloc_trim_interval_s": "Seconds between two malloc_trim(0) calls in a worker (a thread off the event loop hands freed heap back to the kernel; glibc only, docs/performance.md, \"The allocator\"); 0: never.",
    "malloc_arena_max": "glibc malloc arenas a worker may create (mallopt M_ARENA_MAX, at start); 0: glibc's own (8 per core). A worker has 3 busy threads; 2 arenas measured lower in the 1,000 events/s soak.",
    "malloc_mmap_threshold": "Bytes from which a worker's allocations get their own mmap, returned whole when freed (mallopt M_MMAP_THRESHOLD); 0: glibc's own (starts at 128 KiB and rises up to 32 MiB after large frees, which then stay in the heap).",
    "malloc_trim_threshold": "Free bytes at the heap's top above which free() hands them back (mallopt M_TRIM_THRESHOLD); 0: glibc's own (dynamic, twice the mmap threshold).",
}

# Settings that may come from a file (``IOC_<NAME>_FILE``) so that they never sit in an environment
# listing or a ConfigMap. A Redis URL carries its password.
SECRETS = ("kafka_sasl_password", "redis_url", "dashboard_token", "api_keys", "portal_secret", "mqtt_password")

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PROCESSING_GUARANTEES = ("at_least_once", "exactly_once")


class SettingsError(ValueError, click.ClickException):
    """A setting is missing, unreadable or inconsistent; ``code`` is short and stable.

    Also a ``click.ClickException``: every ``ioc`` command that loads the settings reports it as
    ``Error: <code>: <detail>`` and exits 1, without a traceback."""

    def __init__(self, code: str, detail: str) -> None:
        click.ClickException.__init__(self, f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _coerce(raw: Any, current: Any, name: str) -> Any:
    annotation = Settings.__dataclass_fields__[name].type
    if raw is None or raw == "":
        return None if "None" in str(annotation) else current
    if str(annotation) == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise SettingsError("bad_boolean", f"IOC_{name.upper()}={raw!r}: use true or false")
        return str(raw).strip().lower() in ("1", "true", "yes", "on")
    if "int" in str(annotation) and "float" not in str(annotation):
        return int(raw)
    if "float" in str(annotation):
        return float(raw)
    if "Path" in str(annotation):
        return Path(str(raw)).expanduser()
    return str(raw)


def read_secret_file(variable: str, path: str) -> str:
    """The content of a ``*_FILE`` secret, without its trailing newline; empty or unreadable is an error."""
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SettingsError("secret_file_unreadable", f"{variable}={path}: {exc.strerror or exc}") from None
    if not value.strip():
        raise SettingsError("secret_file_empty", f"{variable}={path} is empty")
    return value


def check(settings: Settings) -> Settings:
    """Refuse inconsistent security settings (one invariant per check); return ``settings``."""
    protocol = settings.kafka_security_protocol
    if protocol not in SECURITY_PROTOCOLS:
        raise SettingsError("bad_security_protocol",
                            f"IOC_KAFKA_SECURITY_PROTOCOL={protocol!r}: choose one of {', '.join(SECURITY_PROTOCOLS)}")
    if protocol.startswith("SASL_"):
        if settings.kafka_sasl_mechanism not in SASL_MECHANISMS:
            raise SettingsError("bad_sasl_mechanism", f"IOC_KAFKA_SASL_MECHANISM={settings.kafka_sasl_mechanism!r} "
                                f"with {protocol}: choose one of {', '.join(SASL_MECHANISMS)}")
        if not settings.kafka_sasl_username:
            raise SettingsError("missing_sasl_username", f"{protocol} needs IOC_KAFKA_SASL_USERNAME")
        if not settings.kafka_sasl_password:
            raise SettingsError("missing_sasl_password",
                                f"{protocol} needs IOC_KAFKA_SASL_PASSWORD_FILE (or IOC_KAFKA_SASL_PASSWORD)")
    if settings.kafka_ssl_cafile is not None and not settings.kafka_ssl_cafile.is_file():
        raise SettingsError("cafile_missing", f"IOC_KAFKA_SSL_CAFILE={settings.kafka_ssl_cafile} is not a file")
    if settings.processing_guarantee not in PROCESSING_GUARANTEES:
        raise SettingsError("bad_processing_guarantee", f"IOC_PROCESSING_GUARANTEE={settings.processing_guarantee!r}: "
                            f"choose one of {', '.join(PROCESSING_GUARANTEES)}")
    return settings


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``IOC_CONFIG`` (TOML) then ``IOC_*`` variables, then ``overrides``.

    A secret's ``IOC_<NAME>_FILE`` is read when ``IOC_<NAME>`` itself is unset or empty (a value
    given directly wins, as ``ioc up`` passes the resolved values to its children).
    Raises :class:`SettingsError` (a ``ValueError``) for an unreadable secret file or
    inconsistent security settings."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get("IOC_CONFIG")
    if config_file:
        with open(config_file, "rb") as handle:
            values.update(tomllib.load(handle))
        known = {f.name for f in fields(Settings)} | {f"{name}_file" for name in SECRETS}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"{config_file}: unknown settings {sorted(unknown)}")
        for name in SECRETS:
            path = values.pop(f"{name}_file", None)
            if path and not values.get(name):
                values[name] = read_secret_file(f"{config_file}: {name}_file", str(path))
    for f in fields(Settings):
        key = f"IOC_{f.name.upper()}"
        if key in env:
            values[f.name] = env[key]
    for name in SECRETS:
        key = f"IOC_{name.upper()}"
        if not env.get(key) and env.get(f"{key}_FILE"):
            values[name] = read_secret_file(f"{key}_FILE", env[f"{key}_FILE"])
    base = Settings()
    coerced = {name: _coerce(raw, getattr(base, name), name) for name, raw in values.items()}
    coerced.update(overrides)
    return check(replace(base, **coerced))
