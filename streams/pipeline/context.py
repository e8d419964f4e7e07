"""The worker's long-lived services, built once at worker start: settings, boundary generations
and locator, the device cache. Agents reach them through :func:`services`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from routers.boundaries.registry import BoundaryRegistry
from routers.ingest.frigate_mapping import FrigateMapping, default_mapping, load_mapping_file
from routers.locate.locator import Locator
from routers.rules.silences import SilenceBook
from streams import metrics
from streams.devices import DeviceCache
from streams.pipeline.rule_state import RuleStateStore
from streams.settings import Settings, load_settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    locator: Locator
    devices: DeviceCache
    rule_state: RuleStateStore
    generation_id: str
    generation_source: str
    frigate_mapping: FrigateMapping = field(default_factory=default_mapping)
    # the silences on ioc.config.silences, kept current by streams.rules_live.agents.follow_silences
    silences: SilenceBook = field(default_factory=SilenceBook)


_services: Services | None = None


def build(settings: Settings) -> Services:
    registry = BoundaryRegistry(settings.data_dir)
    registry.ensure_default()
    generations = registry.load_for_serving()
    active = registry.load_active()
    locator = Locator(generations, nearest_max_m=settings.nearest_max_m)
    if not settings.redis_url:
        raise RuntimeError("IOC_REDIS_URL is not set: the worker needs Redis for the device registry")
    metrics.boundary_info.info({"generation": active.id, "source": active.source})
    log.info("boundaries: %d generation(s), active %s (%s)", len(generations), active.id, active.source)
    rule_state = RuleStateStore(settings.redis_url, settings.app_id)
    frigate = load_mapping_file(settings.frigate_mapping_file)  # a bad mapping stops the worker at start
    return Services(settings, locator, DeviceCache(settings.redis_url), rule_state, active.id, active.source, frigate)


def services() -> Services:
    global _services
    if _services is None:
        _services = build(load_settings())
    return _services


def installed() -> Services | None:
    """The services if this process built them (a pipeline worker), else None."""
    return _services


def install(prepared: Services) -> None:
    """Use already-built services (the worker command builds them before Faust starts)."""
    global _services
    _services = prepared
