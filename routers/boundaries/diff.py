"""What changed between two generations (wards added, removed, renamed, area moved), and how well
one reproduces another (``agreement``, on uniform or ``population_points``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from routers.boundaries.generation import Generation
from routers.boundaries.names import same_name

_M_PER_DEG = 111_320.0
MIN_MOVED_KM2 = 0.001  # 1,000 m2: below this a changed outline is digitising noise


def _km2(geom: shapely.Geometry) -> float:
    if geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    return float(geom.area) * _M_PER_DEG * _M_PER_DEG * math.cos(math.radians(lat)) / 1e6


@dataclass
class GenerationDiff:
    a: str
    b: str
    added: list[dict[str, object]] = field(default_factory=list)
    removed: list[dict[str, object]] = field(default_factory=list)
    renamed: list[dict[str, object]] = field(default_factory=list)
    moved: list[dict[str, object]] = field(default_factory=list)  # same code, different outline
    unchanged: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "added": self.added,
            "removed": self.removed,
            "renamed": self.renamed,
            "moved": self.moved,
            "unchanged": self.unchanged,
        }


def diff_generations(a: Generation, b: Generation) -> GenerationDiff:
    """Compare by ward code; ``moved`` lists the area that left (``lost``) and joined (``gained``)."""
    result = GenerationDiff(a.id, b.id)
    codes_a = {w.code for w in a.wards}
    codes_b = {w.code for w in b.wards}
    for code in sorted(codes_b - codes_a):
        w = b.ward(code)
        result.added.append({"code": code, "name": w.name, "area_km2": round(_km2(b.geometry(code)), 3)})
    for code in sorted(codes_a - codes_b):
        w = a.ward(code)
        result.removed.append({"code": code, "name": w.name, "area_km2": round(_km2(a.geometry(code)), 3)})
    for code in sorted(codes_a & codes_b):
        wa, wb = a.ward(code), b.ward(code)
        if not same_name(wa.name, wb.name):  # "Hoà"/"Hòa" is one name
            result.renamed.append({"code": code, "from": wa.name, "to": wb.name})
        ga, gb = a.geometry(code), b.geometry(code)
        if shapely.equals_exact(ga, gb, 0.0) if ga.geom_type == gb.geom_type else False:
            result.unchanged += 1
            continue
        lost = _km2(shapely.difference(ga, gb))
        gained = _km2(shapely.difference(gb, ga))
        if lost + gained < MIN_MOVED_KM2:
            result.unchanged += 1
            continue
        result.moved.append(
            {"code": code, "name": wb.name, "lost_km2": round(lost, 3), "gained_km2": round(gained, 3)}
        )
    result.moved.sort(key=lambda m: -(float(str(m["lost_km2"])) + float(str(m["gained_km2"]))))
    return result


def agreement(approx: Generation, official: Generation, xs: np.ndarray, ys: np.ndarray) -> float:
    """Share of the points (lon ``xs``, lat ``ys``) inside an ``official`` ward that ``approx`` puts in
    the ward with the same code: how well one generation reproduces another where it matters."""
    truth = official.index.wards_at(xs, ys)
    got = approx.index.wards_at(xs, ys)
    inside = truth >= 0
    official_codes = np.array([official.wards[i].code for i in truth[inside]])
    approx_codes = np.array([approx.wards[i].code if i >= 0 else "" for i in got[inside]])
    return float((official_codes == approx_codes).mean())


def population_points(
    geoms: Sequence[shapely.Geometry] | np.ndarray, populations: Sequence[float], count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` points where people live: a ward drawn with probability proportional to its
    population, then a point uniform inside that ward's polygon. Returns lon, lat and the index of
    the ward each point was drawn in (the truth a lookup is checked against)."""
    weights = np.asarray(populations, dtype=float)
    picks = rng.choice(len(weights), size=count, p=weights / weights.sum())
    xs = np.empty(count)
    ys = np.empty(count)
    for ward in np.unique(picks):
        slots = np.nonzero(picks == ward)[0]
        geom = geoms[ward]
        shapely.prepare(geom)
        xmin, ymin, xmax, ymax = geom.bounds
        got_x: list[np.ndarray] = []
        got_y: list[np.ndarray] = []
        got = 0
        while got < len(slots):
            x = rng.uniform(xmin, xmax, max(4 * len(slots), 64))
            y = rng.uniform(ymin, ymax, len(x))
            inside = shapely.contains_xy(geom, x, y)
            got_x.append(x[inside])
            got_y.append(y[inside])
            got += int(inside.sum())
        xs[slots] = np.concatenate(got_x)[: len(slots)]
        ys[slots] = np.concatenate(got_y)[: len(slots)]
    return xs, ys, picks
