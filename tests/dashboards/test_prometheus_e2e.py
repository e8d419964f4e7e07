"""Debian's real Prometheus scrapes a real worker during a simulated run; its PromQL answers must
match what was routed (counted on ``ioc.routed``) and what the dashboard shows."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashboards.sources.prometheus import PrometheusMetrics
from routers import topics
from streams.embedded.process import free_port, wait_for_port
from streams.scrape import scrape
from tests.dashboards.live import (
    end_offsets,
    produced,
    routed_by_ward,
    simulate,
    stack_env,
    wait_for,
    wait_quiet,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNT = 400


@pytest.fixture
def prometheus(tmp_path: Path, pipeline_worker: str) -> Any:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus is not installed (apt-get install prometheus; CI installs it via .ci/run)")
    target = urllib.parse.urlparse(pipeline_worker).netloc
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: ioc-worker\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, 30, process)
        wait_for(lambda: _get(f"{url}/-/ready") is not None, 30, "prometheus to be ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
            return response.read()
    except OSError:
        return None


def promql(url: str, query: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": query} | ({"time": f"{at:.3f}"} if at is not None else {})
    body = orjson.loads(_get(f"{url}/api/v1/query?{urllib.parse.urlencode(params)}") or b"{}")
    assert body.get("status") == "success", body
    return body["data"]["result"]


def promql_total(url: str, metric: str, at: float) -> int:
    answer = promql(url, f"sum({metric})", at=at)
    return round(float(answer[0]["value"][1])) if answer else 0


def by_label(result: list[dict[str, Any]], label: str) -> Counter[str]:
    return Counter({s["metric"].get(label, ""): round(float(s["value"][1])) for s in result})


def test_promql_matches_what_was_routed(embedded_stack: Any, data_dir: Path, pipeline_worker: str,
                                        prometheus: str) -> None:
    bootstrap = embedded_stack.settings.kafka_bootstrap
    wait_for(lambda: promql(prometheus, 'up{job="ioc-worker"} == 1'), 30, "prometheus to scrape the worker")
    wait_quiet(pipeline_worker, bootstrap, topics.ROUTED)  # earlier tests' traffic is not ours to count
    before_worker = scrape([pipeline_worker])
    start = end_offsets(bootstrap, topics.ROUTED)
    time.sleep(1.5)  # a scrape that holds the counts from before the run
    t0 = time.time()
    baseline_routed = by_label(promql(prometheus, "sum by (ward) (ioc_routed_total)", at=t0), "ward")
    baseline_ingested = sum(by_label(promql(prometheus, "sum(ioc_ingested_total)", at=t0), "").values())

    # ~5 s of traffic: several scrapes see the counters grow, so rate() has something to measure
    n = produced(simulate(stack_env(embedded_stack, data_dir), COUNT, rate=80))
    assert n == COUNT
    wait_for(lambda: scrape([pipeline_worker]).total("ioc_ingested_total") - before_worker.total("ioc_ingested_total") >= n,
             90, "the worker to ingest the run")
    final = scrape([pipeline_worker])

    # Prometheus catches up with the worker's own numbers within a few scrapes
    def caught_up() -> bool:
        answer = promql(prometheus, "sum(ioc_ingested_total)")
        return bool(answer) and round(float(answer[0]["value"][1])) == round(final.total("ioc_ingested_total"))

    wait_for(caught_up, 20, "prometheus to scrape the final counts")
    t1 = time.time()
    ingested_delta = sum(by_label(promql(prometheus, "sum(ioc_ingested_total)", at=t1), "").values()) - baseline_ingested
    assert ingested_delta == n

    routed_now = by_label(promql(prometheus, "sum by (ward) (ioc_routed_total)", at=t1), "ward")
    routed_delta = +Counter({w: routed_now[w] - baseline_routed.get(w, 0) for w in routed_now})
    worker_delta = +Counter({
        w: round(v - before_worker.by_label("ioc_routed_total", "ward").get(w, 0))
        for w, v in final.by_label("ioc_routed_total", "ward").items()
    })
    assert routed_delta == worker_delta  # ward by ward, what the worker counted is what Prometheus answers
    outcomes = sum(promql_total(prometheus, m, t1) - promql_total(prometheus, m, t0)
                   for m in ("ioc_routed_total", "ioc_unroutable_total", "ioc_deadletter_total"))
    assert outcomes == n  # every simulated message: routed, unroutable or dead-lettered, once

    # and against the broker: the routed envelopes on ioc.routed, ward by ward (a redelivered batch
    # is counted and published again, so the two agree also then)
    wait_quiet(pipeline_worker, bootstrap, topics.ROUTED)
    on_topic = routed_by_ward(bootstrap, topics.ROUTED, start)
    difference = (on_topic - routed_delta) + (routed_delta - on_topic)
    if difference:
        print(f"NOTE: ioc.routed vs PromQL differ by {sum(difference.values())} of {sum(routed_delta.values())}: "
              f"on the topic only {dict(on_topic - routed_delta)}, counted only {dict(routed_delta - on_topic)}")
    assert on_topic == routed_delta
    assert sum(on_topic.values()) > COUNT * 0.7

    for reason_metric in ("ioc_deadletter_total", "ioc_unroutable_total"):
        answer = by_label(promql(prometheus, f"sum by (reason) ({reason_metric})"), "reason")
        assert +answer == +Counter({k: round(v) for k, v in final.by_label(reason_metric, "reason").items()})

    # the dashboard's Prometheus source reads the same answers
    async def dashboard_view() -> Any:
        source = PrometheusMetrics(prometheus, "ioc-worker", cache_s=0)
        try:
            return await source.view()
        finally:
            await source.stop()

    view = asyncio.run(dashboard_view())
    assert view.state == "ok" and view.targets_up == 1, view.message
    assert view.totals.ingested == final.total("ioc_ingested_total")
    assert view.totals.routed == final.total("ioc_routed_total")
    assert view.routed_by_ward == {w: v for w, v in final.by_label("ioc_routed_total", "ward").items() if v > 0}
    assert view.rates.ingested is not None and view.rates.ingested > 0
    assert view.latency.p50_s is not None and 0 < view.latency.p50_s <= 30
    assert view.boundary_generations and view.boundary_generations[0]["generation"]
