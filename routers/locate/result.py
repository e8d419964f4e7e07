"""What locating answers: plain data shared by the CLI, the pipeline and the rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from routers.boundaries.model import BoundarySource

Status = Literal["resolved", "ambiguous", "unresolved"]
Method = Literal["point", "nearest", "address", "legacy_address", "device"]


@dataclass(frozen=True, slots=True)
class WardRef:
    code: str  # 5-digit ward code, leading zeros kept; only meaningful with its generation
    name: str
    province_code: str


@dataclass(frozen=True, slots=True)
class Candidate:
    code: str
    name: str
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """Answer to "which post-merger ward owns this place?".

    ``reason`` is set when ``status`` is not ``resolved``: ``outside_boundaries``,
    ``unknown_device``, ``address_unresolved``, ``ambiguous_address``, ``no_location`` ...
    """

    status: Status
    ward: WardRef | None
    method: Method
    generation: str
    source: BoundarySource
    candidates: tuple[Candidate, ...] = ()
    corrections: tuple[str, ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "ward": None
            if self.ward is None
            else {"code": self.ward.code, "name": self.ward.name, "province_code": self.ward.province_code},
            "candidates": [
                {"code": c.code, "name": c.name, "distance_m": c.distance_m} for c in self.candidates
            ],
            "method": self.method,
            "generation": self.generation,
            "source": self.source,
            "corrections": list(self.corrections),
            **({"reason": self.reason} if self.reason else {}),
        }


@dataclass(frozen=True, slots=True)
class Located:
    """An event with its location; what routing consumes."""

    location: Location
    extra_corrections: tuple[str, ...] = field(default=())
