"""The dashboard's configuration: the shared settings (the operator token and the ward viewers
file ``IOC_DASHBOARD_VIEWERS``, the bind address ``IOC_DASHBOARD_HOST`` and
``IOC_DASHBOARD_TRUST_FORWARDED_PROTO`` among them: :mod:`streams.settings`) plus the few
variables only it reads (set by ``ioc up`` or naming its own file):

* ``IOC_WORKER_METRICS_URLS``: comma-separated worker ``/metrics`` URLs (``ioc up`` sets it), used
  when ``IOC_PROMETHEUS_URL`` is not set;
* ``IOC_PROMETHEUS_WORKER_JOB``: the Prometheus scrape job of the workers (default ``ioc-worker``);
* ``IOC_DASHBOARD_TOKEN_FILE``: a file holding the operator token (instead of ``IOC_DASHBOARD_TOKEN``);
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dashboards.access import AccessPolicy, load_viewers, read_token_file
from streams.settings import Settings
from streams.simulator.places import CITIES


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    settings: Settings
    city: str
    province_code: str
    worker_metrics_urls: tuple[str, ...]
    prometheus_worker_job: str
    access: AccessPolicy
    host: str = "127.0.0.1"
    trust_forwarded_proto: bool = False

    @property
    def metrics_source(self) -> str:
        if self.settings.prometheus_url:
            return "prometheus"
        return "workers" if self.worker_metrics_urls else "none"


def load_config(settings: Settings, city: str | None = None, environ: Mapping[str, str] | None = None) -> DashboardConfig:
    """Raises ``ValueError`` for an unknown city and :class:`routers.exceptions.Rejected` for a bad
    token or viewers file: the dashboard refuses to start rather than run with access it was not given."""
    env = os.environ if environ is None else environ
    chosen = city or settings.city
    if chosen not in CITIES:
        raise ValueError(f"unknown city {chosen!r}: choose one of {', '.join(CITIES)}")
    token = settings.dashboard_token
    if not token and env.get("IOC_DASHBOARD_TOKEN_FILE"):
        token = read_token_file(Path(env["IOC_DASHBOARD_TOKEN_FILE"]))
    viewers = load_viewers(settings.dashboard_viewers) if settings.dashboard_viewers else None
    urls = tuple(u.strip() for u in env.get("IOC_WORKER_METRICS_URLS", "").split(",") if u.strip())
    return DashboardConfig(
        settings=settings,
        city=chosen,
        province_code=CITIES[chosen],
        worker_metrics_urls=urls,
        prometheus_worker_job=env.get("IOC_PROMETHEUS_WORKER_JOB") or "ioc-worker",
        access=AccessPolicy(operator_token=token or None, viewers=viewers),
        host=settings.dashboard_host,
        trust_forwarded_proto=settings.dashboard_trust_forwarded_proto,
    )
