"""The Faust application. This module only creates and configures the App; agents live in
``streams.pipeline`` (intake -> locate -> route -> publish), ``streams.lifecycle`` (incidents,
status updates, SLA timers) and ``streams.rules_live`` (hot-reloaded rules), found by autodiscovery.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.settings import Settings

AGENT_PACKAGES = ["streams.pipeline", "streams.lifecycle", "streams.rules_live", "streams.web"]

app = faust.App(
    "ioc-router",
    autodiscover=AGENT_PACKAGES,
    origin="streams",
    # broker/store/web are filled in by configure() from the settings at worker start
)


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Faust keyword settings derived from our settings (the broker, storage, web endpoint)."""
    return {
        "broker": f"kafka://{settings.kafka_bootstrap}",
        "store": "memory://",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "web_enabled": True,
        "web_bind": "127.0.0.1",
        "web_port": settings.worker_web_port,
        "web_in_thread": False,
        "datadir": str(settings.data_dir / "faust"),
    }


def configure(settings: Settings, **extra: Any) -> faust.App:
    """Point the App at the brokers of ``settings``; call once before the worker starts."""
    options = faust_settings(settings)
    options.update(extra)
    # The id is the consumer group and changelog prefix; Faust only takes it at construction,
    # and the module-level App must exist before agents register, so set it before configuring.
    app._default_options = (settings.app_id, app._default_options[1])
    app.config_from_object(options)
    return app
