"""Open311 POST throughput and latency: `ioc api` pinned to one core, the pipeline (`ioc worker`)
running on the same embedded broker and Redis, reports POSTed by an aiohttp load generator.

Printed side by side from one run (medians of ``REPEATS`` bursts): POST requests/s and p50/p99
latency; GET services.json on the same API (HTTP alone, no broker); a raw aiokafka producer
awaiting each ack with the same concurrency (the broker alone, no HTTP); POSTs per API CPU-second
(the capacity of one core without the load generator and the worker competing for it); and the
pipeline's intake count, which must equal the POSTs answered 200 (nothing accepted is lost).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

CONCURRENCY = 32
BURST_S = 8.0
REPEATS = 3
KEY = "bench-key-0123456789abcdef"
RAW_TOPIC = "ioc-bench-open311-raw"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def burst(call: Callable[[int], Awaitable[bool]], seconds: float) -> tuple[int, list[float], int]:
    """``CONCURRENCY`` loops calling ``call(n)`` for ``seconds``: (successes, latencies in s, failures)."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def loop() -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await call(next(counter))
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failures += 1

    await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
    return len(latencies), latencies, failures


def form(n: int) -> dict[str, str]:
    return {"api_key": KEY, "service_code": ("flooding", "waste", "street_light", "road_damage")[n % 4],
            "lat": f"{10.70 + (n % 997) * 0.00015:.6f}", "long": f"{106.62 + (n % 991) * 0.00015:.6f}",
            "description": "Nước ngập sâu khoảng 40cm, xe máy chết máy hàng loạt, người dân phải dắt bộ.",
            "media_url": f"https://media.1022.vn/bench/{n:08d}.jpg", "first_name": "An", "last_name": "Nguyễn",
            "phone": "0903123456"}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(base: str, bootstrap: str, api_pid: int) -> dict[str, list[float]]:
    import aiohttp
    from aiokafka import AIOKafkaProducer

    rows: dict[str, list[float]] = {k: [] for k in ("post_rps", "post_p50", "post_p99", "get_rps", "raw_rps",
                                                     "post_per_cpu_s", "posted", "raw_sent")}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def post(n: int) -> bool:
            async with session.post(f"{base}/requests.json", data=form(n)) as response:
                await response.read()
                return response.status == 200

        async def get(n: int) -> bool:
            async with session.get(f"{base}/services.json") as response:
                await response.read()
                return response.status == 200

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
        await producer.start()
        value = orjson.dumps({"id": "x", "category": "flooding", "reported_at": "2026-06-12T09:00:00Z",
                              "location": {"lat": 10.78, "lon": 106.69}})

        async def raw(n: int) -> bool:  # a topic of its own: the worker must not have to route these
            await producer.send_and_wait(RAW_TOPIC, value=value.replace(b'"x"', f'"raw-{n}"'.encode()),
                                         key=f"raw-{n}".encode())
            return True

        try:
            await burst(post, 2.0)  # warm-up: connections, producer metadata, the worker's first batches
            for repeat in range(REPEATS):
                cpu_before = cpu_seconds(api_pid)
                count, latencies, failures = await burst(post, BURST_S)
                cpu = cpu_seconds(api_pid) - cpu_before
                rows["posted"].append(count)
                rows["post_rps"].append(count / BURST_S)
                rows["post_p50"].append(percentile(latencies, 0.50) * 1000)
                rows["post_p99"].append(percentile(latencies, 0.99) * 1000)
                rows["post_per_cpu_s"].append(count / max(cpu, 1e-6))
                get_count, _, _ = await burst(get, BURST_S / 2)
                rows["get_rps"].append(get_count / (BURST_S / 2))
                raw_count, _, _ = await burst(raw, BURST_S / 2)
                rows["raw_rps"].append(raw_count / (BURST_S / 2))
                rows["raw_sent"].append(raw_count)
                print(f"  run {repeat + 1}: POST {count / BURST_S:.0f}/s (p99 {rows['post_p99'][-1]:.1f} ms, "
                      f"{failures} not 200), GET {rows['get_rps'][-1]:.0f}/s, raw producer {rows['raw_rps'][-1]:.0f}/s",
                      flush=True)
        finally:
            await producer.stop()
    return rows


def main() -> None:
    from benchmarks._broker import create_topics as create_bench_topics
    from routers.boundaries.registry import BoundaryRegistry
    from streams.admin import create_topics
    from streams.embedded.process import ManagedProcess, free_port
    from streams.embedded.stack import EmbeddedStack
    from streams.scrape import scrape
    from streams.settings import Settings, load_settings

    data_dir = load_settings().data_dir
    BoundaryRegistry(data_dir).ensure_default()
    print(f"open311: `ioc api` pinned to CPU 0 with the pipeline (`ioc worker`) running, {CONCURRENCY} concurrent "
          f"clients, bursts of {BURST_S:g} s, median of {REPEATS}; {os.cpu_count()} CPUs shared by broker, Redis, "
          f"worker, API and load generator; load average {os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="ioc-open311-bench-") as tmp, \
            EmbeddedStack(Settings(data_dir=data_dir, partitions=4), run_dir=Path(tmp)) as stack:
        settings = dataclasses.replace(stack.settings, data_dir=data_dir)
        create_topics(settings, [w.code for w in BoundaryRegistry(data_dir).load_active().wards])
        create_bench_topics(settings.kafka_bootstrap or "", [RAW_TOPIC], 4)
        env = dict(os.environ, IOC_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "", IOC_REDIS_URL=settings.redis_url or "",
                   IOC_DATA_DIR=str(data_dir), IOC_API_KEYS=f"bench:app:{KEY}", IOC_API_RATE_PER_MINUTE="100000000")
        worker_port, api_port = free_port(), free_port()
        worker = ManagedProcess("worker", [sys.executable, "-m", "cli", "worker", "--web-port", str(worker_port)],
                                worker_port, Path(tmp) / "worker.log", ready_timeout_s=120, env=env)
        api = ManagedProcess("api", [sys.executable, "-m", "cli", "api", "--port", str(api_port)], api_port,
                             Path(tmp) / "api.log", ready_timeout_s=60, env=env)
        try:
            os.sched_setaffinity(api.pid, {0})
            rows = asyncio.run(measure(f"http://127.0.0.1:{api_port}/open311/v2", settings.kafka_bootstrap or "", api.pid))
            metrics_url = f"http://127.0.0.1:{worker_port}/metrics"
            accepted = int(scrape([f"http://127.0.0.1:{api_port}/metrics"]).total("ioc_api_reports_total"))
            deadline = time.monotonic() + 120
            ingested = 0.0
            while time.monotonic() < deadline:
                ingested = scrape([metrics_url]).by_label("ioc_ingested_total", "source").get("report", 0.0)
                if ingested >= accepted:
                    break
                time.sleep(1.0)
        finally:
            api.stop(timeout_s=10)
            worker.stop(timeout_s=20)
    med = {k: statistics.median(v) for k, v in rows.items() if v}
    print("\n| what | median | vs POST |")
    print("|---|---|---|")
    print(f"| POST requests.json (HTTP + decode + Redis + broker ack) | {med['post_rps']:.0f} req/s | 1.00x |")
    print(f"| GET services.json on the same API (HTTP only) | {med['get_rps']:.0f} req/s | {med['get_rps'] / med['post_rps']:.2f}x |")
    print(f"| raw aiokafka send_and_wait, same concurrency (broker only) | {med['raw_rps']:.0f} msg/s | "
          f"{med['raw_rps'] / med['post_rps']:.2f}x |")
    print(f"| POSTs per API CPU-second (one core's capacity) | {med['post_per_cpu_s']:.0f} | "
          f"{med['post_per_cpu_s'] / med['post_rps']:.2f}x |")
    print(f"\nPOST latency: p50 {med['post_p50']:.1f} ms, p99 {med['post_p99']:.1f} ms (median over runs; "
          f"{CONCURRENCY} in flight)")
    print(f"pipeline: {accepted} reports accepted by the API; the worker ingested {ingested:.0f} report events "
          f"({'all' if ingested >= accepted else 'NOT all'} of them within 120 s)")


if __name__ == "__main__":
    main()
