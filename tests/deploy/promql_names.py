"""Which metric names a PromQL expression reads, and which names ioc-router exposes.

Not a PromQL parser: it removes what cannot be a metric name (strings, label matchers, grouping
clauses, ranges, durations, numbers, function calls, keywords) and returns what is left. Syntax
itself is checked by promtool where it is installed; this only answers "is every name real".
"""

from __future__ import annotations

import re

from streams import metrics

# Grafana's built-in interval variables, replaced before reading an expression.
GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range")
# Series Prometheus itself produces for every target.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                       "offset", "bool", "inf", "nan", "atan2"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_IDENT = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:([A-Za-z_:][\w:]*)\s*,\s*)?([A-Za-z_]\w*)\s*\)\s*$")


def grafana_to_promql(expr: str) -> str:
    """Substitute Grafana variables so the text is plain PromQL (for promtool and for reading)."""
    for name in GRAFANA_INTERVALS:
        expr = expr.replace(name, "5m")
    return re.sub(r"\$\{?(\w+)\}?", r"\1", expr)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: ``rate(a_total{x="y"}[5m]) / b`` -> ``{"a_total", "b"}``."""
    text = grafana_to_promql(expr)
    text = _STRING.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name in _KEYWORDS:
            continue
        names.add(name)
    return names


def label_values_metric(query: str) -> tuple[str | None, str]:
    """Grafana's ``label_values(metric, label)`` -> (metric, label); raises ValueError otherwise."""
    match = _LABEL_VALUES.match(query)
    if not match:
        raise ValueError(f"not a label_values() query: {query!r}")
    return match.group(1), match.group(2)


def exposed_names() -> set[str]:
    """Every series name the metrics catalogue (streams/metrics.py) can expose."""
    suffixes = {
        "counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"), "info": ("_info",),
    }
    names: set[str] = set()
    for collector in metrics.CATALOGUE:
        for family in collector.describe():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names
