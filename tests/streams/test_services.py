"""The composition root: one services object per worker, its parts by role, on the app the agents read."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from routers.rules import default_ruleset
from streams import redis_retry
from streams.app import IocApp
from streams.services import attach, build_services
from streams.settings import Settings

REDIS = "redis://127.0.0.1:9/0"  # never connected to: clients connect on first use


@pytest.mark.parametrize(("role", "intake", "lifecycle"), [
    ("all", True, True), ("pipeline", True, False), ("lifecycle", False, True),
])
def test_each_role_builds_its_parts(data_dir: Path, role: str, intake: bool, lifecycle: bool) -> None:
    services = build_services(Settings(data_dir=data_dir, redis_url=REDIS), role)
    assert (services.intake is not None, services.lifecycle is not None) == (intake, lifecycle)
    assert services.rules.current() is default_ruleset()
    if services.intake is not None and services.lifecycle is not None:  # one device cache per worker
        assert services.intake.devices is services.devices is services.lifecycle.devices
        assert services.lifecycle.clock is services.clock


def test_the_parts_share_the_workers_one_redis_client_closed_when_the_worker_stops(data_dir: Path) -> None:
    app = IocApp("test-services-redis")
    services = attach(app, build_services(Settings(data_dir=data_dir, redis_url=REDIS), "all"))
    client = services.redis
    assert client is not None and services.intake is not None and services.lifecycle is not None
    index = services.lifecycle.index
    assert index is not None
    assert services.intake.devices._client is client
    assert services.intake.rule_state._client is client
    assert index.redis is client
    # the retry logic's socket timeouts, the serving index's too
    pool_options = client.connection_pool.connection_kwargs
    assert pool_options["socket_timeout"] == redis_retry.SOCKET_TIMEOUT_S
    assert pool_options["socket_connect_timeout"] == redis_retry.CONNECT_TIMEOUT_S

    closed: list[object] = []

    async def aclose() -> None:
        closed.append(client)

    client.aclose = aclose  # type: ignore[method-assign]
    asyncio.run(app.on_shutdown())  # the last step of the worker's stop path
    asyncio.run(app.on_shutdown())  # a second stop closes nothing twice
    assert closed == [client] and services.redis is None


def test_without_redis_there_is_no_client_nor_index(data_dir: Path) -> None:
    services = build_services(Settings(data_dir=data_dir), "lifecycle")
    assert services.redis is None and services.devices is None
    assert services.lifecycle is not None and services.lifecycle.index is None
    asyncio.run(services.close())


def test_the_rules_file_is_loaded_at_build_and_a_bad_one_refused(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: x\nroute: [\n")
    with pytest.raises(Exception, match="rules"):
        build_services(Settings(data_dir=data_dir, redis_url=REDIS, rules_file=bad), "lifecycle")


def test_the_pipeline_needs_redis(data_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="IOC_REDIS_URL"):
        build_services(Settings(data_dir=data_dir), "pipeline")


def test_agents_read_the_attached_services_and_fail_loudly_without(data_dir: Path) -> None:
    app = IocApp("test-services-root")
    with pytest.raises(RuntimeError, match="no services attached"):
        _ = app.services
    assert app.attached is None
    settings = dataclasses.replace(Settings(data_dir=data_dir, redis_url=REDIS), app_id="another-app")
    services = attach(app, build_services(settings, "lifecycle"))
    assert app.services is services and app.attached is services
    with pytest.raises(RuntimeError, match="no intake pipeline"):
        services.require_intake()
    from streams.lifecycle import agents

    # the commands topic is named for the app id when the services are attached, not on import
    assert agents.commands_topic_of_app() == "another-app-lifecycle-commands"
    assert agents.lifecycle_topic.topics == ["ioc.routed", "another-app-lifecycle-commands"]
    agents.bind_topics(Settings())  # back to the default app's names for the rest of the session
