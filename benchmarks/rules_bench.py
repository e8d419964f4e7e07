"""Rule evaluation cost with the default ruleset: microseconds per event on one core.

``python -m benchmarks rules`` (part of ``make bench``). The event mix follows the intake shares
the simulator uses: citizen reports of every category (a third with free text that the
fire-keyword regex scans), AI-camera detections of every label at mixed confidence, and sensor
readings that rise through and fall back across their hysteresis thresholds, with sensor state
threaded between readings as the pipeline does. Locations are resolved, with a few ambiguous.
The figure is the median over repeats of (total time / events); the budget is 20 µs.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from routers.categories import CAMERA_LABELS, REPORT_CATEGORIES, SENSOR_KINDS
from routers.events import Event, Source
from routers.locate.result import Candidate, Location, WardRef
from routers.rules import RuleContext, SensorState, default_ruleset, evaluate_with_state

BUDGET_US = 20.0
EVENTS = 20_000
REPEATS = 7

_TEXTS = (
    "Nước ngập sâu trước nhà, xe máy chết máy nhiều",
    "Có khói bốc lên từ tầng 3 khu chung cư, mùi khét",
    "Đèn đường hỏng cả tuần nay, buổi tối rất tối và nguy hiểm cho người đi bộ",
    "Karaoke hát to sau 23 giờ, hàng xóm không ngủ được",
    "Rác thải đổ trộm ở góc đường, bốc mùi hôi thối",
)
_SENSOR_RANGE = {"water_level": (0.0, 0.9), "rainfall": (0.0, 130.0), "tide": (1.2, 1.8), "pm25": (10.0, 180.0)}


def make_mix(count: int, seed: int = 7) -> list[tuple[Event, Location]]:
    rng = random.Random(seed)
    wards = [f"{27000 + i:05d}" for i in range(168)]
    start = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    categories, labels = list(REPORT_CATEGORIES), list(CAMERA_LABELS)
    sensors = [(f"{kind}-{n}", kind) for kind in SENSOR_KINDS for n in range(20)]
    levels = {device: rng.uniform(*_SENSOR_RANGE[kind]) for device, kind in sensors}
    mix: list[tuple[Event, Location]] = []
    for i in range(count):
        when = start + timedelta(seconds=i * 4)
        ward = rng.choice(wards)
        if rng.random() < 0.05:
            other = rng.choice(wards)
            location = Location("ambiguous", None, "address", "vn2025-79", "approximate",
                                candidates=(Candidate(ward, ""), Candidate(other, "")))
        else:
            location = Location("resolved", WardRef(ward, "", "79"), "point", "vn2025-79", "approximate")
        roll = rng.random()
        if roll < 0.55:
            text = rng.choice(_TEXTS) if rng.random() < 0.35 else None
            event = Event(f"r{i}", Source.REPORT, rng.choice(categories), when, description=text)
        elif roll < 0.75:
            event = Event(f"c{i}", Source.CAMERA, rng.choice(labels), when, device_id=f"cam-{rng.randrange(400)}",
                          confidence=rng.uniform(0.3, 0.99))
        else:
            device, kind = rng.choice(sensors)
            low, high = _SENSOR_RANGE[kind]
            levels[device] = min(high, max(low, levels[device] + rng.gauss(0, (high - low) / 15)))
            event = Event(f"s{i}", Source.SENSOR, kind, when, device_id=device, value=levels[device],
                          unit=SENSOR_KINDS[kind][0])
        mix.append((event, location))
    return mix


def run_once(mix: list[tuple[Event, Location]]) -> float:
    """Seconds for the whole mix, threading sensor state like the pipeline's table."""
    ruleset = default_ruleset()
    states: dict[str, SensorState] = {}
    empty = RuleContext()
    began = time.process_time()  # CPU time of this process: the machine is shared, wall time is noisy
    for event, location in mix:
        device = event.device_id
        state = states.get(device) if device is not None and event.source is Source.SENSOR else None
        context = RuleContext(state) if state is not None else empty
        outcome = evaluate_with_state(ruleset, event, location, None, context)
        if outcome.changes.sensor is not None and device is not None:
            states[device] = outcome.changes.sensor
    return time.process_time() - began


def measure(events: int = EVENTS, repeats: int = REPEATS) -> float:
    """Median µs per event."""
    mix = make_mix(events)
    run_once(mix[:2000])  # warm up caches and the default ruleset load
    return statistics.median(run_once(mix) / len(mix) * 1e6 for _ in range(repeats))


def main() -> None:
    per_event = measure()
    verdict = "within" if per_event <= BUDGET_US else "OVER"
    print(f"rules: {per_event:.2f} µs/event with the default ruleset "
          f"({default_ruleset().version}, {EVENTS} events x {REPEATS} repeats, median) - {verdict} "
          f"the {BUDGET_US:.0f} µs budget", flush=True)
    if per_event > BUDGET_US:
        raise RuntimeError(f"rule evaluation costs {per_event:.2f} µs/event, over the {BUDGET_US:.0f} µs budget")


if __name__ == "__main__":
    main()
