"""The composition root: one services object per worker, its parts by role, on the app the agents read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from routers.rules import default_ruleset
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
        assert services.intake.devices is services.devices is services.lifecycle.devices()
        assert services.lifecycle.clock is services.clock


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
