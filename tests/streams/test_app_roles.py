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

    from cli import main

    # no broker configured: the role is parsed, then the missing settings are reported
    result = CliRunner().invoke(main, ["worker", "--role", role], env={"IOC_KAFKA_BOOTSTRAP": "", "IOC_REDIS_URL": ""})
    assert result.exit_code == 2 and "IOC_KAFKA_BOOTSTRAP and IOC_REDIS_URL must be set" in result.output


_DISCOVER = """
import sys
from streams.app import app, configure
from streams.settings import Settings
configure(Settings(kafka_bootstrap="127.0.0.1:9", redis_url="redis://127.0.0.1:9/0", worker_web_port=6066), sys.argv[1])
app.discover()
print(" ".join(sorted(name.rsplit(".", 1)[-1] for name in app.agents)))
"""


@pytest.mark.parametrize(("role", "wanted", "unwanted"), [
    ("pipeline", {"route_intake"}, {"lifecycle", "status_intake"}),
    ("lifecycle", {"lifecycle", "status_intake"}, {"route_intake"}),
    ("all", {"route_intake", "lifecycle", "status_intake"}, set()),
])
def test_a_role_runs_only_its_agents(role: str, wanted: set[str], unwanted: set[str]) -> None:
    """In a fresh process (agents register on import): discovery imports only the role's packages."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _DISCOVER, role], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    agents = set(done.stdout.split())
    assert wanted <= agents and not (unwanted & agents), agents


@pytest.mark.parametrize(("variable", "exit_code", "says"), [
    ("lifecycle", 2, "IOC_KAFKA_BOOTSTRAP and IOC_REDIS_URL must be set"),  # taken, then the broker is missing
    ("bogus", 2, "Invalid value for '--role': 'bogus' is not one of 'all', 'pipeline', 'lifecycle'."),
])
def test_worker_role_from_the_settings(variable: str, exit_code: int, says: str) -> None:
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["worker"], env={"IOC_WORKER_ROLE": variable, "IOC_KAFKA_BOOTSTRAP": "",
                                                       "IOC_REDIS_URL": ""})
    assert result.exit_code == exit_code and says in result.output
