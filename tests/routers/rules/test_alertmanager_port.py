"""The port of Alertmanager's own test cases (tests/routers/rules/alertmanager/), run from outside
through the command line: ``ioc rules test --cases`` for routes, matchers, inhibition and time
intervals; ``ioc rules show`` for the configurations Alertmanager refuses. ``differences.*`` shows
each deliberate difference of docs/rules.md behaving as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

PORT = Path(__file__).resolve().parent / "alertmanager"
AREAS = ("routes", "matchers", "inhibit", "inhibit_matchers", "timeintervals", "differences")
ERRORS = yaml.safe_load((PORT / "config_errors.yaml").read_text(encoding="utf-8"))["errors"]


def ioc(*args: str) -> subprocess.CompletedProcess[str]:
    env_free = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"}  # no IOC_* from the caller
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          timeout=120, env=env_free, cwd=Path(__file__).resolve().parents[3])


@pytest.mark.parametrize("area", AREAS)
def test_ported_cases_pass_through_the_cli(area: str) -> None:
    cases = yaml.safe_load((PORT / f"{area}.cases.yaml").read_text(encoding="utf-8"))["cases"]
    assert all(case.get("source") for case in cases), "every ported case names the upstream file it came from"
    done = ioc("rules", "test", "--rules", str(PORT / f"{area}.rules.yaml"), "--cases", str(PORT / f"{area}.cases.yaml"),
               "--json")
    report = orjson.loads(done.stdout)
    failed = [(c["name"], c["problems"]) for c in report["cases"] if not c["ok"]]
    assert done.returncode == 0 and not failed and report["passed"] == len(cases), failed


@pytest.mark.parametrize("area", AREAS)
def test_ported_rules_show(area: str) -> None:
    done = ioc("rules", "show", "--rules", str(PORT / f"{area}.rules.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    shown = orjson.loads(done.stdout)
    assert shown["version"].split("+")[0] in {"am-route-test", "am-matcher-test", "am-inhibit-matches",
                                               "am-inhibit-matchers", "am-timeinterval-test", "differences"}
    assert shown["routes"][0]["id"] == "root"


def build(entry: dict[str, Any]) -> str:
    def indent(text: str | None, spaces: int) -> str:
        return "".join(" " * spaces + line + "\n" for line in (text or "").splitlines())

    return ('version: "am-config-test"\nagencies: [seen]\n' + indent(entry.get("top"), 0)
            + "route:\n  id: root\n  targets: [agency:seen]\n  priority: P4\n  sla: {acknowledge: 1h, resolve: 4h}\n"
            + indent(entry.get("root"), 2) + "  routes:\n    - id: child\n      match: {channel: x}\n"
            + indent(entry.get("child"), 6))


@pytest.mark.parametrize("entry", ERRORS, ids=[e["name"] for e in ERRORS])
def test_configurations_alertmanager_refuses_are_refused(entry: dict[str, Any], tmp_path: Path) -> None:
    rules = tmp_path / "am.yaml"
    rules.write_text(build(entry), encoding="utf-8")
    done = ioc("rules", "show", "--rules", str(rules), "--json")
    assert done.returncode == 1, done.stdout
    problems = orjson.loads(done.stdout)["problems"]
    hits = [p for p in problems if entry["expect"] in p["message"]]
    assert hits, problems
    assert all(p["line"] > 0 and p["column"] > 0 for p in hits)
    if "at" in entry:
        assert f"{hits[0]['line']}:{hits[0]['column']}" == entry["at"], hits


def test_the_base_of_the_refused_configurations_is_valid(tmp_path: Path) -> None:
    rules = tmp_path / "base.yaml"
    rules.write_text(build({}), encoding="utf-8")
    assert ioc("rules", "show", "--rules", str(rules)).returncode == 0
