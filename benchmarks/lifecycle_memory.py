"""What the incident lifecycle's state costs in memory, measured (tracemalloc), per kept item.

``python -m benchmarks.lifecycle_memory [-n 20000]`` routes ``n`` simulated citizen reports
through the real core in-process (ingest, locate, rules, the lifecycle envelope with its
``iocorigin``), feeds them to an :class:`~routers.incidents.book.IncidentBook` over plain dicts
(what a worker's Faust tables hold: the same objects) in batches through
:func:`~routers.incidents.batch.decide_batch`, and measures what stays allocated:

* with every incident open: bytes per routed event and per open incident (its table JSON with
  the evidence window, its decoded copy for correlation, its share of the ward books), and the
  redelivery marks (one per ward, path and intake partition);
* after every incident is resolved: bytes per closed incident's stub (the decoded copies of the
  latest ``RECENT_CLOSED`` closed ones are a constant, reported apart).

Then the steady state at a rate with the shipped knobs: incidents opened per second
(``--incident-rate``; default: the measured incidents per routed event times ``--rate``, an upper
bound - at a real rate more events join incidents already open), each open ``--open-s`` on
average, then a stub for ``RETENTION_S``. The worker's RSS adds the interpreter, Faust, the
boundaries and the buffers (~200 MB, measured by the soak).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import orjson


@dataclass(frozen=True, slots=True)
class StateCost:
    events: int
    incidents: int
    evidence: int  # evidence items folded in (all of them; the tables keep a window)
    marks: int
    open_bytes: int  # the whole state with every incident open (tables + decoded copies + marks)
    marks_bytes: int
    stub_bytes: int  # the whole state once every incident is closed, without the recent decoded copies
    recent_closed_bytes: int  # the decoded copies of the latest RECENT_CLOSED closed incidents

    @property
    def per_event(self) -> float:
        return self.open_bytes / self.events

    @property
    def per_open(self) -> float:
        return (self.open_bytes - self.marks_bytes) / self.incidents

    @property
    def per_stub(self) -> float:
        return (self.stub_bytes - self.marks_bytes) / self.incidents


def routed_reports(n: int) -> list[bytes]:
    """``n`` simulated reports as the pipeline's lifecycle copies (JSON bytes)."""
    from benchmarks.pipeline_row import intake_messages
    from routers import topics
    from routers.boundaries.registry import BoundaryRegistry
    from routers.envelope import routed
    from routers.locate.locator import Locator
    from routers.route import Placed, place
    from routers.rules import default_ruleset, evaluate
    from streams.settings import load_settings

    settings = load_settings()
    registry = BoundaryRegistry(settings.data_dir)
    registry.ensure_default()
    locator = Locator(registry.load_for_serving())
    rules = default_ruleset()
    now = datetime.now(UTC)
    out = []
    for offset, (_key, value) in enumerate(intake_messages(n, settings)):
        placed = place(topics.REPORTS, value, locator, lambda _device: None, 1 << 20)
        if isinstance(placed, Placed):
            decision = evaluate(rules, placed.event, placed.location)
            body = routed(placed.event, placed.location, decision, target="lifecycle", now=now)
            body["iocorigin"] = f"{topics.REPORTS}/{offset % 4}/{offset}"  # as the pipeline sets it (4 partitions)
            out.append(orjson.dumps(body))
    return out


def _alive(before: tracemalloc.Snapshot) -> int:
    from routers.incidents.timeutil import forget_formatted

    # the formatted-time cache is bounded (4,096 strings, ~1 MB at most, whatever the state): not
    # the state's, so it is emptied before each measurement
    forget_formatted()
    gc.collect()
    return sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))


def measure(raws: Sequence[bytes], batch: int = 1000) -> StateCost:
    """Feed the copies to a fresh book, measure what stays allocated; resolve everything, measure again."""
    from routers.incidents.batch import Origin, Received, RoutedInput, decide_batch
    from routers.incidents.book import IncidentBook
    from routers.incidents.routed import routed_from_envelope
    from routers.incidents.status import Status
    from routers.incidents.updates import StatusUpdate

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    incidents: dict[str, Any] = {}  # what the book stores: JSON-shaped bodies
    wards: dict[str, Any] = {}
    seen: dict[str, Any] = {}
    book = IncidentBook(incidents, wards, seen)
    now = datetime.now(UTC)
    evidence = 0
    for start in range(0, len(raws), batch):
        inputs = []
        for offset, raw in enumerate(raws[start:start + batch], start):
            body = orjson.loads(raw)
            event = routed_from_envelope(body)
            inputs.append(RoutedInput(event, body, Received(raw, event.ward.encode(), Origin("ioc.routed", 0, offset)),
                                      True))
        now += timedelta(seconds=1)
        evidence += len(decide_batch(book, inputs, now).effects.evidence)
        del inputs
    book.begin_batch()  # the last batch's JSON, kept for its changelog records until the next batch
    open_bytes = _alive(before)
    # marks alone: the same number of marks in a dict of their own
    marks_before = tracemalloc.take_snapshot()
    copy = {str(k) + "#": v + 1 for k, v in seen.items()}
    marks_bytes = _alive(marks_before)
    del copy
    opened = [(i.ward, i.id) for ward in list(wards) for i in book.open_in(ward)]
    for n, (ward, incident) in enumerate(opened):
        book.on_update(StatusUpdate(f"a{n}", incident, ward, Status.ACKNOWLEDGED, "bench"), now)
        book.on_update(StatusUpdate(f"r{n}", incident, ward, Status.RESOLVED, "bench"), now)
    book.forget_derived()
    with_recent = _alive(before)
    book._closed.clear()  # the latest closed incidents, decoded: a constant, reported apart
    stub_bytes = _alive(before)
    tracemalloc.stop()
    return StateCost(len(raws), len(incidents), evidence, len(seen), open_bytes, marks_bytes, stub_bytes,
                     with_recent - stub_bytes)


@dataclass(frozen=True, slots=True)
class Population:
    """A steady state built for real in one book and measured whole (tracemalloc)."""

    open_incidents: int
    stubs: int
    recent_closed: int  # closed incidents also kept decoded (at most RECENT_CLOSED)
    marks: int
    reports: int  # routed reports fed to build it
    alive_bytes: int


def _shifted(raw: bytes, shift: int) -> tuple[dict[str, Any], bytes]:
    """The copy as a later intake message: its origin offset moved by ``shift`` (a redelivery
    mark would skip the same offset twice), its event id made unique for the round."""
    body = orjson.loads(raw)
    if shift:
        source, _, offset = body["iocorigin"].rpartition("/")
        body["iocorigin"] = f"{source}/{int(offset) + shift}"
        body["id"] = f"{body['id']}-{shift}"
        raw = orjson.dumps(body)
    return body, raw


def measure_population(raws: Sequence[bytes], open_target: int, stubs_target: int, batch: int = 1000,
                       progress: Callable[[str], None] = lambda _line: None) -> Population:
    """Build ``stubs_target`` closed incidents kept for the retention hour and ``open_target``
    open ones in one book, as a worker's partition owner holds them, and measure the whole.

    Rounds of the same reports (origins shifted, so none is a redelivery) open incidents; between
    rounds every open incident is acknowledged and resolved (it becomes a stub, as the responder
    closes them in the soak), until the stubs reach their target; then reports are fed until the
    open incidents reach theirs. The book's clock moves 1 s per batch, so no stub ages past
    ``RETENTION_S``: all of them are kept, as in the steady state."""
    from routers.incidents.batch import Origin, Received, RoutedInput, decide_batch
    from routers.incidents.book import IncidentBook
    from routers.incidents.routed import routed_from_envelope
    from routers.incidents.status import Status
    from routers.incidents.updates import StatusUpdate

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    incidents: dict[str, Any] = {}
    wards: dict[str, Any] = {}
    seen: dict[str, Any] = {}
    book = IncidentBook(incidents, wards, seen)
    now = datetime.now(UTC)
    fed = stubs = updates = 0

    def open_count() -> int:
        return sum(len(book.open_in(ward)) for ward in list(wards))

    def feed(chunk: Sequence[bytes], shift: int, first: int) -> None:
        nonlocal now, fed
        inputs = []
        for offset, raw in enumerate(chunk, first):
            body, raw = _shifted(raw, shift)
            event = routed_from_envelope(body)
            inputs.append(RoutedInput(event, body, Received(raw, event.ward.encode(), Origin("ioc.routed", 0, offset)),
                                      True))
        now += timedelta(seconds=1)
        decide_batch(book, inputs, now)
        fed += len(chunk)

    shift = 0
    while stubs < stubs_target:
        for start in range(0, len(raws), batch):
            feed(raws[start:start + batch], shift, fed)
        opened = [(i.ward, i.id) for ward in list(wards) for i in book.open_in(ward)]
        for ward, incident in opened[:stubs_target - stubs]:
            updates += 1
            book.on_update(StatusUpdate(f"a{updates}", incident, ward, Status.ACKNOWLEDGED, "bench"), now)
            book.on_update(StatusUpdate(f"r{updates}", incident, ward, Status.RESOLVED, "bench"), now)
        stubs += min(len(opened), stubs_target - stubs)
        shift += len(raws) * 10
        progress(f"{stubs} of {stubs_target} stubs")
    start, step = 0, max(batch // 10, 1)  # smaller batches: stop near the open target
    last_pass = -1
    while open_count() < open_target:
        if start >= len(raws):
            # the same reports again join the incidents they opened: a pass that opens nothing more
            # means these reports cannot open ``open_target`` incidents (use a larger -n)
            if open_count() == last_pass:
                break
            start, shift, last_pass = 0, shift + len(raws) * 10, open_count()
        feed(raws[start:start + step], shift, fed)
        start += step
    book.begin_batch()
    book.forget_derived()
    population = Population(open_count(), stubs, len(book._closed), len(seen), fed, _alive(before))
    tracemalloc.stop()
    return population


def steady_state_mb(cost: StateCost, incident_rate: float, open_s: float, retention_s: float) -> dict[str, float]:
    """The tables' steady state with ``incident_rate`` incidents opened per second, each open
    ``open_s`` on average, then kept ``retention_s`` as a stub."""
    from routers.incidents.book import RECENT_CLOSED

    open_mb = incident_rate * open_s * cost.per_open / 1e6
    stubs_mb = incident_rate * retention_s * cost.per_stub / 1e6
    recent_mb = min(RECENT_CLOSED, cost.incidents) * cost.recent_closed_bytes / max(cost.incidents, 1) / 1e6
    marks_mb = cost.marks_bytes / 1e6
    return {"open_mb": open_mb, "stubs_mb": stubs_mb, "recent_closed_mb": recent_mb, "marks_mb": marks_mb,
            "total_mb": open_mb + stubs_mb + recent_mb + marks_mb}


@click.command()
@click.option("-n", "n", default=20_000, show_default=True, help="Simulated citizen reports to route and keep.")
@click.option("--rate", default=750.0, show_default=True,
              help="Lifecycle events/s for the steady state (1,000 intake/s in the soak's mix: ~750).")
@click.option("--incident-rate", type=float, default=None,
              help="Incidents opened per second (default: the measured incidents per event x --rate).")
@click.option("--retention-s", type=float, default=None, help="Stub retention (default: the shipped RETENTION_S).")
@click.option("--open-s", default=1800.0, show_default=True, help="Mean time an incident stays open.")
@click.option("--population", nargs=2, type=int, default=None, metavar="OPEN STUBS",
              help="Also build this steady state for real (OPEN open incidents, STUBS closed ones kept for the "
                   "retention hour, e.g. the soak's open plateau and its closing rate x 3,600) and measure it whole.")
def main(n: int, rate: float, incident_rate: float | None, retention_s: float | None, open_s: float,
         population: tuple[int, int] | None) -> None:
    """Bytes per routed event, open incident, closed stub and mark, and the steady state they give."""
    from routers.incidents.book import RETENTION_S
    from routers.incidents.lifecycle import EVIDENCE_WINDOW

    raws = routed_reports(n)
    if population is not None:
        built = measure_population(raws, *population, progress=lambda line: click.echo(f"population: {line}", err=True))
        click.echo(f"built: {built.open_incidents} open incidents + {built.stubs} stubs ({built.recent_closed} of "
                   f"them also decoded) + {built.marks} marks, from {built.reports} routed reports: "
                   f"{built.alive_bytes / 1e6:.1f} MB alive (tracemalloc)")
    cost = measure(raws)
    click.echo(f"{cost.events} routed reports -> {cost.incidents} incidents, {cost.evidence} evidence items "
               f"(window: first + {EVIDENCE_WINDOW}), {cost.marks} marks")
    click.echo(f"all open: {cost.open_bytes / 1e6:.1f} MB alive = {cost.per_event:.0f} B per routed event, "
               f"{cost.per_open:.0f} B per open incident; marks {cost.marks_bytes / 1e3:.1f} kB in all")
    click.echo(f"all closed: {cost.per_stub:.0f} B per stub; the latest closed kept decoded: "
               f"{cost.recent_closed_bytes / max(cost.incidents, 1):.0f} B each")
    retention = RETENTION_S if retention_s is None else retention_s
    per_event = cost.incidents / cost.events
    opened = incident_rate if incident_rate is not None else rate * per_event
    state = steady_state_mb(cost, opened, open_s, retention)
    click.echo(f"steady state at {opened:g} incidents/s ({'given' if incident_rate is not None else f'{per_event:.3f} per event x {rate:g} events/s'}), "
               f"open {open_s:g} s, stubs kept {retention:g} s: " + ", ".join(f"{k} {v:.0f}" for k, v in state.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
