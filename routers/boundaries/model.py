"""Plain data of the boundary layer: a ward, a set of ward polygons before compilation, and the
metadata that makes a set of polygons a dated *generation*.

Ward codes are only meaningful together with their generation (codes are reused across the 2025
merger), so every answer built from these types carries the generation id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

BoundarySource = Literal["official", "reference", "approximate"]
SOURCES: tuple[BoundarySource, ...] = ("official", "reference", "approximate")


@dataclass(frozen=True, slots=True)
class Ward:
    """One post-merger ward (phường), commune (xã) or special zone (đặc khu)."""

    code: str  # 5 digits, leading zeros kept
    name: str
    province_code: str  # 2 digits ("79" HCMC, "01" Hanoi, "48" Da Nang)
    province: str
    area_km2: float
    population: int | None
    centroid: tuple[float, float]  # (lat, lon) of a point inside the ward
    predecessors: str | None = None  # free text lineage as published, when known


@dataclass(slots=True)
class WardSet:
    """Wards and their polygons (``geoms[i]`` belongs to ``wards[i]``), sorted by code.

    Produced by the GeoJSON importer or the built-in reference builder; compiled into a generation file.
    """

    wards: list[Ward]
    geoms: np.ndarray  # shapely (Multi)Polygons in lon/lat, valid

    def __post_init__(self) -> None:
        if len(self.wards) != len(self.geoms):
            raise ValueError("wards and geometries differ in length")


@dataclass(frozen=True, slots=True)
class GenerationMeta:
    """What the registry records about a generation (everything but the polygons)."""

    id: str
    name: str
    valid_from: datetime
    valid_to: datetime | None
    source: BoundarySource
    checksum: str
    ward_count: int
    created_at: datetime
    active: bool = False
    origin: str = ""  # where the polygons came from: a path, a URL, or the built-in snapshot
    report: dict[str, object] = field(default_factory=dict)
    provinces: tuple[str, ...] | None = None  # province codes it has (None: written before layers)
    activated_at: datetime | None = None  # the last activation: newer layers lie above older ones

    def covers(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "source": self.source,
            "checksum": self.checksum,
            "ward_count": self.ward_count,
            "created_at": self.created_at.isoformat(),
            "active": self.active,
            "origin": self.origin,
            "report": self.report,
            "provinces": None if self.provinces is None else list(self.provinces),
            "activated_at": None if self.activated_at is None else self.activated_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> GenerationMeta:
        valid_to = data.get("valid_to")
        report = data.get("report")
        provinces = data.get("provinces")
        activated_at = data.get("activated_at")
        source = data.get("source")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            valid_from=datetime.fromisoformat(str(data["valid_from"])),
            valid_to=None if valid_to is None else datetime.fromisoformat(str(valid_to)),
            source=source if source in SOURCES else "approximate",  # type: ignore[arg-type]
            checksum=str(data["checksum"]),
            ward_count=int(str(data["ward_count"])),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            active=bool(data.get("active", False)),
            origin=str(data.get("origin", "")),
            report=dict(report) if isinstance(report, dict) else {},
            provinces=tuple(str(p) for p in provinces) if isinstance(provinces, list) else None,
            activated_at=None if activated_at is None else datetime.fromisoformat(str(activated_at)),
        )

    def layer_rank(self) -> tuple[int, datetime]:
        """Higher ranks lie above lower ones where layers share a province: any imported
        generation above the built-in reference, then the most recently activated first."""
        return (0 if self.source == "reference" else 1, self.activated_at or self.created_at)
