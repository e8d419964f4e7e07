"""Numbers from the workers' /metrics: quantiles as Prometheus computes them, rates between two
scrapes, and the states that replace numbers when there are none."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dashboards.overview import classify, histogram_quantile, positive
from dashboards.sources.workers import Scrape, view_of
from streams.scrape import Totals, parse_into

INF = math.inf


@pytest.mark.parametrize(("q", "buckets", "expected"), [
    (0.5, [(0.1, 0), (0.2, 10), (INF, 10)], 0.15),
    (0.9, [(0.1, 5), (0.2, 10), (INF, 10)], 0.18),
    (0.5, [(0.1, 10), (INF, 10)], 0.05),  # first bucket: from 0
    (0.99, [(0.1, 1), (1.0, 1), (INF, 10)], 1.0),  # rank in +Inf: the highest finite bound
    (0.5, [(0.1, 0), (INF, 0)], None),  # no observations
    (0.5, [(0.1, 3)], None),  # no +Inf bucket: not a histogram
])
def test_histogram_quantile(q: float, buckets: list, expected: float | None) -> None:
    answer = histogram_quantile(q, buckets)
    assert answer == expected if expected is None else answer == pytest.approx(expected)


@pytest.mark.parametrize(("up", "down", "series", "state", "text"), [
    (0, 2, False, "unreachable", "no worker answers (2 scrape target(s) down)"),
    (1, 0, False, "no_data", "1 worker(s) answer but have not ingested anything yet"),
    (0, 0, False, "no_data", "no worker is being scraped yet"),
    (2, 1, True, "partial", "1 of 3 workers are not answering; numbers cover the other 2"),
    (2, 0, True, "ok", "2 worker(s) reporting"),
])
def test_states_say_why(up: int, down: int, series: bool, state: str, text: str) -> None:
    assert classify(up, down, series) == (state, text)


def test_positive_drops_zeros_and_sorts() -> None:
    assert list(positive({"a": 0.0, "b": 2.0, "c": 5.0})) == ["c", "b"]


def exposition() -> tuple[CollectorRegistry, dict]:
    r = CollectorRegistry()
    m = {
        "ingested": Counter("ioc_ingested_total", "x", ["source"], registry=r),
        "routed": Counter("ioc_routed_total", "x", ["ward", "category"], registry=r),
        "deadletter": Counter("ioc_deadletter_total", "x", ["reason", "source"], registry=r),
        "latency": Histogram("ioc_routing_latency_seconds", "x", buckets=(0.01, 0.1, 1.0), registry=r),
        "open": Gauge("ioc_open_incidents", "x", ["ward", "priority"], registry=r),
    }
    return r, m


def scraped(registry: CollectorRegistry, copies: int = 1, unreachable: int = 0) -> Totals:
    totals = Totals(reachable=copies, unreachable=unreachable)
    for _ in range(copies):
        parse_into(generate_latest(registry).decode(), totals)
    return totals


def test_rates_and_latency_between_two_scrapes() -> None:
    registry, m = exposition()
    m["ingested"].labels("report").inc(100)
    m["latency"].observe(0.5)
    first = Scrape(10.0, scraped(registry, copies=2))
    m["ingested"].labels("report").inc(20)
    m["routed"].labels("26740", "flooding").inc(15)
    m["deadletter"].labels("bad_json", "report").inc(5)
    m["open"].labels("26740", "P2").set(3)
    for _ in range(10):
        m["latency"].observe(0.05)
    second = Scrape(12.0, scraped(registry, copies=2))  # two workers with the same numbers
    view = view_of(second, first, ["u1", "u2"])
    assert view.state == "ok"
    assert view.rates.ingested == pytest.approx(2 * 20 / 2.0)
    assert view.totals.ingested == 240
    assert view.totals.routed == 30
    assert view.deadletter_by_reason == {"bad_json": 10}
    assert view.open_by_ward == {"26740": 6}
    # only the 20 new observations (all 0.05 s) count: p50 inside the (0.01, 0.1] bucket
    assert view.latency.p50_s == pytest.approx(0.055)


def test_first_scrape_has_no_rate_yet() -> None:
    registry, m = exposition()
    m["ingested"].labels("camera").inc(3)
    view = view_of(Scrape(1.0, scraped(registry)), None, ["u"])
    assert view.state == "ok"
    assert view.rates.ingested is None  # "measuring", not 0


def test_nothing_ingested_is_no_data_not_zero() -> None:
    registry, _ = exposition()
    view = view_of(Scrape(1.0, scraped(registry)), None, ["u"])
    assert view.state == "no_data"
    assert view.totals.ingested is None and view.open_by_ward == {}


def test_stopped_worker() -> None:
    view = view_of(Scrape(1.0, Totals(reachable=0, unreachable=1)), None, ["http://127.0.0.1:9/metrics"])
    assert view.state == "unreachable"
    assert view.rates.ingested is None
