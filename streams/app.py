"""The Faust application. This module only creates and configures the App; agents live in
``streams.pipeline`` (intake -> locate -> route -> publish), ``streams.lifecycle`` (incidents,
status updates, SLA timers) and ``streams.rules_live`` (hot-reloaded rules), found by autodiscovery.
The agents reach the worker's services as ``app.services``, attached by the composition root
(:mod:`streams.services`) before the worker starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web

from streams import kafka_clients, webguard
from streams.settings import Settings, SettingsError, check
from streams.viewers import Viewer, access_gate, load_access

if TYPE_CHECKING:  # the services import the agents' packages, which import this module
    from streams.services import WorkerServices

AGENT_PACKAGES = ["streams.pipeline", "streams.lifecycle", "streams.rules_live", "streams.web"]

# What a worker runs. "all" is the default (one process does everything, as `ioc up` starts it);
# "pipeline" and "lifecycle" let the two stages scale apart: intake routing is cheap per event,
# incident correlation is not, and each reads its own topics.
ROLES: dict[str, list[str]] = {
    "all": AGENT_PACKAGES,
    "pipeline": ["streams.pipeline", "streams.rules_live", "streams.web"],
    "lifecycle": ["streams.lifecycle", "streams.web"],
}

class IocApp(faust.App):
    """The Faust App plus the one place its agents find the worker's services (see :mod:`streams.services`)."""

    _services: WorkerServices | None = None

    @property
    def services(self) -> WorkerServices:
        """The worker's services; an agent that runs before they are attached is a wiring error."""
        if self._services is None:
            raise RuntimeError("no services attached to the app: the worker attaches them before it starts "
                               "(streams.services.attach)")
        return self._services

    @property
    def attached(self) -> WorkerServices | None:
        """The services, or None before they are attached (a signal that may fire before)."""
        return self._services

    def attach(self, services: WorkerServices) -> None:
        self._services = services

    async def on_shutdown(self) -> None:
        """The worker's stop path, last step (mode's ``Service.stop`` calls it once the agents and
        the app's other children have stopped): close the services' Redis client."""
        await super().on_shutdown()
        if self._services is not None:
            await self._services.close()


app = IocApp(
    "ioc-router",
    autodiscover=AGENT_PACKAGES,
    # no ``origin``: Faust would scan that package too, whatever the role's list says
    # broker/store/web are filled in by configure() from the settings at worker start
)


# The cluster id the embedded Tansu broker announces (it is started without --cluster-id).
EMBEDDED_CLUSTER_ID = "tansu_cluster"


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Faust keyword settings derived from our settings (the broker and its credentials, the
    processing guarantee, storage, web endpoint)."""
    return {
        **kafka_clients.faust_options(settings),
        "processing_guarantee": settings.processing_guarantee,
        "store": "memory://",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "web_enabled": True,
        "web_bind": settings.worker_web_host,
        "web_port": settings.worker_web_port,
        "web_in_thread": False,
        "datadir": str(settings.data_dir / "faust"),
    }


WEB_CALLER = web.RequestKey("caller", Viewer)


def worker_gate(settings: Settings) -> webguard.Gate[Viewer]:
    """Who may use the worker's APIs (``/api/incidents``, ``/api/locate``): the dashboard's credentials
    (``IOC_DASHBOARD_TOKEN``/``_FILE`` for every ward, ``IOC_DASHBOARD_VIEWERS`` for a ward viewer's own
    wards), compared in constant time; with none configured, open on loopback only.
    Raises :class:`routers.exceptions.Rejected` for a bad viewers file."""
    return access_gate(load_access(settings), settings.worker_web_host, WEB_CALLER, realm="ioc-worker")


def caller_wards(request: web.Request) -> frozenset[str] | None:
    """The wards the caller of a worker API may see; ``None``: every ward."""
    caller = request.get(WEB_CALLER)
    return None if caller is None else caller.ward_scope


_HARDENED = web.AppKey("ioc_hardened", bool)


def harden_web(faust_app: faust.App, settings: Settings) -> None:
    """Close the worker's web server (Faust's aiohttp application) before it starts; :func:`configure`
    does it, so every worker is closed. Once per application: a second call changes nothing."""
    web_app = faust_app.web.web_app  # type: ignore[attr-defined]  # on Faust's aiohttp driver, not its Web base type
    if not web_app.get(_HARDENED):
        webguard.harden(web_app, worker_gate(settings))
        web_app[_HARDENED] = True


def refuse_exactly_once_without_transactions(settings: Settings,
                                             cluster_id: Callable[[Settings], str] = kafka_clients.cluster_id) -> None:
    """``exactly_once`` needs Kafka transactions, which the embedded Tansu broker does not have
    (it lists the transaction APIs but does not implement them): refuse it there with a clear error
    instead of running with a guarantee that does not hold. Asks the broker only for exactly_once."""
    if settings.processing_guarantee != "exactly_once":
        return
    advice = "use IOC_PROCESSING_GUARANTEE=at_least_once there (consumers dedupe on the CloudEvents id)"
    if settings.embedded_kafka:
        raise SettingsError("exactly_once_unsupported",
                            f"exactly_once needs Apache Kafka transactions; the embedded broker has none: {advice}")
    if cluster_id(settings) == EMBEDDED_CLUSTER_ID:
        raise SettingsError("exactly_once_unsupported",
                            f"exactly_once needs Apache Kafka transactions; {settings.kafka_bootstrap} is the embedded "
                            f"Tansu broker (cluster id {EMBEDDED_CLUSTER_ID!r}), which has none: {advice}")


def configure(settings: Settings, role: str = "all", **extra: Any) -> IocApp:
    """Point the App at the brokers of ``settings`` and pick the agents of ``role`` (see
    :data:`ROLES`); call once before the worker starts.

    Raises :class:`SettingsError` for inconsistent security settings and for exactly_once on the
    embedded broker."""
    check(settings)
    refuse_exactly_once_without_transactions(settings)
    options = faust_settings(settings)
    options["autodiscover"] = ROLES[role]
    options.update(extra)
    # The id is the consumer group and changelog prefix; Faust only takes it at construction,
    # and the module-level App must exist before agents register, so set it before configuring.
    app._default_options = (settings.app_id, app._default_options[1])
    app.config_from_object(options)
    harden_web(app, settings)
    return app
