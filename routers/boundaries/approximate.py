"""Approximate polygons for all 3,321 post-merger wards, derived from ``vietnamadminunits``.

No polygon file is needed: a fresh machine can route from the first minute. The result is
labelled ``approximate`` everywhere it is used. How the polygons are made:

1. Sites: every pre-merger ward centroid, labelled with the new ward it went into, plus every
   post-merger ward centroid labelled with itself.
2. Voronoi cells of the sites (in a lon/lat plane scaled by cos 16 deg so cells are not
   stretched east-west at Vietnam's latitudes).
3. A pre-merger ward that was split between several new wards is not guessed: its cell is
   divided again, among the receiving wards only, by the Voronoi cells of those wards' other
   sites (their unsplit predecessors and their own centroids).
4. Cells are dissolved per new ward and clipped to disks around the ward's sites (radius twice
   the radius of a circle of the ward's area, at least 1.5 km), so the open sea and the
   neighbouring countries stay outside every ward.

Measured against the real polygons in ``../shared/boundaries``: see ``make bench``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import shapely

from routers.boundaries.lineage import AdminData, admin_data
from routers.boundaries.model import Ward, WardSet

_SCALE_X = math.cos(math.radians(16.0))  # Vietnam spans 8-23 N; 16 N is its middle
_KM_PER_DEG = 111.32
CLIP_FACTOR = 2.0
CLIP_MIN_KM = 1.5

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
    for old in data.old_units:
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


def _divide_split_cells(
    data: AdminData, xs: np.ndarray, ys: np.ndarray, labels: np.ndarray, cells: np.ndarray
) -> tuple[list[shapely.Geometry], list[str]]:
    out_cells: list[shapely.Geometry] = []
    out_labels: list[str] = []
    for i, label in enumerate(labels):
        if not label.startswith("split:"):
            out_cells.append(cells[i])
            out_labels.append(label)
            continue
        receivers = data.old_by_key[label[6:]].new_codes
        mine = np.isin(labels, receivers)
        sx = np.r_[xs[mine], [data.new_by_code[c].lon for c in receivers]]
        sy = np.r_[ys[mine], [data.new_by_code[c].lat for c in receivers]]
        slab = np.r_[labels[mine], np.array(receivers, dtype=object)]
        keep = _dedupe(sx, sy)
        xmin, ymin, xmax, ymax = cells[i].bounds
        pad = 1.0
        sub = _voronoi(sx[keep], sy[keep], (xmin - pad, ymin - pad, xmax + pad, ymax + pad))
        for piece, sub_label in zip(shapely.intersection(sub, cells[i]), slab[keep], strict=True):
            if not piece.is_empty:
                out_cells.append(piece)
                out_labels.append(str(sub_label))
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
