"""Rule evaluation cost with the default ruleset: microseconds per event on one core.

``python -m benchmarks rules`` (part of ``make bench``). The event mix follows the intake shares
the simulator uses: citizen reports of every category (a third with free text that the
fire-keyword regex scans), AI-camera detections of every label at mixed confidence, and sensor
readings that rise through and fall back across their hysteresis thresholds, with sensor state
threaded between readings as the pipeline does. Locations are resolved, with a few ambiguous.
The figure is the median over repeats of (total time / events); the budget is 20 µs.

Beside it, in the same run, the same mix with 1,000 active silences (``make_silences``: devices,
category + ward, ward + description regex, sensor kinds, a few regex-only ones): silences are
filed by one equality matcher each (``routers.rules.silences.SilenceIndex``), so an event is tested
against the few filed under its own values, not all 1,000. Alertmanager's own benchmark for
comparison: ~100 µs per alert with 1,000 silences.
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
from routers.rules.silences import Silence, SilenceIndex, new_silence

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


SILENCES = 1000


def make_silences(count: int = SILENCES, seed: int = 11) -> list[Silence]:
    """``count`` silences as operators write them; a few of them match events of the mix."""
    rng = random.Random(seed)
    wards = [f"{27000 + i:05d}" for i in range(168)]
    categories = list(REPORT_CATEGORIES)
    out: list[Silence] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.4:
            match = [f"device=cam-{rng.randrange(2000)}"]  # cameras under repair (the mix has cam-0..399)
        elif roll < 0.7:
            match = [f"category={rng.choice(categories)}", f"ward={rng.choice(wards)}"]  # a planned works area
        elif roll < 0.9:
            match = [f"ward={rng.choice(wards)}", "description=~(?i).*(khói|cháy).*"]
        elif roll < 0.98:
            match = [f"sensor_kind={rng.choice(list(SENSOR_KINDS))}", f"device=sensor-{rng.randrange(500)}"]
        else:
            match = [f"description=~(?i).*mất điện {n}.*"]  # regex only: not filed, tested for every event
        out.append(new_silence(match, starts_at=0, ends_at=4e9, created_by="bench", comment="bench",
                               silence_id=f"bench-{n:04d}"))
    return out


def run_once(mix: list[tuple[Event, Location]], silences: SilenceIndex | None = None) -> float:
    """Seconds for the whole mix, threading sensor state like the pipeline's table."""
    ruleset = default_ruleset()
    now = 1.8e9
    states: dict[str, SensorState] = {}
    empty = RuleContext()
    began = time.process_time()  # CPU time of this process: the machine is shared, wall time is noisy
    for event, location in mix:
        device = event.device_id
        state = states.get(device) if device is not None and event.source is Source.SENSOR else None
        context = RuleContext(state) if state is not None else empty
        outcome = evaluate_with_state(ruleset, event, location, None, context, silences, now)
        if outcome.changes.sensor is not None and device is not None:
            states[device] = outcome.changes.sensor
    return time.process_time() - began


def measure(events: int = EVENTS, repeats: int = REPEATS) -> tuple[float, float]:
    """Median µs per event without silences and with ``SILENCES`` active ones, measured in turns."""
    mix = make_mix(events)
    index = SilenceIndex(make_silences())
    run_once(mix[:2000])  # warm up caches and the default ruleset load
    run_once(mix[:2000], index)
    plain: list[float] = []
    silenced: list[float] = []
    for _ in range(repeats):  # alternate, so both see the same machine load
        plain.append(run_once(mix) / len(mix) * 1e6)
        silenced.append(run_once(mix, index) / len(mix) * 1e6)
    return statistics.median(plain), statistics.median(silenced)


def main() -> None:
    per_event, with_silences = measure()
    verdict = "within" if per_event <= BUDGET_US else "OVER"
    print(f"rules: {per_event:.2f} µs/event with the default ruleset "
          f"({default_ruleset().version}, {EVENTS} events x {REPEATS} repeats, median) - {verdict} "
          f"the {BUDGET_US:.0f} µs budget", flush=True)
    print(f"rules: {with_silences:.2f} µs/event with {SILENCES} active silences beside {per_event:.2f} µs without "
          f"(x{with_silences / per_event:.2f}, same run; Alertmanager's benchmark: ~100 µs per alert)", flush=True)
    if per_event > BUDGET_US:
        raise RuntimeError(f"rule evaluation costs {per_event:.2f} µs/event, over the {BUDGET_US:.0f} µs budget")


if __name__ == "__main__":
    main()
