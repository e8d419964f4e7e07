"""What the incident lifecycle's state costs in memory, measured (tracemalloc), per kept item.

``python -m benchmarks.lifecycle_memory [-n 20000]`` routes ``n`` simulated citizen reports
through the real core in-process (ingest, locate, rules, the lifecycle envelope), feeds them to an
:class:`~routers.incidents.book.IncidentBook` over plain dicts (what a worker's Faust tables hold:
the same objects) in batches through :func:`~routers.incidents.batch.decide_batch`, and reports the
bytes allocated and still alive per routed event, per incident and per redelivery mark, and the
steady state those numbers give at a rate and retention (``--rate``, ``--retention-s``,
``--seen-window-s``). The state is what an hour of events leaves in the tables; the worker's RSS
adds the interpreter, Faust, the boundaries and the buffers (~200 MB, measured by the soak).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import orjson


@dataclass(frozen=True, slots=True)
class StateCost:
    events: int
    incidents: int
    marks: int
    evidence: int
    total_bytes: int
    marks_bytes: int
    decoded_bytes: int  # the book's decoded copies (the correlation cache)

    @property
    def per_event(self) -> float:
        return self.total_bytes / self.events

    @property
    def per_mark(self) -> float:
        return self.marks_bytes / self.marks if self.marks else 0.0


def routed_reports(n: int) -> list[bytes]:
    """``n`` simulated reports as the pipeline's lifecycle copies (JSON bytes)."""
    from benchmarks.pipeline_row import intake_messages
    from routers.boundaries.registry import BoundaryRegistry
    from routers.envelope import routed
    from routers.locate.locator import Locator
    from routers.route import Placed, place
    from routers.rules import default_ruleset, evaluate
    from streams import topics
    from streams.settings import load_settings

    settings = load_settings()
    registry = BoundaryRegistry(settings.data_dir)
    registry.ensure_default()
    locator = Locator(registry.load_for_serving())
    rules = default_ruleset()
    now = datetime.now(UTC)
    out = []
    for _key, value in intake_messages(n, settings):
        placed = place(topics.REPORTS, value, locator, lambda _device: None, 1 << 20)
        if isinstance(placed, Placed):
            decision = evaluate(rules, placed.event, placed.location)
            out.append(orjson.dumps(routed(placed.event, placed.location, decision, target="lifecycle", now=now)))
    return out


def measure(raws: Sequence[bytes], batch: int = 1000) -> StateCost:
    """Feed the copies to a fresh book and measure what stays allocated."""
    from routers.incidents.batch import Origin, Received, RoutedInput, decide_batch
    from routers.incidents.book import IncidentBook
    from routers.incidents.routed import routed_from_envelope

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    incidents: dict[str, Any] = {}  # what the book stores: JSON-shaped bodies
    wards: dict[str, Any] = {}
    seen: dict[str, Any] = {}
    book = IncidentBook(incidents, wards, seen)
    now = datetime.now(UTC)
    for start in range(0, len(raws), batch):
        inputs = []
        for offset, raw in enumerate(raws[start:start + batch], start):
            body = orjson.loads(raw)
            event = routed_from_envelope(body)
            inputs.append(RoutedInput(event, body, Received(raw, event.ward.encode(), Origin("ioc.routed", 0, offset)),
                                      True))
        now += timedelta(seconds=1)
        decide_batch(book, inputs, now)
        del inputs
    gc.collect()
    after = tracemalloc.take_snapshot()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    # marks alone: the same number of marks in a dict of their own
    marks_before = tracemalloc.take_snapshot()
    copy = {str(k) + "#": list(v) for k, v in seen.items()}
    marks_bytes = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(marks_before, "filename"))
    del copy
    decoded_before = tracemalloc.take_snapshot()
    book._decoded.clear()
    book._open.clear()
    gc.collect()
    decoded_bytes = -sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(decoded_before, "filename"))
    tracemalloc.stop()
    evidence = sum(len(b["evidence"]) for b in incidents.values())
    return StateCost(len(raws), len(incidents), len(seen), evidence, total, marks_bytes, decoded_bytes)


def steady_state_mb(cost: StateCost, rate: float, retention_s: float, seen_window_s: float,
                    open_s: float = 1800.0) -> dict[str, float]:
    """The tables' steady state at ``rate`` lifecycle events/s: every event of the last
    ``open_s + retention_s`` is evidence of an incident still kept (open for ``open_s`` on average,
    then kept ``retention_s``), and the marks of the last ``seen_window_s`` (+10 min pruning lag)."""
    events_kept = rate * (open_s + retention_s)
    marks_kept = rate * (seen_window_s + 600)
    evidence_bytes = (cost.total_bytes - cost.marks_bytes) / cost.events
    return {"incidents_and_evidence_mb": events_kept * evidence_bytes / 1e6,
            "marks_mb": marks_kept * cost.per_mark / 1e6,
            "total_mb": (events_kept * evidence_bytes + marks_kept * cost.per_mark) / 1e6}


@click.command()
@click.option("-n", "n", default=20_000, show_default=True, help="Simulated citizen reports to route and keep.")
@click.option("--rate", default=750.0, show_default=True,
              help="Lifecycle events/s for the steady state (1,000 intake/s in the soak's mix: ~750).")
@click.option("--retention-s", default=3600.0, show_default=True)
@click.option("--seen-window-s", default=3600.0, show_default=True)
@click.option("--open-s", default=1800.0, show_default=True, help="Mean time an incident stays open.")
def main(n: int, rate: float, retention_s: float, seen_window_s: float, open_s: float) -> None:
    """Bytes per kept event, incident and mark, and the steady state they give."""
    raws = routed_reports(n)
    cost = measure(raws)
    click.echo(f"{cost.events} routed reports -> {cost.incidents} incidents, {cost.evidence} evidence items, "
               f"{cost.marks} marks: {cost.total_bytes / 1e6:.1f} MB alive = {cost.per_event:.0f} B per event "
               f"(of which marks {cost.per_mark:.0f} B each, decoded copies {cost.decoded_bytes / 1e6:.1f} MB)")
    state = steady_state_mb(cost, rate, retention_s, seen_window_s, open_s)
    click.echo(f"steady state at {rate:g} events/s, incidents open {open_s:g} s then kept {retention_s:g} s, marks "
               f"{seen_window_s:g} s: " + ", ".join(f"{k} {v:.0f}" for k, v in state.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
