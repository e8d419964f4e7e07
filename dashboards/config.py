"""The dashboard's configuration, all from the one settings object (:mod:`streams.settings`): the
operator token (or its file, ``IOC_DASHBOARD_TOKEN_FILE``) and the ward viewers file
``IOC_DASHBOARD_VIEWERS``, the bind address ``IOC_DASHBOARD_HOST`` and
``IOC_DASHBOARD_TRUST_FORWARDED_PROTO``, and where the numbers come from: Prometheus
(``IOC_PROMETHEUS_URL``, its scrape job ``IOC_PROMETHEUS_WORKER_JOB``) or the workers' ``/metrics``
(``IOC_WORKER_METRICS_URLS``, which ``ioc up`` sets).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.access import AccessPolicy, load_viewers
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


def load_config(settings: Settings, city: str | None = None) -> DashboardConfig:
    """Raises ``ValueError`` for an unknown city and :class:`routers.exceptions.Rejected` for a bad
    viewers file: the dashboard refuses to start rather than run with access it was not given (an
    empty or unreadable token file is refused earlier, by :func:`streams.settings.load_settings`)."""
    chosen = city or settings.city
    if chosen not in CITIES:
        raise ValueError(f"unknown city {chosen!r}: choose one of {', '.join(CITIES)}")
    viewers = load_viewers(settings.dashboard_viewers) if settings.dashboard_viewers else None
    urls = tuple(u.strip() for u in (settings.worker_metrics_urls or "").split(",") if u.strip())
    return DashboardConfig(
        settings=settings,
        city=chosen,
        province_code=CITIES[chosen],
        worker_metrics_urls=urls,
        prometheus_worker_job=settings.prometheus_worker_job,
        access=AccessPolicy(operator_token=settings.dashboard_token or None, viewers=viewers),
        host=settings.dashboard_host,
        trust_forwarded_proto=settings.dashboard_trust_forwarded_proto,
    )
