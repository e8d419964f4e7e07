"""Point-to-ward spatial index: a fixed-depth grid tree over the generation's polygons.

The hot path of the worker is "which ward contains (lon, lat)?". A shapely STRtree query costs
~20 µs per point; this index answers most points with a few integer operations:

* a root grid of square cells (``ROOT_DEG`` degrees, a power of two so cell arithmetic is exact);
* a cell that no ward boundary crosses is *pure*: it stores the ward that covers it (or "empty");
* a cell a boundary crosses is split 4 x 4, ``DEPTH`` times; a boundary-crossed cell at the last
  level is a *mixed leaf* that lists every ward covering any part of it, and only those are tested
  exactly (prepared shapely polygons, boundary inclusive). Candidates are tried in ward order
  (wards are sorted by code), which is the deterministic tie-break for points on a shared edge.

Which cells a boundary crosses is found by sampling every boundary at half a leaf and marking the
sample's leaf plus the neighbours it is within a quarter leaf of: every point of a boundary lies
within a quarter leaf of a sample, so no crossed leaf is missed (a few extra leaves are harmless:
they only cost an exact test). A ward covering part of a mixed leaf either has its boundary
crossing the leaf or covers all of it, so a mixed leaf lists the wards whose boundaries marked it
plus the wards containing its centre. Pure cells take the ward containing their centre.

Slot encoding (int32): ``v >= 0`` ward index, ``-1`` empty, ``v <= -2`` with ``c = -v - 2``:
``c`` even -> internal node ``c >> 1`` (16 child slots), ``c`` odd -> mixed leaf ``c >> 1``.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np
import shapely

from routers.progress import Progress

ROOT_DEG = 1.0 / 64.0  # ~1.7 km at Vietnam's latitudes
BRANCH = 4  # children per side when a cell is split
DEPTH = 2  # splits below the root: leaves are ROOT_DEG / 16, ~108 m
EMPTY = -1
_OFF_GRID = -2  # encodes internal node 0, which _descend never returns: free to mean "outside the grid"
# The builder's version, stored with the arrays. 1 (files without one) listed only the wards whose
# boundaries marked a leaf, missing the ward around a leaf marked by a neighbour's nearby boundary:
# compiled.read_compiled rebuilds such an index at load.
INDEX_VERSION = 2


@dataclass(frozen=True, slots=True)
class IndexArrays:
    """The compiled form of a :class:`PointIndex` (what the generation file stores)."""

    params: np.ndarray  # float64: x0, y0, root_deg, nx, ny, branch, depth
    slots: np.ndarray  # int32
    cand_off: np.ndarray  # int32, len = mixed leaves + 1
    cand: np.ndarray  # int32 ward indices
    version: int = INDEX_VERSION  # the builder that made them (see INDEX_VERSION)


def _encode_node(node: np.ndarray) -> np.ndarray:
    return (-(node.astype(np.int64) * 2) - 2).astype(np.int32)


def _encode_leaf(leaf: np.ndarray) -> np.ndarray:
    return (-(leaf.astype(np.int64) * 2 + 1) - 2).astype(np.int32)


def _boundary_samples(geoms: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along every ring, at most ``spacing`` apart, and the ward index of each."""
    rings = shapely.segmentize(shapely.boundary(geoms), spacing)
    counts = shapely.get_num_coordinates(rings)
    coords = shapely.get_coordinates(rings)
    owner = np.repeat(np.arange(len(geoms), dtype=np.int64), counts)
    return coords, owner


_WARD_CHUNK = 256
_POINT_CHUNK = 262_144


def _run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in a sorted array."""
    first = np.ones(len(sorted_values), dtype=bool)
    first[1:] = sorted_values[1:] != sorted_values[:-1]
    return first


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # np.unique is several times slower than sort + mask on large int64 arrays (numpy 2.x).
    ordered = np.sort(values)
    return ordered[_run_starts(ordered)]


def _crossed_leaf_keys(
    geoms: np.ndarray, first_ward: int, x0: float, y0: float, leaf_deg: float, nxl: int, nward: int
) -> np.ndarray:
    """Sorted unique keys ``leaf_id * nward + ward`` of the leaves each ward's boundary crosses."""
    coords, owner = _boundary_samples(geoms, leaf_deg / 2.0)
    owner += first_ward
    fx = (coords[:, 0] - x0) / leaf_deg
    fy = (coords[:, 1] - y0) / leaf_deg
    lx = np.floor(fx).astype(np.int64)
    ly = np.floor(fy).astype(np.int64)
    rx = fx - lx
    ry = fy - ly
    # A sample marks its leaf and the neighbours it is within a quarter leaf of (0.3: margin).
    dx = np.where(rx < 0.3, -1, np.where(rx > 0.7, 1, 0))
    dy = np.where(ry < 0.3, -1, np.where(ry > 0.7, 1, 0))
    side = dx != 0
    up = dy != 0
    corner = side & up
    ax = np.concatenate([lx, lx[side] + dx[side], lx[up], lx[corner] + dx[corner]])
    ay = np.concatenate([ly, ly[side], ly[up] + dy[up], ly[corner] + dy[corner]])
    ward = np.concatenate([owner, owner[side], owner[up], owner[corner]])
    return _sorted_unique((ay * nxl + ax) * nward + ward)


def _centre_wards(
    geoms: np.ndarray,
    first_ward: int,
    pairs: np.ndarray,
    mixed_leaf: np.ndarray,
    x0: float,
    y0: float,
    leaf_deg: float,
    nxl: int,
    nward: int,
) -> np.ndarray:
    """Keys ``leaf_id * nward + ward`` of the wards (``first_ward`` onwards, a chunk) that contain
    a mixed leaf's centre and are not in ``pairs`` (sorted keys); ``mixed_leaf`` holds the sorted
    leaf ids. The leaves whose centres a ward's bounding box can hold are found row by row in the
    sorted ids: cheaper than a tree query with a point per leaf (making the points dominates)."""
    bounds = shapely.bounds(geoms[first_ward : first_ward + _WARD_CHUNK])
    # Columns/rows whose centres can lie in the box; one more on each side costs one exact test.
    lx0 = np.floor((bounds[:, 0] - x0) / leaf_deg - 0.5).astype(np.int64)
    lx1 = np.ceil((bounds[:, 2] - x0) / leaf_deg - 0.5).astype(np.int64)
    ly0 = np.floor((bounds[:, 1] - y0) / leaf_deg - 0.5).astype(np.int64)
    ly1 = np.ceil((bounds[:, 3] - y0) / leaf_deg - 0.5).astype(np.int64)
    rows = ly1 - ly0 + 1
    ward = np.repeat(np.arange(len(bounds), dtype=np.int64), rows)
    row = ly0[ward] + np.arange(len(ward)) - np.repeat(np.cumsum(rows) - rows, rows)
    start = np.searchsorted(mixed_leaf, row * nxl + lx0[ward], side="left")
    counts = np.searchsorted(mixed_leaf, row * nxl + lx1[ward], side="right") - start
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    leaf = mixed_leaf[np.repeat(start, counts) + within]
    ward = np.repeat(ward, counts) + first_ward
    keys = leaf * nward + ward
    pos = np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)
    unlisted = pairs[pos] != keys
    leaf, ward, keys = leaf[unlisted], ward[unlisted], keys[unlisted]
    inside = shapely.intersects_xy(
        geoms[ward], x0 + (leaf % nxl + 0.5) * leaf_deg, y0 + (leaf // nxl + 0.5) * leaf_deg
    )
    return keys[inside]


def _label_points(tree: shapely.STRtree, geoms: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Ward index containing each point (lowest index wins), ``EMPTY`` where none does.

    The tree only filters by bounding box; the exact test runs on the prepared polygons
    (STRtree predicates would prepare the points instead, which is far slower).
    """
    labels = np.full(len(xs), EMPTY, dtype=np.int32)
    if len(xs) == 0:
        return labels
    point_idx, ward_idx = tree.query(shapely.points(xs, ys))
    hit = shapely.intersects_xy(geoms[ward_idx], xs[point_idx], ys[point_idx])
    point_idx, ward_idx = point_idx[hit], ward_idx[hit]
    if len(point_idx):
        # Lowest ward index first: the same tie-break as the exact test on shared edges.
        order = np.lexsort((ward_idx, point_idx))
        point_idx, ward_idx = point_idx[order], ward_idx[order]
        first = _run_starts(point_idx)
        labels[point_idx[first]] = ward_idx[first].astype(np.int32)
    return labels


def build_index(
    geoms: np.ndarray,
    tree: shapely.STRtree,
    *,
    root_deg: float = ROOT_DEG,
    depth: int = DEPTH,
    progress: Progress | None = None,
) -> IndexArrays:
    """Compile the grid tree for ``geoms`` (valid polygons, index order = tie-break order)."""
    step = progress or (lambda _label, _n: None)
    shapely.prepare(geoms)
    branch = BRANCH
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    x0 = math.floor(xmin / root_deg) * root_deg - root_deg
    y0 = math.floor(ymin / root_deg) * root_deg - root_deg
    nx = int(math.ceil((xmax - x0) / root_deg)) + 1
    ny = int(math.ceil((ymax - y0) / root_deg)) + 1
    fan = branch**depth  # leaves per root cell side
    leaf_deg = root_deg / fan
    nxl = nx * fan

    # 1. Leaves crossed by a boundary, with the wards whose boundary crosses them. Wards are
    #    processed in chunks to bound memory; keys of different wards never collide.
    nward = max(len(geoms), 1)
    chunks = []
    for lo in range(0, len(geoms), _WARD_CHUNK):
        chunks.append(_crossed_leaf_keys(geoms[lo : lo + _WARD_CHUNK], lo, x0, y0, leaf_deg, nxl, nward))
    step("marked boundary cells", 1)
    pairs = np.sort(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.int64)
    del chunks
    # A leaf is also marked by a boundary that passes within a quarter leaf without crossing it,
    # so it can lie wholly inside a ward whose own boundary stays away (1,486 such leaves in the
    # approximate nationwide generation before INDEX_VERSION 2). Any ward covering part of a leaf
    # either crosses it (listed above) or covers all of it, its centre included: adding the wards
    # around each mixed leaf's centre makes the list every ward that covers any part of the leaf.
    mixed_leaf = pairs[_run_starts(pairs // nward)] // nward
    extra = [
        _centre_wards(geoms, lo, pairs, mixed_leaf, x0, y0, leaf_deg, nxl, nward)
        for lo in range(0, len(geoms), _WARD_CHUNK)
    ]
    if extra:
        pairs = np.sort(np.concatenate([pairs, *extra]))
    step("completed boundary cells", 1)
    pair_leaf = pairs // nward
    pair_ward = (pairs % nward).astype(np.int32)
    first = _run_starts(pair_leaf)
    mixed_leaf = pair_leaf[first]
    cand_off = np.append(np.nonzero(first)[0], len(pair_leaf)).astype(np.int32)
    cand = pair_ward

    # 2. Coordinates of mixed cells at every level (level `depth` = leaves, 0 = roots).
    leaf_x = mixed_leaf % nxl
    leaf_y = mixed_leaf // nxl
    mixed_levels: list[tuple[np.ndarray, np.ndarray]] = [(leaf_x, leaf_y)]
    for level in range(depth - 1, -1, -1):
        n_side = nx * branch**level
        cx, cy = mixed_levels[0]
        ids = _sorted_unique((cy // branch) * n_side + (cx // branch))
        mixed_levels.insert(0, (ids % n_side, ids // n_side))

    # 3. Node ids: internal nodes are the mixed cells of levels 0 .. depth-1, in level order.
    node_base: list[int] = []
    total = 0
    for level in range(depth):
        node_base.append(total)
        total += len(mixed_levels[level][0])
    slots = np.empty(nx * ny + total * branch * branch, dtype=np.int32)

    def fill(children_x: np.ndarray, children_y: np.ndarray, level: int, offsets: np.ndarray) -> None:
        """Write the slots of the cells at ``level`` (``offsets`` = their slot positions)."""
        cell_deg = root_deg / branch**level
        n_side = nx * branch**level
        cell_id = children_y * n_side + children_x
        values = np.full(len(cell_id), EMPTY, dtype=np.int32)
        if level < depth:
            mx, my = mixed_levels[level]
            mixed_ids = my * n_side + mx
            pos = np.searchsorted(mixed_ids, cell_id)
            pos_c = np.minimum(pos, len(mixed_ids) - 1)
            is_mixed = (len(mixed_ids) > 0) & (mixed_ids[pos_c] == cell_id)
            values[is_mixed] = _encode_node(node_base[level] + pos_c[is_mixed])
        else:
            pos = np.searchsorted(mixed_leaf, cell_id)
            pos_c = np.minimum(pos, len(mixed_leaf) - 1)
            is_mixed = (len(mixed_leaf) > 0) & (mixed_leaf[pos_c] == cell_id)
            values[is_mixed] = _encode_leaf(pos_c[is_mixed])
        pure = np.nonzero(~is_mixed)[0]
        if level == 0:
            # Only root cells inside some ward's bounding box can be covered: skip the sea.
            pure = pure[covered_roots[children_y[pure], children_x[pure]]]
        labels = np.full(len(pure), EMPTY, dtype=np.int32)
        for lo in range(0, len(pure), _POINT_CHUNK):
            part = pure[lo : lo + _POINT_CHUNK]
            labels[lo : lo + _POINT_CHUNK] = _label_points(
                tree,
                geoms,
                x0 + (children_x[part] + 0.5) * cell_deg,
                y0 + (children_y[part] + 0.5) * cell_deg,
            )
        values[pure] = labels
        slots[offsets] = values

    covered_roots = np.zeros((ny, nx), dtype=bool)
    for bxmin, bymin, bxmax, bymax in shapely.bounds(geoms).tolist():
        covered_roots[
            int((bymin - y0) / root_deg) : int((bymax - y0) / root_deg) + 1,
            int((bxmin - x0) / root_deg) : int((bxmax - x0) / root_deg) + 1,
        ] = True

    root_x, root_y = np.meshgrid(np.arange(nx, dtype=np.int64), np.arange(ny, dtype=np.int64))
    fill(root_x.ravel(), root_y.ravel(), 0, np.arange(nx * ny, dtype=np.int64))
    step("labelled root cells", 1)
    sub = np.arange(branch * branch, dtype=np.int64)
    for level in range(1, depth + 1):
        px, py = mixed_levels[level - 1]
        parents = len(px)
        child_x = (np.repeat(px, branch * branch) * branch) + np.tile(sub % branch, parents)
        child_y = (np.repeat(py, branch * branch) * branch) + np.tile(sub // branch, parents)
        node = node_base[level - 1] + np.repeat(np.arange(parents, dtype=np.int64), branch * branch)
        offsets = nx * ny + node * branch * branch + np.tile(sub, parents)
        fill(child_x, child_y, level, offsets)
        step(f"labelled level {level} cells", 1)

    params = np.array([x0, y0, root_deg, nx, ny, branch, depth], dtype=np.float64)
    return IndexArrays(
        params=params, slots=slots, cand_off=cand_off, cand=cand.astype(np.int32), version=INDEX_VERSION
    )


class PointIndex:
    """Answers ``ward_at(lon, lat)`` -> ward index or ``EMPTY``, exactly (see module docstring)."""

    __slots__ = (
        "_x0",
        "_y0",
        "_inv",
        "_nx",
        "_ny",
        "_nroot",
        "_slots",
        "_off",
        "_cand",
        "_geoms",
        "_geom_array",
        "_test",
        "_depth",
        "_leaf_inv",
        "_leaf_nx",
        "_leaf_ny",
    )

    def __init__(self, arrays: IndexArrays, geoms: np.ndarray) -> None:
        x0, y0, root_deg, nx, ny, branch, depth = arrays.params.tolist()
        if int(branch) != BRANCH:
            raise ValueError(f"index built with branch {branch}, this code reads {BRANCH}")
        if arrays.version != INDEX_VERSION:  # an older builder's leaves can miss a covering ward
            raise ValueError(f"index built by builder {arrays.version}, this code needs {INDEX_VERSION}")
        self._x0 = x0
        self._y0 = y0
        self._inv = 1.0 / root_deg
        self._nx = int(nx)
        self._ny = int(ny)
        self._nroot = int(nx) * int(ny)
        # array.array indexing returns plain ints, several times faster than numpy scalars.
        self._slots = array("i", arrays.slots.astype(np.int32).tobytes())
        self._off = array("i", arrays.cand_off.astype(np.int32).tobytes())
        self._cand = array("i", arrays.cand.astype(np.int32).tobytes())
        self._geoms = list(geoms)
        self._geom_array = geoms
        shapely.prepare(geoms)
        self._test = shapely.lib.intersects_xy  # the ufunc itself: skips the Python wrapper
        self._depth = int(depth)
        fan = BRANCH ** self._depth
        self._leaf_inv = self._inv * fan
        self._leaf_nx = self._nx * fan
        self._leaf_ny = self._ny * fan

    def ward_at(self, lon: float, lat: float) -> int:
        """Index of the ward covering the point (boundary inclusive), or ``EMPTY``."""
        v, _fx, _fy, _scale = self._descend(lon, lat)
        if v >= EMPTY:
            return v
        if v == _OFF_GRID:
            return EMPTY
        return self._exact((-v - 2) >> 1, lon, lat)

    def ward_around(self, lon: float, lat: float, pad: float) -> tuple[int, bool]:
        """:meth:`ward_at` and whether :meth:`pure_ward_around` would answer, in one descent:
        ``(ward or EMPTY, True)`` when the square ``lon +- pad, lat +- pad`` lies in the point's
        cell and no boundary crosses that cell, ``(ward or EMPTY, False)`` otherwise."""
        v, fx, fy, scale = self._descend(lon, lat)
        if v >= EMPTY:
            return v, self._square_fits(fx, fy, scale, pad)
        if v == _OFF_GRID:
            return EMPTY, False
        return self._exact((-v - 2) >> 1, lon, lat), False

    def pure_ward_around(self, lon: float, lat: float, pad: float) -> int | None:
        """The ward (or ``EMPTY``) of a cell no boundary crosses that holds the whole square
        ``lon +- pad, lat +- pad``; None when the square reaches into a boundary-crossed cell or
        off the grid. Then no other ward is within ``pad`` of the point, without any geometry."""
        v, fx, fy, scale = self._descend(lon, lat)
        if v < EMPTY:
            return None  # a mixed leaf (a boundary runs through it) or off the grid
        return v if self._square_fits(fx, fy, scale, pad) else None

    def _square_fits(self, fx: float, fy: float, scale: float, pad: float) -> bool:
        """Whether the square of half-side ``pad`` around a point at ``fx, fy`` (0..1 in its cell,
        as :meth:`_descend` gives them) lies inside that cell."""
        p = pad * self._inv * scale  # the pad in units of the cell's side
        return p <= fx <= 1.0 - p and p <= fy <= 1.0 - p

    def wards_near(self, lon: float, lat: float, pad: float, max_span: int = 3) -> set[int] | None:
        """Every ward that covers some part of the square ``lon +- pad, lat +- pad`` (and possibly a
        few more that merely come close): the wards of the pure cells and of the mixed leaves the
        square reaches. None when the square spans more than ``max_span`` leaves on a side or leaves
        the grid (then a tree query is cheaper than walking the cells).

        A ward covering part of a cell is listed for it: the label of a pure cell (wards do not
        overlap), one of a mixed leaf's candidates (see :func:`build_index`)."""
        k = self._leaf_inv
        fx0 = (lon - pad - self._x0) * k
        fy0 = (lat - pad - self._y0) * k
        fx1 = (lon + pad - self._x0) * k
        fy1 = (lat + pad - self._y0) * k
        if not (fx0 >= 0.0 and fy0 >= 0.0 and fx1 < self._leaf_nx and fy1 < self._leaf_ny):
            return None
        lx0 = int(fx0)
        ly0 = int(fy0)
        lx1 = int(fx1)
        ly1 = int(fy1)
        if lx1 - lx0 >= max_span or ly1 - ly0 >= max_span:
            return None
        slots = self._slots
        off = self._off
        cand = self._cand
        nx = self._nx
        nroot = self._nroot
        top = 2 * self._depth  # BRANCH == 4: two bits of a leaf coordinate per level
        found: set[int] = set()
        for ly in range(ly0, ly1 + 1):
            for lx in range(lx0, lx1 + 1):
                v = slots[(ly >> top) * nx + (lx >> top)]
                shift = top
                while v < EMPTY and not (-v - 2) & 1:
                    shift -= 2
                    v = slots[nroot + ((-v - 2) >> 1) * 16 + ((ly >> shift) & 3) * 4 + ((lx >> shift) & 3)]
                if v >= 0:
                    found.add(v)
                elif v < EMPTY:
                    leaf = (-v - 2) >> 1
                    found.update(cand[off[leaf] : off[leaf + 1]])
        return found

    def _descend(self, lon: float, lat: float) -> tuple[int, float, float, float]:
        """``(slot, fx, fy, scale)`` of the cell the point falls in where the tree stops: a pure slot
        (a ward or ``EMPTY``) or a mixed leaf (``v <= -2``, odd code), the point's position in that
        cell (0..1 on each side) and how many such cells fit in a root cell's side; ``_OFF_GRID``
        as the slot when the point is outside the grid."""
        fx = (lon - self._x0) * self._inv
        fy = (lat - self._y0) * self._inv
        if not (0.0 <= fx < self._nx and 0.0 <= fy < self._ny):
            return _OFF_GRID, 0.0, 0.0, 1.0
        ix = int(fx)
        iy = int(fy)
        v = self._slots[iy * self._nx + ix]
        fx -= ix
        fy -= iy
        scale = 1.0
        slots = self._slots
        while v < EMPTY and not (-v - 2) & 1:
            fx *= 4.0
            fy *= 4.0
            scale *= 4.0
            cx = int(fx)
            cy = int(fy)
            fx -= cx
            fy -= cy
            v = slots[self._nroot + ((-v - 2) >> 1) * 16 + cy * 4 + cx]
        return v, fx, fy, scale

    def _exact(self, leaf: int, lon: float, lat: float) -> int:
        cand = self._cand
        geoms = self._geoms
        test = self._test
        for k in range(self._off[leaf], self._off[leaf + 1]):
            w = cand[k]
            if test(geoms[w], lon, lat):
                return w
        return EMPTY

    def wards_at(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`ward_at` for batches (the simulator, ``ioc locate --input``)."""
        lons = np.asarray(lons, dtype=np.float64)
        lats = np.asarray(lats, dtype=np.float64)
        out = np.full(len(lons), EMPTY, dtype=np.int32)
        slots = np.frombuffer(self._slots, dtype=np.int32)
        fx = (lons - self._x0) * self._inv
        fy = (lats - self._y0) * self._inv
        ok = (fx >= 0) & (fx < self._nx) & (fy >= 0) & (fy < self._ny)
        idx = np.nonzero(ok)[0]
        ix = fx[idx].astype(np.int64)
        iy = fy[idx].astype(np.int64)
        fx = fx[idx] - ix
        fy = fy[idx] - iy
        v = slots[iy * self._nx + ix]
        while len(idx):
            done = v >= EMPTY
            out[idx[done]] = v[done]
            c = -v.astype(np.int64) - 2
            leaf = ~done & ((c & 1) == 1)
            if leaf.any():
                out[idx[leaf]] = self._exact_many(idx[leaf], c[leaf] >> 1, lons, lats)
            go = ~done & ~leaf
            idx, c, fx, fy = idx[go], c[go], fx[go] * 4.0, fy[go] * 4.0
            cx = fx.astype(np.int64)
            cy = fy.astype(np.int64)
            fx -= cx
            fy -= cy
            v = slots[self._nroot + (c >> 1) * 16 + cy * 4 + cx]
        return out

    def _exact_many(
        self, points: np.ndarray, leaves: np.ndarray, lons: np.ndarray, lats: np.ndarray
    ) -> np.ndarray:
        """Exact tests for many (point, mixed leaf) pairs at once; first candidate wins."""
        off = np.frombuffer(self._off, dtype=np.int32)
        cand = np.frombuffer(self._cand, dtype=np.int32)
        starts = off[leaves].astype(np.int64)
        counts = off[leaves + 1].astype(np.int64) - starts
        owner = np.repeat(np.arange(len(points)), counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        wards = cand[np.repeat(starts, counts) + within]
        hit = shapely.intersects_xy(self._geom_array[wards], lons[points][owner], lats[points][owner])
        result = np.full(len(points), EMPTY, dtype=np.int32)
        # Pairs run point by point in candidate (ward) order: keep each point's first hit.
        hit_owner = owner[hit]
        first = np.ones(len(hit_owner), dtype=bool)
        first[1:] = hit_owner[1:] != hit_owner[:-1]
        result[hit_owner[first]] = wards[hit][first]
        return result

    @property
    def memory_bytes(self) -> int:
        return (len(self._slots) + len(self._off) + len(self._cand)) * 4
