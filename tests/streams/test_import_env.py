"""Nothing reads the environment on import: importing every module of ``streams`` (agents, topics
and tables registered on the app included) reads no ``IOC_*`` variable and none of ours; settings
are read when a command or the worker's composition root asks for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child with an environment that records every key looked up: the import order of the
# test session (other tests import these modules first) must not hide a read.
PROBE = r"""
import importlib, os, pkgutil, sys

looked_up = []

class Recording(dict):
    def __getitem__(self, key):
        looked_up.append(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        looked_up.append(key)
        return super().get(key, default)

    def __contains__(self, key):
        looked_up.append(key)
        return super().__contains__(key)

os.environ = Recording({"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")})
import streams

failed = []
for module in pkgutil.walk_packages(streams.__path__, "streams."):
    if module.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(module.name)
    except Exception as exc:
        failed.append(f"{module.name}: {exc!r}")
ours = sorted({key for key in looked_up if key.startswith("IOC_") or key == "XDG_DATA_HOME"})
print("\n".join(failed + [f"read on import: {key}" for key in ours]))
"""


def test_importing_the_streams_packages_reads_no_settings() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


def test_the_probe_sees_a_read() -> None:
    """The recording environment catches ``os.getenv`` and ``os.environ.get`` as modules use them."""
    probe = PROBE.replace("import streams\n", "import streams\nos.getenv('IOC_PROBE'); os.environ.get('IOC_SEEN')\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.stdout.split().count("IOC_PROBE") == 1 and "read on import: IOC_SEEN" in done.stdout
