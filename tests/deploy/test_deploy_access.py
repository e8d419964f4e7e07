"""The shipped deployments close their HTTP surfaces: in the rendered compose file and the rendered
Kubernetes overlays, the worker's API and the dashboard listen beyond loopback, get the operator
token from a mounted secret file, and refuse a request without it or with a wrong one; /healthz and
/metrics stay open for probes and Prometheus.

Each check builds the settings from the rendered environment (the secret file path pointed at a
file of the test's), the guard the processes build from them (``streams.app.worker_gate``,
``dashboards.server.dashboard_gate``), and asks a real aiohttp server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dashboards.config import load_config
from dashboards.server import dashboard_gate
from streams import webguard
from streams.app import worker_gate
from streams.settings import load_settings
from tests.deploy.k8s_validation import K8S, kubectl, render
from tests.deploy.test_deploy_compose import COMPOSE, interpolate

TOKEN = "rendered-config-token-0123456789"
TOKEN_VARIABLE = "IOC_DASHBOARD_TOKEN_FILE"


def answers(gate: webguard.Gate[Any]) -> dict[str, int]:
    """Status codes of a server guarded by ``gate`` for each kind of caller."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"incidents": []})

    async def main() -> dict[str, int]:
        app = web.Application()
        webguard.harden(app, gate)
        for path in ("/api/incidents", "/healthz", "/metrics"):
            app.router.add_get(path, handler)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            calls = {
                "missing": ("/api/incidents", {}),
                "wrong": ("/api/incidents", {"Authorization": "Bearer not-the-token"}),
                "right": ("/api/incidents", {"Authorization": f"Bearer {TOKEN}"}),
                "healthz": ("/healthz", {}),
                "metrics": ("/metrics", {}),
            }
            return {name: (await client.get(path, headers=headers)).status for name, (path, headers) in calls.items()}
        finally:
            await client.close()

    return asyncio.run(main())


CLOSED = {"missing": 401, "wrong": 401, "right": 200, "healthz": 200, "metrics": 200}


def with_token_file(env: dict[str, str], mounted: str, tmp_path: Path) -> dict[str, str]:
    """The rendered environment, its token file path pointed at a file holding :data:`TOKEN`."""
    assert env.get(TOKEN_VARIABLE) == mounted
    assert not env.get("IOC_DASHBOARD_TOKEN"), "the token must come from a file, not the environment"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    out = {k: str(v) for k, v in env.items()}
    for variable in list(out):  # the other mounted secrets (Kafka password, Redis URL)
        if variable.endswith(("_FILE", "_CAFILE")) and variable != TOKEN_VARIABLE:
            stand_in = tmp_path / variable
            stand_in.write_text("rediss://:x@redis:6380/0" if "REDIS" in variable else "stand-in", encoding="utf-8")
            out[variable] = str(stand_in)
    return {**out, TOKEN_VARIABLE: str(token_file)}


def check_worker(env: dict[str, str]) -> None:
    settings = load_settings(env)
    assert not webguard.is_loopback(settings.worker_web_host), "the check only means something beyond loopback"
    assert answers(worker_gate(settings)) == CLOSED
    without = {k: v for k, v in env.items() if k != TOKEN_VARIABLE}  # the secret forgotten: closed to all
    assert answers(worker_gate(load_settings(without)))["right"] == 401


def check_dashboard(env: dict[str, str]) -> None:
    config = load_config(load_settings(env), None)
    assert not webguard.is_loopback(config.host)
    assert answers(dashboard_gate(config)) == CLOSED
    without = {k: v for k, v in env.items() if k != TOKEN_VARIABLE}
    assert answers(dashboard_gate(load_config(load_settings(without), None)))["right"] == 401


# -- compose ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose_services() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")), {})


def compose_env(document: dict[str, Any], service: str) -> tuple[dict[str, str], str]:
    """A service's environment and where its token secret is mounted (``/run/secrets/<name>``)."""
    spec = document["services"][service]
    secrets = spec.get("secrets", [])
    assert "dashboard_token" in secrets, f"{service} does not mount the dashboard_token secret"
    assert "file" in document["secrets"]["dashboard_token"]
    return dict(spec["environment"]), "/run/secrets/dashboard_token"


def test_compose_worker_api_refuses_missing_and_wrong_tokens(compose_services: dict[str, Any], tmp_path: Path) -> None:
    env, mounted = compose_env(compose_services, "worker")
    check_worker(with_token_file(env, mounted, tmp_path))


def test_compose_dashboard_refuses_missing_and_wrong_tokens(compose_services: dict[str, Any], tmp_path: Path) -> None:
    env, mounted = compose_env(compose_services, "dashboard")
    check_dashboard(with_token_file(env, mounted, tmp_path))


# -- Kubernetes -------------------------------------------------------------------------------------
def k8s_env(docs: list[dict[str, Any]], deployment: str) -> tuple[dict[str, str], str]:
    """The container's environment (ConfigMaps it loads, then its own ``env``) and the mounted path
    of its token, checked to come from a Secret volume."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    found = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment]
    assert len(found) == 1
    pod = found[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    path = env[TOKEN_VARIABLE]
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "ioc-dashboard-token"
    return env, path


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict[str, Any]]]:
    if kubectl() is None:
        pytest.skip("kubectl not on PATH: overlays not rendered")
    return {city: render(K8S / "overlays" / city) for city in ("hcmc", "hanoi", "danang")}


@pytest.mark.parametrize("city", ["hcmc", "hanoi", "danang"])
def test_k8s_worker_api_refuses_missing_and_wrong_tokens(overlays: dict[str, Any], city: str, tmp_path: Path) -> None:
    env, mounted = k8s_env(overlays[city], "ioc-worker")
    check_worker(with_token_file(env, mounted, tmp_path))


@pytest.mark.parametrize("city", ["hcmc", "hanoi", "danang"])
def test_k8s_dashboard_refuses_missing_and_wrong_tokens(overlays: dict[str, Any], city: str, tmp_path: Path) -> None:
    env, mounted = k8s_env(overlays[city], "ioc-dashboard")
    check_dashboard(with_token_file(env, mounted, tmp_path))
