"""One Progress type (routers/progress.py) for every long operation."""

from __future__ import annotations

import ast
from pathlib import Path

from routers.progress import quiet, tracked

REPO = Path(__file__).resolve().parents[2]


def test_tracked_tells_one_unit_per_item_taken() -> None:
    heard: list[tuple[str, int]] = []
    items = tracked(["a", "b", "c"], "replaying", lambda stage, n: heard.append((stage, n)))
    assert next(items) == "a" and heard == []  # told once the item has been handled, as the loop asks for the next
    assert list(items) == ["b", "c"]
    assert heard == [("replaying", 1)] * 3
    quiet("anything", 5)


def test_progress_is_defined_once() -> None:
    """No module but routers/progress.py defines a name Progress (an alias or a class)."""
    found = []
    for package in ("routers", "streams", "dashboards", "cli", "benchmarks"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                names = ([node.name] if isinstance(node, ast.ClassDef)
                         else [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign)
                         else [node.target.id] if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                         else [])
                if "Progress" in names:
                    found.append(str(path.relative_to(REPO)))
    assert found == ["routers/progress.py"]
