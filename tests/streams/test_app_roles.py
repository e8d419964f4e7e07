"""Worker roles pick which agent packages a worker discovers."""

from __future__ import annotations

import importlib

import pytest

from streams.app import AGENT_PACKAGES, ROLES


def test_every_role_names_real_packages_and_all_covers_the_others() -> None:
    for packages in ROLES.values():
        for package in packages:
            importlib.import_module(package)
    assert set(ROLES["all"]) == set(AGENT_PACKAGES)
    assert set(ROLES["pipeline"]) | set(ROLES["lifecycle"]) == set(AGENT_PACKAGES)
    assert "streams.lifecycle" not in ROLES["pipeline"] and "streams.pipeline" not in ROLES["lifecycle"]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_worker_accepts_the_role(role: str) -> None:
    from click.testing import CliRunner

    from streams.cli import main

    # no broker configured: the role is parsed, then the missing settings are reported
    result = CliRunner().invoke(main, ["worker", "--role", role], env={"IOC_KAFKA_BOOTSTRAP": "", "IOC_REDIS_URL": ""})
    assert result.exit_code == 2 and "IOC_KAFKA_BOOTSTRAP and IOC_REDIS_URL must be set" in result.output
