"""Idle worker memory per role: what a worker holds before it routes a single event.

    python -m benchmarks.worker_memory                    # roles all, pipeline, lifecycle
    python -m benchmarks.worker_memory --role all --json

Starts the embedded stack, creates the topics the soak creates (every ward's topic, HCMC's status
topics), then one ``ioc worker --role ROLE`` at a time; once its /metrics answers and it has
settled for ``--settle`` seconds, reads /proc/<pid>/status and /proc/<pid>/smaps: total RSS, the
anonymous part (heap: Python objects, GEOS geometries, index arrays, C buffers), the file-backed
part (shared libraries; mapped index files), and the largest mappings. The soak's "RSS start"
is this baseline plus what routing adds; docs/performance.md ("Worker memory") keeps the numbers.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import click
import orjson

from streams.admin import create_topics
from streams.embedded.process import ManagedProcess, free_port
from streams.embedded.stack import EmbeddedStack
from streams.settings import Settings, load_settings

ROLES = ("all", "pipeline", "lifecycle")


def rss_by_mapping(pid: int | str = "self") -> tuple[dict[str, float], float]:
    """RSS of ``pid`` in MB per mapping name (``[anon]`` for unnamed anonymous mappings, ``[heap]``,
    each shared library or mapped file), and its anonymous memory in MB, from /proc/<pid>/smaps."""
    by_name: dict[str, float] = defaultdict(float)
    anon = 0.0
    name = "[anon]"
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            head = line.split(maxsplit=5)
            if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:  # a mapping's first line
                name = head[5].strip() if len(head) == 6 else "[anon]"
            elif head[0] == "Rss:":
                by_name[name] += int(head[1]) / 1024
            elif head[0] == "Anonymous:":
                anon += int(head[1]) / 1024
    return dict(by_name), anon


def smaps(pid: int) -> dict[str, float]:
    """RSS of ``pid`` in MB: total, anonymous, file-backed, and the largest mappings by name."""
    by_name, anon = rss_by_mapping(pid)
    total = sum(by_name.values())
    out = {"rss_mb": round(total, 1), "anonymous_mb": round(anon, 1), "file_mb": round(total - anon, 1)}
    for mapping, mb in sorted(by_name.items(), key=lambda kv: -kv[1])[:8]:
        out[f"map {Path(mapping).name if mapping.startswith('/') else mapping}"] = round(mb, 1)
    return out


def measure(role: str, settle_s: float, env: dict[str, str], run_dir: Path) -> dict[str, float]:
    port = free_port()
    argv = [sys.executable, "-m", "cli", "worker", "--web-port", str(port), "--role", role]
    proc = ManagedProcess(f"worker-{role}", argv, port, run_dir / f"worker-{role}.log", ready_timeout_s=120.0, env=env)
    try:
        time.sleep(settle_s)  # joined the group, fetched metadata, idle
        return smaps(proc.pid)
    finally:
        proc.stop()


@click.command()
@click.option("--role", "roles", type=click.Choice(ROLES), multiple=True, help="Roles to measure (default: all three).")
@click.option("--settle", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="Seconds after /metrics answers before memory is read.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def main(roles: tuple[str, ...], settle: float, as_json: bool) -> None:
    """RSS of an idle ``ioc worker`` per role, on the embedded stack."""
    from routers.boundaries.registry import BoundaryRegistry

    data_dir = load_settings().data_dir
    results: dict[str, dict[str, float]] = {}
    with EmbeddedStack(Settings(data_dir=data_dir, partitions=4)) as stack:
        settings = dataclasses.replace(stack.settings, data_dir=data_dir)
        registry = BoundaryRegistry(data_dir)
        registry.ensure_default()
        wards = registry.load_active().wards
        create_topics(settings, [w.code for w in wards], status_codes=[w.code for w in wards if w.province_code == "79"])
        env = dict(os.environ, IOC_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "", IOC_REDIS_URL=settings.redis_url or "",
                   IOC_DATA_DIR=str(data_dir), IOC_PARTITIONS="4", IOC_APP_ID=f"ioc-mem-{uuid.uuid4().hex[:8]}")
        for role in roles or ROLES:
            results[role] = measure(role, settle, env, stack.run_dir)
            if not as_json:
                click.echo(f"{role:9s} " + "  ".join(f"{k}={v}" for k, v in results[role].items()))
    if as_json:
        click.echo(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
