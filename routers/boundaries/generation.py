"""A loaded boundary generation: wards, their polygons and the point index, ready to serve.

>>> gen = BoundaryRegistry(data_dir).load_active()          # doctest: +SKIP
>>> gen.ward_of(10.7769, 106.7009).name                      # doctest: +SKIP
'Phường Sài Gòn'
"""

from __future__ import annotations

import gzip
import math
import os
import random
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import orjson
import shapely
from geopy.distance import geodesic

from routers.boundaries.index import EMPTY, IndexArrays, PointIndex
from routers.boundaries.model import BoundarySource, GenerationMeta, Ward
from routers.exceptions import BoundaryError

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0

_MIN_METRES_PER_DEGREE = 100_000.0  # lower bound of metres per degree of lat or lon up to 24 deg N

# The ufuncs themselves (the Python wrappers cost more than the geometry of a small ward), and one
# geopy geodesic whose measure() gives the kilometres that geodesic(a, b) sums (WGS-84 in km).
_intersects_xy = shapely.lib.intersects_xy
_distance = shapely.lib.distance
_shortest_line = shapely.lib.shortest_line
_GEODESIC = geodesic()


def map_cache_name(generation_id: str, province_code: str | None, simplify_m: float) -> str:
    """File name of a simplified map layer kept on disk (see ``Generation.map_cache_dirs``)."""
    return f"{generation_id}.map-{province_code or 'all'}-{simplify_m:g}m.json.gz"


def degrees_for(metres: float, lat: float) -> float:
    """A radius in degrees that is at least ``metres`` in every direction at latitude ``lat``."""
    cos_lat = max(math.cos(math.radians(lat)), 0.01)
    return metres / min(_M_PER_DEG_LAT, _M_PER_DEG_LON_EQUATOR * cos_lat) * 1.01


class Generation:
    """Wards of one boundary generation with a spatial index built once at load."""

    def __init__(self, meta: GenerationMeta, wards: Sequence[Ward], geoms: np.ndarray, index: IndexArrays):
        if len(wards) != len(geoms):
            raise BoundaryError(f"generation {meta.id}: {len(wards)} wards but {len(geoms)} polygons")
        self.meta = meta
        self.wards: tuple[Ward, ...] = tuple(wards)
        self.geoms = geoms
        self.index = PointIndex(index, geoms)
        self._geom_list: list[shapely.Geometry] = list(geoms)
        self._by_code = {w.code: i for i, w in enumerate(self.wards)}
        self._geojson_cache: dict[tuple[str | None, float], dict[str, object]] = {}
        # Folders where simplified map layers of this generation are kept between processes
        # (the registry sets them): simplifying the whole country takes seconds.
        self.map_cache_dirs: list[Path] = []

    # -- metadata -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def valid_from(self) -> datetime:
        return self.meta.valid_from

    @property
    def valid_to(self) -> datetime | None:
        return self.meta.valid_to

    @property
    def source(self) -> BoundarySource:
        return self.meta.source

    @property
    def checksum(self) -> str:
        return self.meta.checksum

    def __repr__(self) -> str:
        return f"<Generation {self.id} {self.source} {len(self.wards)} wards from {self.valid_from.date()}>"

    # -- wards ------------------------------------------------------------------------------
    def ward(self, code: str) -> Ward:
        try:
            return self.wards[self._by_code[code]]
        except KeyError:
            raise BoundaryError(f"ward {code!r} is not in generation {self.id}") from None

    def has_ward(self, code: str) -> bool:
        return code in self._by_code

    def ward_index(self, code: str) -> int:
        return self._by_code[code]

    def geometry(self, code: str) -> shapely.Geometry:
        return self.geoms[self._by_code[code]]

    def wards_in_province(self, province_code: str) -> list[Ward]:
        return [w for w in self.wards if w.province_code == province_code]

    def ward_of(self, lat: float, lon: float) -> Ward | None:
        """The ward covering the point (exact, shared edges go to the lower code), or None."""
        i = self.index.ward_at(lon, lat)
        return None if i == EMPTY else self.wards[i]

    # -- geometry queries (wards_within is on the hot path for reports with an accuracy) --------
    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geoms)

    def wards_within(self, lat: float, lon: float, radius_m: float) -> list[tuple[int, float]]:
        """(ward index, geodesic distance in metres) of every ward within ``radius_m``, nearest first.

        The nearest point of each polygon is found in lon/lat and measured with geopy's geodesic;
        at these distances (metres to a few km) the error of picking it in degrees is negligible.
        """
        if radius_m < 0 or not math.isfinite(radius_m):
            return []
        pad = degrees_for(radius_m, lat)
        pure = self.index.pure_ward_around(lon, lat, pad)
        if pure is not None:  # the circle lies in one cell no boundary crosses: most points
            return [] if pure == EMPTY else [(pure, 0.0)]
        return self.wards_within_square(lat, lon, radius_m, pad)

    def wards_within_square(
        self, lat: float, lon: float, radius_m: float, pad: float, exclude: int = EMPTY
    ) -> list[tuple[int, float]]:
        """:meth:`wards_within` without the one-cell shortcut, for a caller that already knows it
        fails; ``pad`` is ``degrees_for(radius_m, lat)`` and ``exclude`` a ward left out."""
        # The wards of the index cells the square reaches hold every ward of the tree query below
        # that can qualify: one further than ``pad`` (in degrees) is further than the radius.
        near = self.index.wards_near(lon, lat, pad)
        if near is None:  # a wide radius or the edge of the grid
            near = self.tree.query(shapely.box(lon - pad, lat - pad, lon + pad, lat + pad)).tolist()
        found: list[tuple[int, float]] = []
        geoms = self._geom_list
        point = None
        for i in near:
            if i == exclude:
                continue
            geom = geoms[i]
            if point is None:
                point = shapely.Point(lon, lat)
            # A degree is at least ~100 km anywhere in Vietnam (latitude <= 24 deg), so a ward
            # further than radius/100 km in degrees cannot qualify and needs no geodesic.
            degrees = _distance(geom, point)
            if degrees * _MIN_METRES_PER_DEGREE > radius_m:
                continue
            if degrees == 0.0 and _intersects_xy(geom, lon, lat):
                found.append((i, 0.0))
                continue
            (_, _), (x, y) = shapely.get_coordinates(_shortest_line(point, geom)).tolist()
            metres = _GEODESIC.measure((lat, lon), (y, x)) * 1000.0  # = geodesic(...).meters
            if metres <= radius_m:
                found.append((i, round(metres, 1)))
        found.sort(key=lambda item: (item[1], self.wards[item[0]].code))
        return found

    def random_point_in(self, ward_code: str, rng: random.Random) -> tuple[float, float]:
        """A uniformly random (lat, lon) inside the ward (the simulator places events with it)."""
        geom = self.geometry(ward_code) if ward_code in self._by_code else None
        if geom is None:
            raise BoundaryError(f"ward {ward_code!r} is not in generation {self.id}")
        xmin, ymin, xmax, ymax = geom.bounds
        for _ in range(1000):
            x = rng.uniform(xmin, xmax)
            y = rng.uniform(ymin, ymax)
            if self.index.ward_at(x, y) == self._by_code[ward_code]:
                return (y, x)
        point = geom.representative_point()  # a sliver-shaped ward: fall back to a surely-inside point
        return (point.y, point.x)

    def geojson(self, province_code: str | None = None, simplify_m: float = 30.0) -> dict[str, object]:
        """FeatureCollection for maps: simplified (shared edges kept), coordinates rounded to ~1 m."""
        key = (province_code, float(simplify_m))
        cached = self._geojson_cache.get(key) or self._read_map_cache(province_code, simplify_m)
        if cached is not None:
            self._geojson_cache[key] = cached
            return cached
        chosen = [i for i, w in enumerate(self.wards) if province_code in (None, w.province_code)]
        geoms = self.geoms[chosen] if chosen else np.array([], dtype=object)
        if len(geoms) and simplify_m > 0:
            tolerance = simplify_m / _M_PER_DEG_LAT
            try:
                geoms = shapely.coverage_simplify(geoms, tolerance)
            except shapely.errors.GEOSException:
                geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
            geoms = shapely.set_precision(geoms, 1e-5)
        features = []
        for i, geom in zip(chosen, geoms, strict=True):
            w = self.wards[i]
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "code": w.code,
                        "name": w.name,
                        "province_code": w.province_code,
                        "area_km2": w.area_km2,
                        "population": w.population,
                        "source": self.source,
                    },
                    "geometry": shapely.geometry.mapping(geom),
                }
            )
        collection: dict[str, object] = {
            "type": "FeatureCollection",
            "generation": self.id,
            "source": self.source,
            "features": features,
        }
        self._geojson_cache[key] = collection
        self._write_map_cache(province_code, simplify_m, collection)
        return collection

    def _read_map_cache(self, province_code: str | None, simplify_m: float) -> dict[str, object] | None:
        for folder in self.map_cache_dirs:
            path = folder / map_cache_name(self.id, province_code, simplify_m)
            try:
                loaded = orjson.loads(gzip.decompress(path.read_bytes()))
            except (OSError, ValueError, EOFError):
                continue
            if isinstance(loaded, dict) and loaded.get("generation") == self.id:
                return loaded
        return None

    def _write_map_cache(self, province_code: str | None, simplify_m: float, collection: dict[str, object]) -> None:
        if not self.map_cache_dirs:
            return
        path = self.map_cache_dirs[0] / map_cache_name(self.id, province_code, simplify_m)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(gzip.compress(orjson.dumps(collection), compresslevel=5))
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only data dir: simplified again next time
