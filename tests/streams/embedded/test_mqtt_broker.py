"""The embedded MQTT broker dies with the process that started it, even one killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from streams.embedded.mqtt import mosquitto_binary


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(mosquitto_binary() is None, reason="Debian's mosquitto is not installed (apt-get install mosquitto)")
def test_mosquitto_dies_with_a_killed_parent(tmp_path: Path) -> None:
    # Run as root, mosquitto switched to its own user by default, and a change of user clears the
    # parent-death signal: after `kill -9` of `ioc up` it lived on.
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from streams.embedded.mqtt import start_mqtt
        broker = start_mqtt(Path({str(tmp_path)!r}))
        print(broker.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    assert _alive(pid)
    time.sleep(0.5)  # past mosquitto's start-up, where it would change user
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(pid)
    if alive:
        os.kill(pid, signal.SIGTERM)
    assert not alive, "mosquitto outlived its parent"
