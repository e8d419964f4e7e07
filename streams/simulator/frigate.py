"""Camera detections the way Frigate publishes them over MQTT: tracked objects with new, update and
end messages on ``frigate/events``, review items (severity alert/detection) on ``frigate/reviews``,
in the shape Frigate 0.14+ uses (see tests/fixtures/frigate). Most of what a street camera sees is
ordinary (people walking, cars passing) and is filtered by the default mapping; what the scenario
means as an incident is drawn with the zones and labels the default mapping maps to that label.

Deterministic for a seed; no I/O.
"""

from __future__ import annotations

import random
import string
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

EVENTS = "frigate/events"
REVIEWS = "frigate/reviews"

# IOC label -> how Frigate reports it under the default mapping: (stream, labels, zones, severity)
_SHAPES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "fire_smoke": ("events", ("smoke", "fire"), ("street",), "alert"),
    "flooding": ("events", ("car", "motorcycle", "person"), ("flooding",), "detection"),
    "illegal_parking": ("events", ("car", "motorcycle", "truck"), ("no_parking", "sidewalk", "via_he"), "detection"),
    "crowd": ("reviews", ("person",), ("plaza", "market", "walking_street"), "alert"),
    "congestion": ("reviews", ("car", "motorcycle", "bus"), ("junction", "bridge_approach"), "alert"),
    "accident": ("reviews", ("car", "motorcycle"), ("junction_box",), "alert"),
}
# street life that maps to nothing: filtered
_ORDINARY = (("person", ("sidewalk_walk",)), ("car", ("road",)), ("motorcycle", ("road",)), ("bicycle", ()),
             ("dog", ()), ("bus", ("road",)))


@dataclass
class _Tracked:
    frigate_id: str
    camera: str
    label: str
    zones: tuple[str, ...]
    start: float
    top_score: float
    updates: int = 0


@dataclass
class FrigateFeed:
    """``detection(label, camera, clock)`` and ``street_life(camera, clock)`` return (MQTT topic, payload);
    a live object now and then gets its update or end instead of a new object starting."""

    rng: random.Random
    live: deque[_Tracked] = field(default_factory=lambda: deque(maxlen=200))

    def _id(self, at: float) -> str:
        return f"{at:.6f}-" + "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=6))

    def detection(self, label: str, camera: str, clock: datetime) -> tuple[str, bytes]:
        if self.live and self.rng.random() < 0.35:
            return self._follow_up(clock)
        stream, labels, zones, severity = _SHAPES[label]
        at = clock.timestamp()
        if stream == "reviews":
            objects = sorted(set(self.rng.choices(labels, k=self.rng.randint(1, 3))))
            return REVIEWS, self._review(self._id(at), camera, at, objects, [self.rng.choice(zones)], severity)
        tracked = _Tracked(self._id(at), camera, self.rng.choice(labels), (self.rng.choice(zones),), at,
                           round(self.rng.uniform(0.62, 0.97), 4))
        self.live.append(tracked)
        return EVENTS, self._event("new", tracked, at)

    def street_life(self, camera: str, clock: datetime) -> tuple[str, bytes]:
        label, zones = self.rng.choice(_ORDINARY)
        at = clock.timestamp()
        tracked = _Tracked(self._id(at), camera, label, zones, at, round(self.rng.uniform(0.55, 0.95), 4))
        return EVENTS, self._event(self.rng.choice(("new", "update", "end")), tracked, at)

    def _follow_up(self, clock: datetime) -> tuple[str, bytes]:
        tracked = self.live[self.rng.randrange(len(self.live))]
        tracked.updates += 1
        tracked.top_score = max(tracked.top_score, round(self.rng.uniform(0.6, 0.99), 4))
        ending = tracked.updates >= 3 or self.rng.random() < 0.3
        if ending:
            self.live.remove(tracked)
        return EVENTS, self._event("end" if ending else "update", tracked, clock.timestamp())

    @staticmethod
    def _event(kind: str, tracked: _Tracked, at: float) -> bytes:
        def state(end: float | None, snapshot: bool) -> dict[str, Any]:
            return {
                "id": tracked.frigate_id, "camera": tracked.camera, "frame_time": at, "snapshot_time": at,
                "label": tracked.label, "sub_label": None, "top_score": tracked.top_score, "false_positive": False,
                "start_time": tracked.start, "end_time": end, "score": tracked.top_score,
                "current_zones": list(tracked.zones), "entered_zones": list(tracked.zones), "thumbnail": None,
                "has_snapshot": snapshot, "has_clip": snapshot, "active": True, "stationary": False,
                "motionless_count": 0, "position_changes": tracked.updates,
            }
        before = state(None, tracked.updates > 0)
        return orjson.dumps({"type": kind, "before": before, "after": state(at if kind == "end" else None, True)})

    @staticmethod
    def _review(review_id: str, camera: str, at: float, objects: list[str], zones: list[str], severity: str) -> bytes:
        after = {"id": review_id, "camera": camera, "start_time": at, "end_time": None, "severity": severity,
                 "thumb_path": f"/media/frigate/clips/review/thumb-{camera}-{review_id}.webp",
                 "data": {"detections": [review_id.replace("-", "-d", 1)], "objects": objects, "sub_labels": [],
                          "zones": zones, "audio": []}}
        return orjson.dumps({"type": "new", "before": after, "after": after})
