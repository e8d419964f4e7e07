"""The worker's composition root: :func:`build_services` makes the one :class:`WorkerServices`
object a worker process runs with, and :func:`attach` hands it to the Faust app.

Why on the app: Faust agents, timers and web pages are module-level functions registered on the
module-level ``app`` (Faust's own layout), so they take no arguments of ours. The worker command
builds the services once, before Faust starts, and attaches them to that app; every agent reads
``app.services`` (typed on :class:`streams.app.IocApp`) when it runs. Nothing is built on import and
no module keeps worker state in a global of its own: a test or a benchmark builds services from its
own settings and attaches them to the app it runs.

What is built depends on the role (``ioc worker --role``): the intake pipeline's part
(:class:`IntakeServices`: boundary generations and locator, rule state, Frigate mapping) and the
lifecycle's (:class:`streams.lifecycle.agents.LifecycleWorker`: the incident book over its tables,
the serving index) only for the roles that run them; settings, clock, the device cache, the
active rules and the silences always.

Redis: one asyncio client per worker (:func:`streams.redis_retry.client`, whose socket timeouts the
retries rely on), built here and handed to the device cache, the rule state store and the serving
index; its parts never open or close one of their own. :meth:`WorkerServices.close` closes it when
the worker stops (:meth:`streams.app.IocApp.on_shutdown`, after the agents have stopped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from routers.boundaries.registry import BoundaryRegistry
from routers.ingest.frigate_mapping import FrigateMapping, default_mapping, load_mapping_file
from routers.locate.locator import Locator
from routers.rules.silences import SilenceBook
from streams import metrics
from streams.devices import DeviceCache
from streams.lifecycle.clock import Clock, clock_for
from streams.pipeline.rule_state import RuleStateStore
from streams.redis_retry import client as redis_client
from streams.rules_live.active import ActiveRules
from streams.settings import Settings

if TYPE_CHECKING:  # the lifecycle's agents module registers agents on the app: imported when built
    from streams.app import IocApp
    from streams.lifecycle.agents import LifecycleWorker

log = logging.getLogger(__name__)

ROLES_WITH_INTAKE = ("all", "pipeline")
ROLES_WITH_LIFECYCLE = ("all", "lifecycle")


@dataclass
class IntakeServices:
    """What the intake pipeline places and routes with: the boundaries' locator, the device cache
    (the worker's one, :attr:`WorkerServices.devices`), the rule state shared through Redis, the
    Frigate mapping, and the active boundary generation."""

    locator: Locator
    devices: DeviceCache
    rule_state: RuleStateStore
    generation_id: str
    generation_source: str
    frigate_mapping: FrigateMapping = field(default_factory=default_mapping)


@dataclass
class WorkerServices:
    """Everything a worker's agents share, built once per process by :func:`build_services`."""

    settings: Settings
    clock: Clock
    rules: ActiveRules
    redis: aioredis.Redis | None = None  # the worker's one client; None only without Redis
    devices: DeviceCache | None = None  # None only without Redis (tests of the lifecycle alone)
    # the silences on ioc.config.silences, kept current by streams.rules_live.agents.follow_silences
    silences: SilenceBook = field(default_factory=SilenceBook)
    intake: IntakeServices | None = None  # None on a lifecycle-only worker
    lifecycle: LifecycleWorker | None = None  # None on a pipeline-only worker

    def require_intake(self) -> IntakeServices:
        if self.intake is None:
            raise RuntimeError("this worker runs no intake pipeline (its role has no streams.pipeline)")
        return self.intake

    def require_lifecycle(self) -> LifecycleWorker:
        if self.lifecycle is None:
            raise RuntimeError("this worker runs no lifecycle (its role has no streams.lifecycle)")
        return self.lifecycle

    async def close(self) -> None:
        """Close the worker's Redis client (once the agents have stopped); a second call does nothing."""
        client, self.redis = self.redis, None
        if client is not None:
            await client.aclose()


def build_intake(settings: Settings, redis: aioredis.Redis | None, devices: DeviceCache | None) -> IntakeServices:
    """Boundaries, rule state (over ``redis``, the worker's client) and the Frigate mapping; raises
    for a missing Redis or a bad mapping file."""
    if redis is None or devices is None:  # checked before the boundaries load: they take seconds
        raise RuntimeError("IOC_REDIS_URL is not set: the worker needs Redis for the device registry")
    registry = BoundaryRegistry(settings.data_dir)
    registry.ensure_default()
    generations = registry.load_for_serving()
    active = registry.load_active()
    locator = Locator(generations, nearest_max_m=settings.nearest_max_m)
    metrics.boundary_info.info({"generation": active.id, "source": active.source})
    log.info("boundaries: %d generation(s), active %s (%s)", len(generations), active.id, active.source)
    rule_state = RuleStateStore(redis, settings.app_id)
    frigate = load_mapping_file(settings.frigate_mapping_file)  # a bad mapping stops the worker at start
    return IntakeServices(locator, devices, rule_state, active.id, active.source, frigate)


def build_services(settings: Settings, role: str = "all", clock: Clock | None = None) -> WorkerServices:
    """The services of a worker of ``role`` (``all``, ``pipeline`` or ``lifecycle``); raises for an
    invalid rules file (before the worker joins its group), a missing Redis or a bad mapping file."""
    rules = ActiveRules.load(settings.rules_file)
    redis = redis_client(settings.redis_url) if settings.redis_url else None  # connects on first use
    services = WorkerServices(
        settings, clock or clock_for(settings.clock_offset_file), rules,
        redis, DeviceCache(redis) if redis is not None else None,
    )
    if role in ROLES_WITH_INTAKE:
        services.intake = build_intake(settings, services.redis, services.devices)
    if role in ROLES_WITH_LIFECYCLE:
        from streams.lifecycle.agents import build_lifecycle

        services.lifecycle = build_lifecycle(settings, services.clock, services.devices, services.redis)
    return services


def attach(app: IocApp, services: WorkerServices) -> WorkerServices:
    """Hand ``services`` to ``app``'s agents (before the worker starts), and name the topics that
    depend on the settings (the lifecycle's commands topic carries the app id)."""
    app.attach(services)
    if services.lifecycle is not None:
        from streams.lifecycle.agents import bind_topics

        bind_topics(services.settings)
    return services
