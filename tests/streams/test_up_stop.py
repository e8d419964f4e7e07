"""`ioc up` stops everything it started on SIGTERM or Ctrl-C: no orphan processes, ports freed."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not (Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_everything(data_dir: Path, stop_signal: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("IOC_KAFKA_BOOTSTRAP", "IOC_REDIS_URL")}
    env.update({"IOC_DATA_DIR": str(data_dir), "IOC_DASHBOARD_PORT": "0"})
    up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--rate", "20", "--no-dashboard"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    assert up.stdout is not None
    try:
        ports: list[int] = []
        deadline = time.monotonic() + 180
        for line in up.stdout:
            ports += [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", line)]
            if line.startswith("running") or time.monotonic() > deadline:
                break
        children = _children(up.pid)
        assert len(children) >= 3, "expected broker, redis and a worker"
        up.send_signal(stop_signal)
        up.wait(timeout=60)
    finally:
        if up.poll() is None:  # the test failed before the signal: do not leave the run behind
            up.kill()
            up.wait()
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)], "orphan processes left behind"
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still listening"
