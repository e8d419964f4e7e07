"""A batch of events through the rules, with inhibition independent of the order inside the batch.

Two passes: every event is walked first (:func:`routers.rules.evaluate.prepare`, sensor state
threaded per sensor in batch order, as readings of one sensor arrive in order), collecting the
inhibitors the batch raises; then each event is held back or not against the stored inhibitors
plus *all* of those (:func:`routers.rules.evaluate.finish`). A target that arrives before its
source in the same batch is held back just as one that arrives after it: any permutation of a
batch (with one reading per sensor) gives the same held-back set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from routers.events import Event, Source
from routers.locate.result import Location
from routers.rules.evaluate import Evaluation, Prepared, finish, prepare
from routers.rules.model import Ruleset
from routers.rules.silences import SilenceIndex
from routers.rules.state import Inhibitor, InhibitorBoard, RuleContext, SensorState


@dataclass
class BatchResult:
    evaluations: list[Evaluation]
    sensors: dict[str, SensorState] = field(default_factory=dict)  # sensors whose state changed
    raised: list[Inhibitor] = field(default_factory=list)  # every inhibitor the batch raised


def evaluate_batch(ruleset: Ruleset, items: Sequence[tuple[Event, Location]], sensors: Mapping[str, SensorState],
                   inhibitors: Sequence[Inhibitor], silences: SilenceIndex | None = None, now: float | None = None,
                   at: datetime | None = None) -> BatchResult:
    """Route ``items``; ``sensors`` is the stored state of their sensors, ``inhibitors`` the stored
    active ones, ``silences`` checked at ``now`` (default: each event's time)."""
    states = dict(sensors)
    result = BatchResult([])
    prepared: list[Prepared] = []
    for event, location in items:
        device = event.device_id if event.source is Source.SENSOR else None
        step = prepare(ruleset, event, location, at, RuleContext(states.get(device) if device else None))
        if device and step.change.sensor is not None:
            states[device] = result.sensors[device] = step.change.sensor
        result.raised.extend(step.change.raised)
        prepared.append(step)
    everyone: Sequence[Inhibitor] = inhibitors
    if result.raised:
        board = InhibitorBoard()
        board.apply(tuple(inhibitors))
        board.apply(tuple(result.raised))
        everyone = board.all()
    result.evaluations = [finish(ruleset, step, everyone, silences, now) for step in prepared]
    return result
