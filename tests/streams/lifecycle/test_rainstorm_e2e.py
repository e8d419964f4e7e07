"""End to end with the real `ioc worker` (intake pipeline + lifecycle): a simulated rainstorm over
HCMC becomes correlated incidents, served over the worker's /api/incidents."""

from __future__ import annotations

import dataclasses
import time
import urllib.request
from collections import Counter

import orjson
import pytest

from routers.categories import family_of
from streams.scrape import scrape
from streams.simulator.run import build_scenario, produce, register_scenario_devices

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _api(metrics_url: str, path: str) -> dict:
    with urllib.request.urlopen(metrics_url.removesuffix("/metrics") + path, timeout=10) as response:
        return orjson.loads(response.read())


def test_rainstorm_run_yields_correlated_incidents(embedded_stack, data_dir, pipeline_worker) -> None:
    settings = dataclasses.replace(embedded_stack.settings, data_dir=data_dir)
    sim = build_scenario(settings, "hcmc", "rainstorm", seed=5)
    register_scenario_devices(settings, sim)
    before = scrape([pipeline_worker]).total("ioc_ingested_total")
    produce(settings, sim, rate=1500, count=1200)
    deadline = time.monotonic() + 120
    while scrape([pipeline_worker]).total("ioc_ingested_total") - before < 1200:
        assert time.monotonic() < deadline, "the worker did not ingest the rainstorm"
        time.sleep(0.5)
    time.sleep(3)  # the lifecycle consumes ioc.routed after the pipeline produced it

    listed = _api(pipeline_worker, "/api/incidents?status=open&limit=1000")
    incidents = listed["incidents"]
    assert listed["count"] > 0
    flood = [i for i in incidents if i["family"] == "flood"]
    assert flood, Counter(i["family"] for i in incidents)
    # The simulator scatters reports uniformly over a ward (cameras and gauges sit at fixed points),
    # so folding here comes from the rules' groups and same-device readings; the cross-source case
    # (reports + camera + gauge within metres) is tested exactly in test_worker.py.
    flood_events = sum(i["evidence_count"] for i in flood)
    assert len(flood) < flood_events, "no flood event was folded into another's incident"
    # the list carries each incident's evidence window; the detail its whole evidence list
    whole = {i["id"]: _api(pipeline_worker, f"/api/incidents/{i['id']}") for i in incidents}
    for body in whole.values():
        assert len(body["evidence"]) == body["evidence_count"], "the serving index lacks evidence items"
    biggest = max(flood, key=lambda i: i["evidence_count"])
    assert biggest["evidence_count"] >= 3
    for incident in incidents:
        evidence = whole[incident["id"]]["evidence"]
        assert {family_of(e["source"], e["kind"]) for e in evidence} == {incident["family"]}
        assert incident["ward"] and incident["status"] not in ("resolved", "closed", "reassigned")
    # correlation never mixes wards or double-counts an event
    for incident in incidents:
        ids = [e["event_id"] for e in whole[incident["id"]]["evidence"]]
        assert len(ids) == len(set(ids))
    all_ids = [e["event_id"] for i in incidents for e in whole[i["id"]]["evidence"]]
    assert len(all_ids) == len(set(all_ids)), "an event is evidence of two incidents"
    detail = _api(pipeline_worker, f"/api/incidents/{biggest['id']}")
    assert [h["status"] for h in detail["history"]][:2] == ["new", "routed"]
    metrics = scrape([pipeline_worker])
    assert sum(metrics.by_label("ioc_open_incidents", "priority").values()) >= listed["count"] * 0.5
