"""What-if replay: run the same located events through two rulesets and compare, no side effects.

Each ruleset keeps its own simulated state (sensor hysteresis by device, inhibitors), threaded
through the events in order, exactly as a worker would. Load is counted per target for decisions
that open work (not suppressed); suppressed decisions are counted apart.

    report = replay(current, candidate, [(event, location), ...])
    report.changed_targets, report.load_shift()["ward:27139"], report.examples[0]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from routers.decision import Decision
from routers.events import Event
from routers.locate.result import Location
from routers.rules.evaluate import evaluate_with_state
from routers.rules.model import Ruleset
from routers.rules.state import InhibitorBoard, RuleContext, SensorState


class Simulation:
    """One ruleset's view of a stream of events: its own sensor states and inhibitors."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.sensors: dict[str, SensorState] = {}
        self.board = InhibitorBoard()

    def step(self, event: Event, location: Location) -> Decision:
        device = event.device_id
        context = RuleContext(self.sensors.get(device) if device else None,
                              self.board.active(event.occurred_at.timestamp()))
        outcome = evaluate_with_state(self.ruleset, event, location, None, context)
        if outcome.changes.sensor is not None and device:
            self.sensors[device] = outcome.changes.sensor
        self.board.apply(outcome.changes.raised)
        return outcome.decision


@dataclass(frozen=True, slots=True)
class Example:
    event: Event
    before: Decision
    after: Decision

    def to_json(self) -> dict[str, Any]:
        def side(decision: Decision) -> dict[str, Any]:
            return decision.to_json()

        return {
            "event": {"id": self.event.id, "source": self.event.source.value, "kind": self.event.kind,
                      "occurred_at": self.event.occurred_at.isoformat()},
            "before": side(self.before),
            "after": side(self.after),
        }


@dataclass
class ReplayReport:
    before_version: str
    after_version: str
    total: int = 0
    unplaced: int = 0  # unresolved locations: the pipeline sends them to ioc.unroutable either way
    changed_targets: int = 0
    changed_priority: int = 0
    changed_suppression: int = 0
    changed_any: int = 0
    load_before: Counter[str] = field(default_factory=Counter)
    load_after: Counter[str] = field(default_factory=Counter)
    suppressed_before: Counter[str] = field(default_factory=Counter)
    suppressed_after: Counter[str] = field(default_factory=Counter)
    rule_hits_before: Counter[str] = field(default_factory=Counter)
    rule_hits_after: Counter[str] = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)

    def load_shift(self) -> dict[str, tuple[int, int, int]]:
        """target -> (before, after, after - before) for every target whose load changed."""
        names = sorted(set(self.load_before) | set(self.load_after))
        shift = {}
        for name in names:
            before, after = self.load_before[name], self.load_after[name]
            if before != after:
                shift[name] = (before, after, after - before)
        return shift

    def to_json(self) -> dict[str, Any]:
        return {
            "before": self.before_version,
            "after": self.after_version,
            "events": self.total,
            "unplaced": self.unplaced,
            "changed": {
                "any": self.changed_any, "targets": self.changed_targets, "priority": self.changed_priority,
                "suppression": self.changed_suppression,
            },
            "load_shift": {
                name: {"before": b, "after": a, "delta": d} for name, (b, a, d) in self.load_shift().items()
            },
            "suppressed": {"before": dict(self.suppressed_before), "after": dict(self.suppressed_after)},
            "examples": [example.to_json() for example in self.examples],
        }


def _record_load(load: Counter[str], suppressed: Counter[str], hits: Counter[str], decision: Decision) -> None:
    for rule in decision.matched:
        hits[rule] += 1
    if decision.suppressed:
        suppressed[decision.suppressed.partition(":")[0]] += 1
        return
    for target in decision.targets:
        load[target] += 1


def replay(
    before: Ruleset, after: Ruleset, items: Iterable[tuple[Event, Location]], examples: int = 5
) -> ReplayReport:
    """Compare ``before`` and ``after`` over ``items`` (in stream order)."""
    report = ReplayReport(before.version, after.version)
    old, new = Simulation(before), Simulation(after)
    for event, location in items:
        report.total += 1
        if location.status == "unresolved":
            report.unplaced += 1
            continue
        a, b = old.step(event, location), new.step(event, location)
        _record_load(report.load_before, report.suppressed_before, report.rule_hits_before, a)
        _record_load(report.load_after, report.suppressed_after, report.rule_hits_after, b)
        targets = set(a.targets) != set(b.targets)
        priority = a.priority != b.priority
        suppression = a.suppressed != b.suppressed
        report.changed_targets += targets
        report.changed_priority += priority
        report.changed_suppression += suppression
        if targets or priority or suppression or a.matched != b.matched:
            report.changed_any += 1
            if len(report.examples) < examples:
                report.examples.append(Example(event, a, b))
    return report

