"""Approximate polygons for all 3,321 post-merger wards, derived from ``vietnamadminunits``.

No polygon file is needed: a fresh machine can route from the first minute. The result is
labelled ``approximate`` everywhere it is used. How the polygons are made:

1. Sites: every pre-merger ward centroid, labelled with the new ward it went into, plus every
   post-merger ward centroid labelled with itself. An old centroid that is only its district's
   (the package's geocoder fell back to the district, see ``legacy_geocodes``) is left out.
2. Voronoi cells of the sites (in a lon/lat plane scaled by cos 16 deg so cells are not
   stretched east-west at Vietnam's latitudes), then fitted to the geocoded bounding boxes the
   package gives for old wards (a ward lies within its box): a point inside some boxes goes to
   the nearest site whose box contains it, a point in no box stays with its Voronoi site. A new
   ward's own centroid gets a small square around itself (CENTROID_BOX_FRACTION).
3. A pre-merger ward that was split between several new wards: its cell is divided again,
   among the receiving wards only, by the Voronoi cells of those wards' other sites (their
   unsplit predecessors and their own centroids). Which receiver holds the old centroid's own
   neighbourhood is scored from what the package tells about each receiver (RECEIVER_FEATURES:
   its size and distance, its share of that division, its sites inside the old ward's geocoded
   box, whether it is the package's "default", kept the old name or code) with weights
   calibrated on real polygons of other provinces (RECEIVER_WEIGHTS). When the winner is not the
   receiver the division puts there, the old centroid becomes one more site, labelled with the
   winner. A disk around the old centroid (0.4 times the radius of a circle of the old ward's
   bounding-box area) goes whole to the winner.
4. Cells are dissolved per new ward and clipped to disks around the ward's sites (radius twice
   the radius of a circle of the ward's area, at least 1.5 km), so the open sea and the
   neighbouring countries stay outside every ward.

Measured against the real polygons in ``../shared/boundaries``: see ``make bench``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator

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
CENTROID_BOX_FRACTION = 0.5  # 1.0 measured: a little more agreement, five times as many fragmented wards
# Recorded as the generation's origin; BoundaryRegistry.ensure_default rebuilds a default built
# by an earlier version of this module (bump the suffix whenever the polygons change).
ORIGIN = "vietnamadminunits/approximate-v4"

Progress = Callable[[str, int], None]
Sites = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # lon, lat, label, box of every site
_NO_BOX = (math.nan, math.nan, math.nan, math.nan)


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


def _sites(data: AdminData) -> Sites:
    """Site coordinates and labels (a new ward code, or ``split:<old key>`` for split wards), and
    each site's box (lon_min, lat_min, lon_max, lat_max): an old ward's geocoded bounding box (NaN
    when unknown); around a new ward's own centroid, a square of half-side CENTROID_BOX_FRACTION
    times the radius of a circle of the ward's area (the centroid is a point known to be in the
    ward, not its extent: the envelope of its predecessors' boxes scattered wards into fragments)."""
    xs: list[float] = []
    ys: list[float] = []
    labels: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    fallback = district_fallback_keys()
    for old in data.old_units:
        if old.key in fallback:
            continue
        xs.append(old.lon)
        ys.append(old.lat)
        labels.append(old.new_codes[0] if len(old.new_codes) == 1 else f"split:{old.key}")
        boxes.append(old.bounds or _NO_BOX)
    for new in data.new_units:
        xs.append(new.lon)
        ys.append(new.lat)
        labels.append(new.code)
        area = new.area_km2 if new.area_km2 and new.area_km2 > 0 else 10.0
        half = CENTROID_BOX_FRACTION * math.sqrt(area / math.pi) / _KM_PER_DEG
        boxes.append((new.lon - half / _SCALE_X, new.lat - half, new.lon + half / _SCALE_X, new.lat + half))
    x, y, lab = np.array(xs), np.array(ys), np.array(labels, dtype=object)
    keep = _dedupe(x, y)
    return x[keep], y[keep], lab[keep], np.array(boxes, dtype=float)[keep]


def _boxed_cells(xs: np.ndarray, ys: np.ndarray, boxes: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The Voronoi ``cells`` corrected by the sites' boxes: a point inside some site's box goes to
    the nearest site whose box contains it (a ward lies within its geocoded bounding box), a point
    in no box stays with its Voronoi site. Worked in the scaled plane, where distances are even."""
    ids = np.flatnonzero(~np.isnan(boxes).any(axis=1))
    if not len(ids):
        return cells
    b = boxes[ids] * np.array([_SCALE_X, 1.0, _SCALE_X, 1.0])
    px, py = xs[ids] * _SCALE_X, ys[ids]
    rects = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    left, right = shapely.STRtree(rects).query(rects, predicate="intersects")
    pair = left != right
    i, j = left[pair], right[pair]
    # Where the boxes of sites i and j overlap, site i loses the part nearer to site j: the whole
    # overlap when all its corners are nearer to j, nothing when none is, else the overlap clipped
    # by the half-plane beyond their bisector (a square reaching past the overlap).
    ox0, oy0 = np.maximum(b[i, 0], b[j, 0]), np.maximum(b[i, 1], b[j, 1])
    ox1, oy1 = np.minimum(b[i, 2], b[j, 2]), np.minimum(b[i, 3], b[j, 3])
    mx, my = (px[i] + px[j]) / 2, (py[i] + py[j]) / 2
    nx, ny = px[j] - px[i], py[j] - py[i]
    side = np.stack([(cx - mx) * nx + (cy - my) * ny for cx in (ox0, ox1) for cy in (oy0, oy1)])
    whole = (side >= 0).all(axis=0)
    partly = ~whole & (side > 0).any(axis=0)
    lost = np.full(len(i), None, dtype=object)
    lost[whole] = shapely.box(ox0[whole], oy0[whole], ox1[whole], oy1[whole])
    k = np.flatnonzero(partly)
    unit = np.hypot(nx[k], ny[k])  # sites are distinct (deduplicated), so unit > 0
    ux, uy = nx[k] / unit, ny[k] / unit
    reach = 2.0 * np.hypot(ox1[k] - ox0[k], oy1[k] - oy0[k]) + 1e-6
    ax, ay = mx[k], my[k]
    beyond = shapely.polygons(
        np.stack(
            [
                np.c_[ax - uy * reach, ay + ux * reach],
                np.c_[ax - uy * reach + ux * reach, ay + ux * reach + uy * reach],
                np.c_[ax + uy * reach + ux * reach, ay - ux * reach + uy * reach],
                np.c_[ax + uy * reach, ay - ux * reach],
            ],
            axis=1,
        )
    )
    lost[k] = shapely.intersection(shapely.box(ox0[k], oy0[k], ox1[k], oy1[k]), beyond)
    has = ~shapely.is_missing(lost)
    i, lost = i[has], lost[has]  # still sorted by i (STRtree.query groups by input), as required here
    lost_union = shapely.lib.unary_union(
        shapely.geometrycollections(lost, indices=i, out=np.full(len(ids), None))
    )
    lost_union = np.where(shapely.is_missing(lost_union), shapely.Polygon(), lost_union)
    kept = shapely.difference(rects, lost_union)
    scaled = shapely.transform(cells, lambda c: c * np.array([_SCALE_X, 1.0]))
    covered = shapely.union_all(rects)
    shapely.prepare(covered)
    inside = shapely.contains_properly(covered, scaled)  # most cells: nothing left outside the boxes
    out = np.full(len(scaled), shapely.Polygon(), dtype=object)
    out[~inside] = shapely.difference(scaled[~inside], covered)
    out[ids] = shapely.union(out[ids], kept)
    return np.asarray(shapely.transform(out, lambda c: c * np.array([1.0 / _SCALE_X, 1.0])))


def _divide(
    data: AdminData,
    old: OldUnit,
    cell: shapely.Geometry,
    sites: Sites,
    at_centroid: str | None = None,
) -> list[tuple[shapely.Geometry, str]]:
    """Pieces of a split old ward's ``cell``, by the Voronoi cells of its receivers' other sites
    (plus the old centroid itself, labelled ``at_centroid``, when given)."""
    xs, ys, labels, _boxes = sites
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


_UNIT_PREFIX = re.compile(r"^(phuong|xa|thi tran|dac khu)\s+")


def _short_name(name: str) -> str:
    return _UNIT_PREFIX.sub("", unidecode(name).lower().strip())


def _namesake(data: AdminData, old: OldUnit) -> str | None:
    """The receiver that carries the old ward's name (Phường Cửa Nam -> new Phường Cửa Nam), if one
    does: the name usually follows the old ward's core."""
    same = [c for c in old.new_codes if _short_name(data.new_by_code[c].name) == _short_name(old.name)]
    return same[0] if len(same) == 1 else None


# What is known about each receiver of a split old ward, as numbers (see receiver_features).
RECEIVER_FEATURES = (
    "is_default",  # the package marks it as the old ward's main receiver
    "is_namesake",  # it carries the old ward's name
    "keeps_code",  # it kept the old ward's code (a new ward keeps its main predecessor's code)
    "log_distance_for_size",  # log of (distance from the old centroid to its centroid / sqrt of its area)
    "division_share",  # share of the old ward's cell the division among receivers' sites gives it
    "log_site_distance",  # log of (distance from the old centroid to its nearest site / old ward's size)
    "sites_inside",  # how many of its sites lie in the old ward's geocoded bounding box
    "log_area_ratio",  # log of (its area / the old ward's estimated area)
)
# Weights of a conditional logit over the receivers, fitted by ``python -m benchmarks.calibrate_receivers``
# on the split wards of the 31 provinces other than Hanoi, HCMC and Da Nang (simplified nationwide
# polygons), so the three cities the agreement benchmark measures are held out. Larger, nearer
# receivers whose sites lie inside the old ward, and the ones that kept its name or code, win.
RECEIVER_WEIGHTS = (0.229, 1.403, 1.282, -0.936, 0.887, -0.341, 0.385, 0.557)
_BOX_AREA_SHARE = 0.5  # a ward covers about half of its geocoded bounding box (median 0.51 in Hanoi)


def receiver_features(
    data: AdminData, old: OldUnit, pieces: list[tuple[shapely.Geometry, str]], sites: Sites
) -> dict[str, tuple[float, ...]]:
    """For each receiver of the split ``old`` ward, the RECEIVER_FEATURES values; ``pieces`` is the
    division of its cell among the receivers' other sites, ``sites`` all sites and their labels."""
    xs, ys, labels, _boxes = sites
    namesake = _namesake(data, old)
    total = sum(piece.area for piece, _label in pieces) or 1.0
    if old.bounds is not None:
        lon0, lat0, lon1, lat1 = old.bounds
        box_deg2 = (lon1 - lon0) * _SCALE_X * (lat1 - lat0)
    else:
        lon0 = lat0 = lon1 = lat1 = math.nan
        box_deg2 = 1e-4
    size_deg = math.sqrt(box_deg2) if box_deg2 > 0 else 1e-2
    old_km2 = max(_BOX_AREA_SHARE * box_deg2 * _KM_PER_DEG**2, 1e-3)
    features: dict[str, tuple[float, ...]] = {}
    for code in old.new_codes:
        new = data.new_by_code[code]
        area = new.area_km2 if new.area_km2 and new.area_km2 > 0 else 10.0
        distance_km = math.hypot((new.lon - old.lon) * _SCALE_X, new.lat - old.lat) * _KM_PER_DEG
        mine = labels == code
        sx, sy = np.r_[xs[mine], new.lon], np.r_[ys[mine], new.lat]
        site_deg = float(np.hypot((sx - old.lon) * _SCALE_X, sy - old.lat).min())
        inside = int(((sx >= lon0) & (sx <= lon1) & (sy >= lat0) & (sy <= lat1)).sum())
        features[code] = (
            float(code == old.default_code),
            float(code == namesake),
            float(code == old.code),
            math.log((distance_km + 0.05) / math.sqrt(area)),
            sum(piece.area for piece, label in pieces if label == code) / total,
            math.log(site_deg / size_deg + 0.01),
            float(inside),
            math.log(area / old_km2),
        )
    return features


def _centroid_receiver(
    data: AdminData, old: OldUnit, pieces: list[tuple[shapely.Geometry, str]], sites: Sites
) -> str:
    """The receiver most likely to hold the old centroid: the best RECEIVER_WEIGHTS score. Each signal
    alone is right for 60-82 % of split wards nationwide; together for ~86 % (docs/boundaries.md)."""
    features = receiver_features(data, old, pieces, sites)

    def score(code: str) -> float:
        return sum(w * f for w, f in zip(RECEIVER_WEIGHTS, features[code], strict=True))

    return max(old.new_codes, key=lambda code: (score(code), code == old.default_code))


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


def _split_cells(
    data: AdminData, sites: Sites, cells: np.ndarray
) -> Iterator[tuple[int, OldUnit, list[tuple[shapely.Geometry, str]]]]:
    """Each split old ward (site index, unit) and the division of its cell among the receivers'
    other sites."""
    for i, label in enumerate(sites[2]):
        if label.startswith("split:"):
            old = data.old_by_key[label[6:]]
            yield i, old, _divide(data, old, cells[i], sites)


def _divide_split_cells(
    data: AdminData, sites: Sites, cells: np.ndarray, shapes: np.ndarray
) -> tuple[list[shapely.Geometry], list[str]]:
    """Every site's shape, with each split old ward's shape divided among its receivers. The
    receiver holding the old centroid is chosen on the plain Voronoi ``cells`` (what the weights
    were calibrated on); the division itself is made on the box-corrected ``shapes``."""
    labels = sites[2]
    out_cells = [shape for shape, label in zip(shapes, labels, strict=True) if not label.startswith("split:")]
    out_labels = [str(label) for label in labels if not label.startswith("split:")]
    for i, old, voronoi_pieces in _split_cells(data, sites, cells):
        at = shapely.Point(old.lon, old.lat)
        winner = _centroid_receiver(data, old, voronoi_pieces, sites)
        pieces = _divide(data, old, shapes[i], sites)
        if not any(piece_label == winner and piece.covers(at) for piece, piece_label in pieces):
            pieces = _divide(data, old, shapes[i], sites, at_centroid=winner)
        core = _core(old, shapes[i])
        pieces = [(shapely.difference(piece, core), piece_label) for piece, piece_label in pieces]
        pieces.append((core, winner))
        for piece, piece_label in pieces:
            if not piece.is_empty:
                out_cells.append(piece)
                out_labels.append(piece_label)
    return out_cells, out_labels


def _sites_and_cells(data: AdminData) -> tuple[Sites, np.ndarray]:
    sites = _sites(data)
    xs, ys = sites[0], sites[1]
    return sites, _voronoi(xs, ys, (xs.min() - 2, ys.min() - 2, xs.max() + 2, ys.max() + 2))


def split_ward_features() -> list[tuple[OldUnit, dict[str, tuple[float, ...]]]]:
    """Every split old ward with its receivers' RECEIVER_FEATURES, as the builder sees them (for
    calibrating RECEIVER_WEIGHTS against real polygons)."""
    data = admin_data()
    sites, cells = _sites_and_cells(data)
    return [
        (old, receiver_features(data, old, pieces, sites))
        for _i, old, pieces in _split_cells(data, sites, cells)
    ]


def build_approximate(progress: Progress | None = None) -> WardSet:
    """Approximate polygons for every post-merger ward (sorted by code)."""
    step = progress or (lambda _label, _n: None)
    data = admin_data()
    sites, cells = _sites_and_cells(data)
    xs, ys, labels, boxes = sites
    step("voronoi cells", 1)
    shapes = _boxed_cells(xs, ys, boxes, cells)
    step("cells fitted to the geocoded boxes", 1)
    pieces, piece_labels = _divide_split_cells(data, sites, cells, shapes)
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
