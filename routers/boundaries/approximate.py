"""Approximate polygons for all 3,321 post-merger wards, derived from ``vietnamadminunits``.

No polygon file is needed: a fresh machine can route from the first minute. The result is
labelled ``approximate`` everywhere it is used. How the polygons are made:

1. Sites: every pre-merger ward centroid, labelled with the new ward it went into, plus every
   post-merger ward centroid labelled with itself. An old centroid that is only its district's
   (the package's geocoder fell back to the district, see ``legacy_geocodes``) is left out.
2. Voronoi cells of the sites (in a lon/lat plane scaled by cos 16 deg so cells are not
   stretched east-west at Vietnam's latitudes).
3. A pre-merger ward that was split between several new wards: its cell is divided again,
   among the receiving wards only, by the Voronoi cells of those wards' other sites (their
   unsplit predecessors and their own centroids). The old centroid's own neighbourhood is then
   given by a plurality of weak signals (the receiver that division puts there, the receiver
   whose centroid is nearest relative to its size, the package's "default" receiver, the
   receiver with most other predecessors whose geocoded bounding box contains the old centroid,
   the receiver carrying the old ward's name); when the vote overrules the division, the old
   centroid becomes one more site, labelled with the winner. A disk around the old centroid
   (0.4 times the radius of a circle of the old ward's bounding-box area) goes whole to the
   winner.
4. Cells are dissolved per new ward and clipped to disks around the ward's sites (radius twice
   the radius of a circle of the ward's area, at least 1.5 km), so the open sea and the
   neighbouring countries stay outside every ward.

Measured against the real polygons in ``../shared/boundaries``: see ``make bench``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import shapely
from unidecode import unidecode

from routers.boundaries.legacy_geocodes import district_fallback_keys
from routers.boundaries.lineage import AdminData, OldUnit, admin_data
from routers.boundaries.model import Ward, WardSet

_SCALE_X = math.cos(math.radians(16.0))  # Vietnam spans 8-23 N; 16 N is its middle
_KM_PER_DEG = 111.32
CLIP_FACTOR = 2.0
CLIP_MIN_KM = 1.5
CORE_FRACTION = 0.4  # 0.2-0.6 measured; larger cores start to cost uniform agreement
# Recorded as the generation's origin; BoundaryRegistry.ensure_default rebuilds a default built
# by an earlier version of this module (bump the suffix whenever the polygons change).
ORIGIN = "vietnamadminunits/approximate-v3"

Progress = Callable[[str, int], None]


def _dedupe(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Indices of the first site at each distinct location (Voronoi needs distinct sites)."""
    _, first = np.unique(np.round(np.c_[xs, ys], 6), axis=0, return_index=True)
    return np.sort(first)


def _voronoi(xs: np.ndarray, ys: np.ndarray, envelope: tuple[float, float, float, float]) -> np.ndarray:
    """Voronoi cells in input order, computed in the scaled plane and returned in lon/lat."""
    xmin, ymin, xmax, ymax = envelope
    sites = shapely.multipoints(shapely.points(xs * _SCALE_X, ys))
    extent = shapely.box(xmin * _SCALE_X, ymin, xmax * _SCALE_X, ymax)
    cells = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=extent, ordered=True))
    unscale = np.array([1.0 / _SCALE_X, 1.0])
    return np.asarray(shapely.transform(cells, lambda c: c * unscale))


def _sites(data: AdminData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Site coordinates and labels: a new ward code, or ``split:<old key>`` for split wards."""
    xs: list[float] = []
    ys: list[float] = []
    labels: list[str] = []
    fallback = district_fallback_keys()
    for old in data.old_units:
        if old.key in fallback:
            continue
        xs.append(old.lon)
        ys.append(old.lat)
        labels.append(old.new_codes[0] if len(old.new_codes) == 1 else f"split:{old.key}")
    for new in data.new_units:
        xs.append(new.lon)
        ys.append(new.lat)
        labels.append(new.code)
    x, y, lab = np.array(xs), np.array(ys), np.array(labels, dtype=object)
    keep = _dedupe(x, y)
    return x[keep], y[keep], lab[keep]


def _divide(
    data: AdminData,
    old: OldUnit,
    cell: shapely.Geometry,
    sites: tuple[np.ndarray, np.ndarray, np.ndarray],
    at_centroid: str | None = None,
) -> list[tuple[shapely.Geometry, str]]:
    """Pieces of a split old ward's ``cell``, by the Voronoi cells of its receivers' other sites
    (plus the old centroid itself, labelled ``at_centroid``, when given)."""
    xs, ys, labels = sites
    receivers = old.new_codes
    mine = np.isin(labels, receivers)
    sx = np.r_[xs[mine], [data.new_by_code[c].lon for c in receivers]]
    sy = np.r_[ys[mine], [data.new_by_code[c].lat for c in receivers]]
    slab = np.r_[labels[mine], np.array(receivers, dtype=object)]
    if at_centroid is not None:
        sx, sy = np.r_[old.lon, sx], np.r_[old.lat, sy]
        slab = np.r_[np.array([at_centroid], dtype=object), slab]
    keep = _dedupe(sx, sy)
    xmin, ymin, xmax, ymax = cell.bounds
    pad = 1.0
    sub = _voronoi(sx[keep], sy[keep], (xmin - pad, ymin - pad, xmax + pad, ymax + pad))
    return [
        (piece, str(label))
        for piece, label in zip(shapely.intersection(sub, cell), slab[keep], strict=True)
        if not piece.is_empty
    ]


def _nearest_for_size(data: AdminData, old: OldUnit) -> str:
    """The receiver whose centroid is nearest to the old centroid, distance relative to the
    receiver's size (a large new ward reaches farther from its centroid)."""

    def cost(code: str) -> float:
        new = data.new_by_code[code]
        d2 = ((new.lon - old.lon) * _SCALE_X) ** 2 + (new.lat - old.lat) ** 2
        return d2 / (new.area_km2 if new.area_km2 and new.area_km2 > 0 else 10.0)

    return min(old.new_codes, key=cost)


_UNIT_PREFIX = re.compile(r"^(phuong|xa|thi tran|dac khu)\s+")


def _short_name(name: str) -> str:
    return _UNIT_PREFIX.sub("", unidecode(name).lower().strip())


def _namesake(data: AdminData, old: OldUnit) -> str | None:
    """The receiver that carries the old ward's name (Phường Cửa Nam -> new Phường Cửa Nam), if one
    does: the name usually follows the old ward's core."""
    same = [c for c in old.new_codes if _short_name(data.new_by_code[c].name) == _short_name(old.name)]
    return same[0] if len(same) == 1 else None


def _boxes_around(old: OldUnit, neighbours: dict[str, list[OldUnit]]) -> str | None:
    """The receiver with the most other predecessors whose geocoded bounding box contains the old
    centroid, when one receiver has strictly the most: those old wards bordered the centroid."""
    counts = {
        code: sum(
            1
            for other in neighbours.get(code, ())
            if other.key != old.key
            and other.bounds is not None
            and other.bounds[0] <= old.lon <= other.bounds[2]
            and other.bounds[1] <= old.lat <= other.bounds[3]
        )
        for code in old.new_codes
    }
    best = max(counts.values())
    leaders = [code for code, n in counts.items() if n == best]
    return leaders[0] if best > 0 and len(leaders) == 1 else None


def _centroid_receiver(
    data: AdminData,
    old: OldUnit,
    pieces: list[tuple[shapely.Geometry, str]],
    neighbours: dict[str, list[OldUnit]],
) -> str:
    """Plurality of weak signals for the receiver that holds the old centroid; on a tie the
    division's own answer stands. Each alone is right for 60-80 % of split wards nationwide, the
    vote for a little more (measured on the official polygons, see docs/boundaries.md)."""
    at = shapely.Point(old.lon, old.lat)
    divided = next((label for piece, label in pieces if piece.covers(at)), old.default_code)
    votes = [divided, _nearest_for_size(data, old), old.default_code]
    votes += [v for v in (_boxes_around(old, neighbours), _namesake(data, old)) if v is not None]
    ranked = Counter(votes).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return divided
    return ranked[0][0]


def _core(old: OldUnit, cell: shapely.Geometry) -> shapely.Geometry:
    """The split old ward's centre neighbourhood, kept whole in the receiver that holds the centroid:
    split lines follow roads, rivers and dykes, which rarely cut through the old ward's centre, but
    the division among the receivers' sites often passes close to it. Radius: CORE_FRACTION of the
    radius of a circle as large as the old ward's geocoded bounding box (of its cell without one)."""
    if old.bounds is not None:
        lon0, lat0, lon1, lat1 = old.bounds
        area = (lon1 - lon0) * _SCALE_X * (lat1 - lat0)
    else:
        area = cell.area * _SCALE_X
    radius = CORE_FRACTION * math.sqrt(area / math.pi)
    disk = shapely.buffer(shapely.Point(old.lon * _SCALE_X, old.lat), radius, quad_segs=8)
    disk = shapely.transform(disk, lambda c: c * np.array([1.0 / _SCALE_X, 1.0]))
    return shapely.intersection(disk, cell)


def _divide_split_cells(
    data: AdminData, xs: np.ndarray, ys: np.ndarray, labels: np.ndarray, cells: np.ndarray
) -> tuple[list[shapely.Geometry], list[str]]:
    out_cells: list[shapely.Geometry] = []
    out_labels: list[str] = []
    fallback = district_fallback_keys()
    neighbours: dict[str, list[OldUnit]] = {}
    for unit in data.old_units:
        if unit.key not in fallback:
            for code in unit.new_codes:
                neighbours.setdefault(code, []).append(unit)
    for i, label in enumerate(labels):
        if not label.startswith("split:"):
            out_cells.append(cells[i])
            out_labels.append(label)
            continue
        old = data.old_by_key[label[6:]]
        pieces = _divide(data, old, cells[i], (xs, ys, labels))
        at = shapely.Point(old.lon, old.lat)
        winner = _centroid_receiver(data, old, pieces, neighbours)
        if not any(piece_label == winner and piece.covers(at) for piece, piece_label in pieces):
            pieces = _divide(data, old, cells[i], (xs, ys, labels), at_centroid=winner)
        core = _core(old, cells[i])
        pieces = [(shapely.difference(piece, core), piece_label) for piece, piece_label in pieces]
        pieces.append((core, winner))
        for piece, piece_label in pieces:
            if piece.is_empty:
                continue
            out_cells.append(piece)
            out_labels.append(piece_label)
    return out_cells, out_labels


def build_approximate(progress: Progress | None = None) -> WardSet:
    """Approximate polygons for every post-merger ward (sorted by code)."""
    step = progress or (lambda _label, _n: None)
    data = admin_data()
    xs, ys, labels = _sites(data)
    cells = _voronoi(xs, ys, (xs.min() - 2, ys.min() - 2, xs.max() + 2, ys.max() + 2))
    step("voronoi cells", 1)
    pieces, piece_labels = _divide_split_cells(data, xs, ys, labels, cells)
    step("split wards divided", 1)
    pieces_of: dict[str, list[shapely.Geometry]] = {}
    for piece, label in zip(pieces, piece_labels, strict=True):
        pieces_of.setdefault(label, []).append(piece)
    sites_of: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        sites_of.setdefault(str(label), []).append(i)
    wards: list[Ward] = []
    geoms: list[shapely.Geometry] = []
    for unit in data.new_units:
        mine = pieces_of.get(unit.code, [])
        area = unit.area_km2 if unit.area_km2 and unit.area_km2 > 0 else 10.0
        radius_deg = max(CLIP_MIN_KM, CLIP_FACTOR * math.sqrt(area / math.pi)) / _KM_PER_DEG
        own_sites = sites_of.get(unit.code, [])
        disks = shapely.buffer(
            shapely.points(np.r_[xs[own_sites], unit.lon], np.r_[ys[own_sites], unit.lat]),
            radius_deg,
            quad_segs=8,
        )
        shape = shapely.intersection(shapely.union_all(mine), shapely.union_all(disks))
        shape = _polygonal(shapely.make_valid(shape))
        if shape.is_empty:
            shape = shapely.buffer(shapely.Point(unit.lon, unit.lat), CLIP_MIN_KM / _KM_PER_DEG)
        inside = shapely.Point(unit.lon, unit.lat)
        centroid = inside if shape.covers(inside) else shape.representative_point()
        wards.append(
            Ward(
                code=unit.code,
                name=unit.name,
                province_code=unit.province_code,
                province=unit.province,
                area_km2=round(unit.area_km2 or 0.0, 2),
                population=None,
                centroid=(centroid.y, centroid.x),
            )
        )
        geoms.append(shape)
    step("wards dissolved and clipped", 1)
    return WardSet(wards=wards, geoms=np.array(geoms, dtype=object))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygon parts (make_valid or intersection can add stray lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
