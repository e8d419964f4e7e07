"""Read workers' ``/metrics`` with prometheus-client's own exposition parser and total them."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

LabelSet = tuple[tuple[str, str], ...]


@dataclass
class Totals:
    """Counters summed over workers: ``samples[name][labels-tuple]`` (floats: sums and buckets are too)."""

    samples: dict[str, dict[LabelSet, float]] = field(default_factory=dict)
    reachable: int = 0
    unreachable: int = 0

    def total(self, name: str, **match: str) -> float:
        series = self.samples.get(name, {})
        return sum(v for labels, v in series.items() if all(dict(labels).get(k) == val for k, val in match.items()))

    def by_label(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for labels, value in self.samples.get(name, {}).items():
            key = dict(labels).get(label, "")
            out[key] = out.get(key, 0) + value
        return out


def parse_into(text: str, totals: Totals) -> None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series = totals.samples.setdefault(sample.name, {})
            key = tuple(sorted(sample.labels.items()))
            series[key] = series.get(key, 0) + sample.value


def scrape(urls: Iterable[str], timeout_s: float = 2.0) -> Totals:
    totals = Totals()
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - our own worker URLs
                parse_into(response.read().decode("utf-8"), totals)
            totals.reachable += 1
        except OSError:
            totals.unreachable += 1
    return totals
