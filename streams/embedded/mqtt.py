"""The embedded MQTT broker of ``ioc up`` and the tests: Mosquitto (Debian's ``mosquitto``) when
installed, else amqtt (``pip install amqtt``), on a free 127.0.0.1 port with a generated config.

The broker keeps a disconnected persistent session's QoS 1 messages (up to
:data:`MAX_QUEUED` per client), which is what lets the bridge be killed and restarted without
losing any. A production broker needs the same: ``max_queued_messages`` large enough to hold what
Frigate publishes while the bridge is down.
"""

from __future__ import annotations

import getpass
import shutil
import sys
from pathlib import Path

from streams.embedded.process import ManagedProcess, free_port

MAX_QUEUED = 1_000_000  # per client, above the in-flight window
MAX_INFLIGHT = 200  # QoS 1 messages sent to a client before its acknowledgements


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).is_file()), None)


def mosquitto_config(port: int) -> str:
    return "\n".join((
        f"listener {port} 127.0.0.1",
        # Started as root, mosquitto switches to the "mosquitto" user unless told otherwise, and a
        # change of user clears the parent-death signal (prctl(2)): it outlived a killed `ioc up`.
        # Staying the user who started it keeps the signal (a non-root start ignores the option).
        f"user {getpass.getuser()}",
        "allow_anonymous true",
        "persistence false",
        f"max_queued_messages {MAX_QUEUED}",
        f"max_inflight_messages {MAX_INFLIGHT}",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "",
    ))


def _amqtt_config(port: int) -> str:
    return (f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n")


def start_mqtt(run_dir: Path) -> ManagedProcess:
    """Start a broker bound to 127.0.0.1; stop it with ``.stop()`` (also at exit)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    binary = mosquitto_binary()
    if binary is not None:
        config = run_dir / "mosquitto.conf"
        config.write_text(mosquitto_config(port), encoding="utf-8")
        return ManagedProcess("mosquitto", [binary, "-c", str(config)], port, run_dir / "mosquitto.log")
    try:
        import amqtt  # noqa: F401 - only to say clearly what is missing
    except ImportError:
        raise RuntimeError("no MQTT broker: install Debian's mosquitto (apt-get install mosquitto) "
                           "or amqtt (pip install amqtt)") from None
    config = run_dir / "amqtt.yaml"
    config.write_text(_amqtt_config(port), encoding="utf-8")
    argv = [sys.executable, "-c", "from amqtt.scripts.broker_script import main; main()", "-c", str(config)]
    return ManagedProcess("amqtt", argv, port, run_dir / "amqtt.log", ready_timeout_s=30.0)


def url_of(process: ManagedProcess) -> str:
    return f"mqtt://127.0.0.1:{process.port}"
