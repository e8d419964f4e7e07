"""deploy/compose.yaml and deploy/Dockerfile, checked without a container engine.

The Compose file is validated against the Compose-spec JSON schema that Debian's docker-compose
1.29 ships (vendored in schemas/), after the same ``${VAR:-default}`` interpolation Compose does;
when ``docker-compose`` is on PATH its own ``config`` check runs too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

from cli import COMMANDS, main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
SCHEMA = HERE / "schemas" / "compose_spec.json"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def interpolate(node: Any, environ: dict[str, str]) -> Any:
    """Compose's variable substitution: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``$VAR``."""
    if isinstance(node, dict):
        return {key: interpolate(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, environ) for item in node]
    if isinstance(node, str):
        return _VARIABLE.sub(lambda m: environ.get(m.group(1) or m.group(3), m.group(2) or ""), node)
    return node


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The file names draft 2019-09 under a non-canonical URL; say so explicitly.
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    found = []
    for error in _validator().iter_errors(interpolate(document, {})):
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    with COMPOSE.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.safe_load(handle)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return interpolate(compose, {})["services"]


def test_compose_file_matches_the_compose_spec(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


@pytest.mark.parametrize(("case", "mutate", "expected"), [
    ("unknown service key", lambda c: c["services"]["worker"].update(replicas=3), "services.worker: 'replicas'"),
    ("depends_on condition", lambda c: c["services"]["worker"]["depends_on"]["redis"].update(condition="healthy"),
     "depends_on"),
    ("healthcheck typo", lambda c: c["services"]["redis"]["healthcheck"].update(intervall="5s"), "intervall"),
    ("replicas as text", lambda c: c["services"]["worker"]["deploy"].update(replicas="two"), "replicas"),
    ("unknown top-level key", lambda c: c.update(service={}), "(root): 'service'"),
])
def test_schema_check_rejects_a_broken_compose_file(compose: dict[str, Any], case: str, mutate: Any,
                                                    expected: str) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    found = schema_errors(broken)
    assert any(expected in e for e in found), f"{case}: {found}"


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose not on PATH (Debian: apt-get install docker-compose); schema check ran")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    ok = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                        env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    # The same tool must refuse a broken copy, or the check above proves nothing.
    broken = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    broken["services"]["worker"]["stop_grace"] = "45s"
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    bad = subprocess.run(["docker-compose", "-f", str(tmp_path / "compose.yaml"), "config", "-q"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0 and "stop_grace" in bad.stderr


def test_the_stack_has_every_part(services: dict[str, Any]) -> None:
    assert {"kafka", "topic-init", "redis", "prometheus", "grafana", "worker", "dashboard", "simulator"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert not any("zookeeper" in str(s).lower() for s in services.values()), "KRaft mode: no ZooKeeper"
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_ioc_services_run_registered_commands_from_the_local_build(services: dict[str, Any]) -> None:
    ioc = {name: s for name, s in services.items() if "build" in s}
    assert set(ioc) == {"topic-init", "worker", "dashboard", "simulator", "open311-api", "portal-delivery"}
    for name, service in ioc.items():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"]).resolve() == REPO
        command = service["command"][0]
        assert command in COMMANDS, f"{name}: `ioc {command}` is not a registered CLI command"
    assert services["topic-init"]["command"][:2] == ["topics", "create"]
    assert services["topic-init"]["restart"] == "no"


@pytest.mark.parametrize("name", ["topic-init", "worker", "dashboard", "simulator", "open311-api", "portal-delivery"])
def test_ioc_service_arguments_parse_with_the_real_cli(services: dict[str, Any], name: str) -> None:
    """click parses each container's arguments (options, choices, numbers) without running anything."""
    command: click.Command | None = main
    args = list(services[name]["command"])
    words = []
    while isinstance(command, click.Group):
        word, *args = args
        words.append(word)
        command = command.get_command(click.Context(command), word)
    if command is None:
        pytest.skip(f"`ioc {' '.join(words)}` is registered but its module is not in this checkout yet")
    command.make_context(" ".join(words), args)


def test_workers_start_after_topics_exist(services: dict[str, Any]) -> None:
    for name in ("worker", "dashboard", "simulator", "open311-api", "portal-delivery"):
        assert services[name]["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if isinstance(service["depends_on"], dict) and \
                    service["depends_on"][dependency]["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck to wait for"


def test_bind_mounts_exist_in_the_repository(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"


def test_published_ports_bind_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} would listen on every interface"


def test_prometheus_scrapes_the_compose_services(services: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_sd = jobs["ioc-worker"]["dns_sd_configs"][0]
    assert worker_sd["names"] == ["worker"]
    assert str(worker_sd["port"]) == services["worker"]["environment"]["IOC_WORKER_WEB_PORT"]
    host, port = jobs["ioc-dashboard"]["static_configs"][0]["targets"][0].split(":")
    assert host == "dashboard" and port == services["dashboard"]["environment"]["IOC_DASHBOARD_PORT"]
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith(".")}
    assert "/etc/prometheus/" + config["rule_files"][0] in mounted


# --- Dockerfile ---------------------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_base_is_pinned_slim_python_311() -> None:
    args = dict(arg.split("=", 1) for op, arg in _instructions() if op == "ARG" and "=" in arg)
    image = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", image), image
    assert all(arg.split()[0] in ("${PYTHON_IMAGE}", "${NODE_IMAGE}") for op, arg in _instructions() if op == "FROM")
    # the Node stage only installs the dashboard's map library (npm ci on the lock file), pinned too
    assert re.fullmatch(r"node:\d+\.\d+-bookworm-slim", args["NODE_IMAGE"]), args["NODE_IMAGE"]
    final = [arg for op, arg in _instructions() if op == "FROM"][-1]
    assert final.startswith("${PYTHON_IMAGE}")


def test_dockerfile_runs_ioc_as_a_non_root_user() -> None:
    ops = _instructions()
    final_stage = ops[max(i for i, (op, _) in enumerate(ops) if op == "FROM"):]
    users = [arg for op, arg in final_stage if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert json.loads(dict(final_stage)["ENTRYPOINT"]) == ["ioc"]
    assert any(op == "RUN" and re.search(r"pip install [^&]*\s\.(\s|$)", arg) for op, arg in ops), "pip install ."


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for op, arg in _instructions():
        if op != "COPY" or arg.startswith("--from"):
            continue
        *sources, _target = arg.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository, the build would fail"
            assert source.rstrip("/") in kept, f"COPY {source}: excluded by Dockerfile.dockerignore"
