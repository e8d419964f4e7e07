"""GeoJSON features -> a validated :class:`WardSet` plus a report of what was found and repaired.

Refused (the import fails, every reason listed): a feature without a code, a missing, empty or
non-polygon geometry, wrong coordinate nesting, non-numeric or out-of-range coordinates,
coordinates in (lat, lon) order (named as such), duplicate codes. Repaired (and reported): unclosed rings,
rings with too few points, invalid polygons (self-intersections, bow-ties, holes outside their
shell) via ``shapely.make_valid``. Reported for review: overlaps and gaps between wards, with
their area and where they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from routers.boundaries.lineage import admin_data
from routers.boundaries.model import Ward, WardSet
from routers.exceptions import BoundaryError
from routers.progress import Progress

MIN_ISSUE_M2 = 100.0  # overlaps/gaps smaller than this are digitising noise: counted, not listed
MAX_LISTED = 20
_M_PER_DEG = 111_320.0


class FeatureError(ValueError):
    """One feature cannot be used; the message says why."""


@dataclass
class ValidationReport:
    features: int = 0
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    overlaps: list[dict[str, object]] = field(default_factory=list)
    overlap_count: int = 0
    overlap_km2: float = 0.0
    gaps: list[dict[str, object]] = field(default_factory=list)
    gap_count: int = 0
    gap_km2: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "features": self.features,
            "accepted": self.accepted,
            "errors": self.errors,
            "repaired": self.repaired,
            "duplicates": self.duplicates,
            "overlaps": {
                "count": self.overlap_count,
                "km2": round(self.overlap_km2, 6),
                "largest": self.overlaps,
            },
            "gaps": {"count": self.gap_count, "km2": round(self.gap_km2, 6), "largest": self.gaps},
        }


def _m2(geom: shapely.Geometry) -> float:
    """Area in square metres (equirectangular at the geometry's latitude: plenty for a report)."""
    if geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    return float(geom.area) * _M_PER_DEG * _M_PER_DEG * math.cos(math.radians(lat))


def _where(geom: shapely.Geometry) -> list[float]:
    point = geom.representative_point()
    return [round(point.y, 6), round(point.x, 6)]


def _position(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise FeatureError(f"wrong nesting: {where} should be a [lon, lat] position, found {str(value)[:40]}")
    lon, lat = value[0], value[1]
    for v in (lon, lat):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise FeatureError(f"non-numeric coordinate {v!r} at {where}")
        if not math.isfinite(v):
            raise FeatureError(f"non-finite coordinate {v!r} at {where}")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        hint = "; looks like (lat, lon) order, GeoJSON positions are [lon, lat]" if -90 <= lon <= 90 else ""
        raise FeatureError(f"coordinate out of range (lon {lon}, lat {lat}) at {where}{hint}")
    return float(lon), float(lat)


def _ring(value: Any, where: str, repairs: list[str]) -> list[tuple[float, float]] | None:
    if not isinstance(value, list):
        raise FeatureError(f"wrong nesting: {where} should be a list of positions")
    points = [_position(p, f"{where}[{i}]") for i, p in enumerate(value)]
    if points and points[0] != points[-1]:
        points.append(points[0])
        repairs.append(f"closed unclosed ring {where}")
    if len(points) < 4:
        repairs.append(f"dropped ring {where} with {len(value)} points")
        return None
    return points


def _polygon(value: Any, where: str, repairs: list[str]) -> shapely.Polygon | None:
    if not isinstance(value, list) or not value:
        raise FeatureError(f"wrong nesting: {where} should be a non-empty list of rings")
    rings = [_ring(r, f"{where}[{i}]", repairs) for i, r in enumerate(value)]
    if rings[0] is None:
        return None
    return shapely.Polygon(rings[0], [r for r in rings[1:] if r is not None])


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def parse_geometry(geometry: Any, repairs: list[str]) -> shapely.Geometry:
    """A valid (Multi)Polygon from a GeoJSON geometry object, or FeatureError."""
    if not isinstance(geometry, dict):
        raise FeatureError("no geometry")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise FeatureError(f"geometry type {kind!r} is not a Polygon or MultiPolygon")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list):
        raise FeatureError("geometry has no coordinates list")
    if kind == "Polygon":
        polygons = [_polygon(coords, "coordinates", repairs)]
    else:
        polygons = [_polygon(p, f"coordinates[{i}]", repairs) for i, p in enumerate(coords)]
    kept = [p for p in polygons if p is not None and not p.is_empty]
    if not kept:
        raise FeatureError("empty geometry")
    geom = kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        geom = polygonal(shapely.make_valid(geom))
        repairs.append(f"repaired invalid geometry ({reason})")
    if geom.is_empty or geom.area == 0:
        raise FeatureError("geometry has no area")
    xmin, ymin, xmax, ymax = geom.bounds
    if xmin >= 6.0 and xmax <= 24.5 and ymin >= 101.0 and ymax <= 118.0:
        raise FeatureError("coordinates look like (lat, lon); GeoJSON positions are [lon, lat]")
    return geom


def _code(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"{value:05d}"
    text = str(value).strip()
    return text.zfill(5) if text.isdigit() and len(text) < 5 else (text or None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def validate_features(
    features: list[Any],
    *,
    code_field: str = "code",
    name_field: str = "name",
    check_topology: bool = True,
    progress: Progress | None = None,
) -> tuple[WardSet, ValidationReport]:
    """Turn features into wards; ``report.errors`` non-empty means the import must be refused."""
    step = progress or (lambda _label, _n: None)
    report = ValidationReport(features=len(features))
    known = admin_data().new_by_code
    parsed: dict[str, tuple[Ward, shapely.Geometry]] = {}
    for position, feature in enumerate(features):
        step("checking features", 1)
        label = f"feature {position}"
        try:
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise FeatureError("not a GeoJSON Feature")
            props = feature.get("properties")
            props = props if isinstance(props, dict) else {}
            code = _code(props.get(code_field))
            if code is None:
                raise FeatureError(f"no {code_field!r} property")
            label = f"feature {position} (code {code})"
            repairs: list[str] = []
            geom = parse_geometry(feature.get("geometry"), repairs)
            report.repaired.extend(f"{label}: {r}" for r in repairs)
        except FeatureError as exc:
            report.errors.append(f"{label}: {exc}")
            continue
        if code in parsed:
            report.duplicates.append(code)
            report.errors.append(
                f"{label}: duplicate code {code} (also feature with name {parsed[code][0].name!r})"
            )
            continue
        reference = known.get(code)
        name = str(props.get(name_field) or (reference.name if reference else code))
        province_code = _code(props.get("province_code"))
        province_code = (province_code or "").lstrip("0").zfill(2) if province_code else None
        area = _number(props.get("area_km2"))
        population = _number(props.get("population"))
        inside = geom.representative_point()
        ward = Ward(
            code=code,
            name=name,
            province_code=province_code or (reference.province_code if reference else ""),
            province=str(props.get("province") or (reference.province if reference else "")),
            area_km2=round(area if area is not None else _m2(geom) / 1e6, 2),
            population=None if population is None else int(population),
            centroid=(inside.y, inside.x),
            predecessors=str(props["predecessors"]) if props.get("predecessors") else None,
        )
        parsed[code] = (ward, geom)
    order = sorted(parsed)
    wards = WardSet(
        wards=[parsed[c][0] for c in order], geoms=np.array([parsed[c][1] for c in order], dtype=object)
    )
    report.accepted = len(order)
    if not features:
        report.errors.append("the source holds no features")
    if check_topology and len(order) > 1:
        _topology(wards, report, step)
    return wards, report


def _topology(wards: WardSet, report: ValidationReport, step: Progress) -> None:
    """Overlaps between neighbouring wards and gaps (holes in their union)."""
    geoms = wards.geoms
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    step("checking overlaps", 1)
    overlaps: list[tuple[float, dict[str, object]]] = []
    for a, b, shared in zip(left, right, shapely.intersection(geoms[left], geoms[right]), strict=True):
        area = _m2(polygonal(shared))
        if area <= 0:
            continue
        report.overlap_km2 += area / 1e6
        if area >= MIN_ISSUE_M2:
            report.overlap_count += 1
            item = {
                "a": wards.wards[a].code,
                "b": wards.wards[b].code,
                "area_m2": round(area, 1),
                "at": _where(shared),
            }
            overlaps.append((area, item))
    overlaps.sort(key=lambda x: -x[0])
    report.overlaps = [item for _, item in overlaps[:MAX_LISTED]]
    step("checking gaps", 1)
    union = shapely.coverage_union_all(geoms) if report.overlap_count == 0 else shapely.union_all(geoms)
    gaps: list[tuple[float, dict[str, object]]] = []
    for part in shapely.get_parts(union):
        if part.geom_type != "Polygon":
            continue
        for ring in part.interiors:
            hole = shapely.Polygon(ring)
            area = _m2(hole)
            report.gap_km2 += area / 1e6
            if area >= MIN_ISSUE_M2:
                report.gap_count += 1
                gaps.append((area, {"area_m2": round(area, 1), "at": _where(hole)}))
    gaps.sort(key=lambda x: -x[0])
    report.gaps = [item for _, item in gaps[:MAX_LISTED]]


def import_wards(
    features: list[Any],
    *,
    code_field: str = "code",
    name_field: str = "name",
    progress: Progress | None = None,
) -> tuple[WardSet, ValidationReport]:
    """validate_features, raising BoundaryError (with every reason) when the source is refused."""
    wards, report = validate_features(
        features, code_field=code_field, name_field=name_field, progress=progress
    )
    if not report.ok:
        listed = "\n  ".join(report.errors[:50])
        more = f"\n  ... and {len(report.errors) - 50} more" if len(report.errors) > 50 else ""
        raise BoundaryError(f"boundary source refused ({len(report.errors)} errors):\n  {listed}{more}")
    return wards, report
