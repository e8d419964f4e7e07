"""Imports run one way: cli -> dashboards -> streams -> routers (README, "Code layout").

Read from the source (``ast``), not by importing: a lazy import inside a function counts as much
as one at the top, and so does ``importlib.import_module("...")`` with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# package -> the packages above it, which it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "routers": ("cli", "dashboards", "streams"),
    "streams": ("cli", "dashboards"),
    "dashboards": ("cli",),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                if node.module:
                    found.append((node.lineno, f"{base}.{node.module}"))
                else:  # `from .. import x`: x may be a module
                    found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
            elif node.module:
                found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return sorted(found)


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, name in imported_names(path):
            if name.split(".")[0] in forbidden:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package: str) -> None:
    assert violations(package, FORBIDDEN[package]) == []


def test_the_check_sees_lazy_relative_and_dynamic_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: each way of importing the CLI from below is reported."""
    package = tmp_path / "streams" / "sub"
    package.mkdir(parents=True)
    (tmp_path / "streams" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "m.py").write_text(
        "import os\n"
        "def f():\n    from cli import main\n"
        "import cli.up\n"
        "from .. import settings\n"
        "import importlib\nimportlib.import_module('dashboards.server')\n"
    )
    monkeypatch.setitem(globals(), "REPO", tmp_path)
    assert violations("streams", FORBIDDEN["streams"]) == [
        "streams/sub/m.py:3 imports cli",
        "streams/sub/m.py:4 imports cli.up",
        "streams/sub/m.py:7 imports dashboards.server",
    ]
    assert (5, "streams.settings") in imported_names(package / "m.py")
