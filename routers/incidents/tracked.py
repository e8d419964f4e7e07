"""One evidence item per tracked object: a Frigate object (or review item) reports new, update and
end as separate events; the incident keeps one item for it, which each later message updates.

``track`` names the object (``frigate:events:<frigate id>``); ``details`` is what Frigate said of it
(labels, zones, scores, severity, start/end time, snapshot URL), never a name. Folding is
idempotent: a redelivered message, or messages arriving out of order, leave the same item.

    >>> first = {"frigate_type": "new", "top_score": 0.7, "zones": ["yard"]}
    >>> later = {"frigate_type": "end", "top_score": 0.9, "zones": ["street"], "end_time": "2026-06-01T11:00:00.000Z"}
    >>> merge_details(first, later)["top_score"], merge_details(later, first)["frigate_type"]
    (0.9, 'end')
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from routers.incidents.model import Evidence

# What an evidence item keeps of a Frigate event's attributes (all public, see routers.ingest.frigate)
DETAIL_KEYS = ("frigate_type", "frigate_labels", "zones", "score", "top_score", "severity", "threat_level",
               "start_time", "end_time", "has_snapshot", "snapshot_url")
_TYPE_ORDER = ("new", "update", "genai", "end")


def details_of(attributes: Any) -> dict[str, Any] | None:
    """The evidence details from a routed event's ``attributes`` (None for untracked sources)."""
    if not isinstance(attributes, dict) or not isinstance(attributes.get("track"), str):
        return None
    return {key: attributes[key] for key in DETAIL_KEYS if attributes.get(key) is not None}


def _union(a: Any, b: Any) -> list[Any]:
    return list(dict.fromkeys([*(a or ()), *(b or ())]))


def _highest(a: Any, b: Any) -> Any:
    present = [v for v in (a, b) if isinstance(v, int | float) and not isinstance(v, bool)]
    return max(present) if present else None


def merge_details(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The object's details after ``new``: best scores, every zone and label seen, the end time and
    snapshot once known, the furthest message type (an ``end`` stays the end)."""
    merged = {**old, **{k: v for k, v in new.items() if v is not None}}
    merged["top_score"] = _highest(_highest(old.get("top_score"), old.get("score")),
                                   _highest(new.get("top_score"), new.get("score")))
    for key in ("zones", "frigate_labels"):
        merged[key] = _union(old.get(key), new.get(key))
    types = [t for t in (old.get("frigate_type"), new.get("frigate_type")) if t in _TYPE_ORDER]
    if types:
        merged["frigate_type"] = max(types, key=_TYPE_ORDER.index)
    if "alert" in (old.get("severity"), new.get("severity")):
        merged["severity"] = "alert"
    merged["threat_level"] = _highest(old.get("threat_level"), new.get("threat_level"))
    merged["start_time"] = min((t for t in (old.get("start_time"), new.get("start_time")) if t), default=None)
    merged["end_time"] = max((t for t in (old.get("end_time"), new.get("end_time")) if t), default=None)
    return {k: v for k, v in merged.items() if v is not None and v != []}


def fold_tracked(evidence: tuple[Evidence, ...], item: Evidence) -> tuple[Evidence, ...] | None:
    """``evidence`` with ``item`` folded into its tracked object's item; None when ``item`` is not
    tracked or its object has no item yet (then it is added as usual)."""
    if item.track is None:
        return None
    for index, held in enumerate(evidence):
        if held.track == item.track:
            merged = replace(held, details=merge_details(held.details or {}, item.details or {}),
                             suppressed=held.suppressed if item.suppressed else None)
            return (*evidence[:index], merged, *evidence[index + 1:])
    return None
