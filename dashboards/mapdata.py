"""The ward map as the browser's map library (Leaflet) draws it: pre-simplified GeoJSON, a label
point per ward, and how to frame the view, cached per boundary generation and view.

Views and their simplification (per zoom: the page swaps in finer data as it zooms in):

* ``city``: the selected city (one province), shared edges kept, ~20 m, coordinates to ~1 m;
* ``national``: every ward of the country, ~500 m, coordinates to ~110 m (3 decimals): a few
  hundred KiB gzipped, drawn on a canvas; the page loads ``province`` layers for what it zooms into;
* ``province``: one province at the ``city`` detail (``/api/map?scope=province&province=48``).

**Framing**: a city may own islands far offshore (HCMC's Côn Đảo, Da Nang's Hoàng Sa). Framing
the view on everything would shrink the mainland wards to a blob, so the polygons are grouped
into clusters (parts closer than ``CLUSTER_GAP_DEG`` join); the cluster with the largest area is
the **mainland** the view frames, and every cluster that lies outside the mainland's box becomes an
**inset** (its bounds and wards), drawn by the page in a small map of its own. No map tiles and
nothing from the internet: the wards are vector data the dashboard serves itself.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import shapely
from shapely.geometry import shape

Scope = Literal["city", "national", "province"]

# Coverage-simplification tolerance (metres) handed to Generation.geojson, and coordinate digits.
SIMPLIFY_M: dict[str, float] = {"city": 20.0, "national": 500.0, "province": 20.0}
DIGITS: dict[str, int] = {"city": 5, "national": 3, "province": 5}
CLUSTER_GAP_DEG = {"city": 0.3, "national": 0.6, "province": 0.3}
MAX_INSETS = 3

Bounds = tuple[float, float, float, float]  # west, south, east, north


def _rings(coordinates: Any, digits: int) -> list[list[list[float]]]:
    """Round a polygon's rings, drop repeated points and rings that collapse below a triangle."""
    out = []
    for ring in coordinates:
        points: list[list[float]] = []
        for lon, lat, *_ in ring:
            point = [round(lon, digits), round(lat, digits)]
            if not points or point != points[-1]:
                points.append(point)
        if len(points) >= 4:
            out.append(points)
    return out


def quantize(geometry: dict[str, Any], digits: int) -> dict[str, Any] | None:
    """A (Multi)Polygon with coordinates rounded to ``digits``; ``None`` if nothing is left."""
    polygons = [geometry["coordinates"]] if geometry.get("type") == "Polygon" else geometry.get("coordinates", [])
    kept = []
    for polygon in polygons:
        rings = _rings(polygon, digits)
        if rings and len(rings[0]) >= 4:
            kept.append(rings)
    if not kept:
        return None
    return {"type": "Polygon", "coordinates": kept[0]} if len(kept) == 1 else {"type": "MultiPolygon", "coordinates": kept}


@dataclass(frozen=True, slots=True)
class Cluster:
    bounds: Bounds
    area: float
    codes: tuple[str, ...]


def clusters(parts: Sequence[tuple[str, Any]], gap_deg: float) -> list[Cluster]:
    """Group polygon parts (ward code, shapely polygon) whose boxes lie within ``gap_deg`` of each other;
    largest area first."""
    if not parts:
        return []
    geoms = [g for _, g in parts]
    tree = shapely.STRtree([shapely.box(*g.bounds) for g in geoms])
    parent = list(range(len(parts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    grown = [shapely.box(*g.bounds).buffer(gap_deg, cap_style="square", join_style="mitre") for g in geoms]
    left, right = tree.query(grown, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    groups: dict[int, list[int]] = {}
    for i in range(len(parts)):
        groups.setdefault(find(i), []).append(i)
    found = []
    for members in groups.values():
        boxes = [geoms[i].bounds for i in members]
        bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        found.append(Cluster(bounds, sum(geoms[i].area for i in members), tuple(sorted({parts[i][0] for i in members}))))
    found.sort(key=lambda c: (-c.area, c.bounds))
    return found


def _inside(inner: Bounds, outer: Bounds) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def frame(parts: Sequence[tuple[str, Any]], gap_deg: float) -> dict[str, Any]:
    """``{"main": bounds of the mainland, "insets": [{"bounds", "codes"}]}`` (see the module doc)."""
    found = clusters(parts, gap_deg)
    if not found:
        return {"main": None, "insets": []}
    main = found[0].bounds
    outside = [c for c in found[1:] if not _inside(c.bounds, main)]
    # one inset per group of wards: a special zone's islands far apart (Côn Đảo) share one
    merged: list[Cluster] = []
    for cluster in outside:
        same = next((i for i, m in enumerate(merged) if set(m.codes) & set(cluster.codes)), None)
        if same is None:
            merged.append(cluster)
            continue
        m = merged[same]
        bounds = (min(m.bounds[0], cluster.bounds[0]), min(m.bounds[1], cluster.bounds[1]),
                  max(m.bounds[2], cluster.bounds[2]), max(m.bounds[3], cluster.bounds[3]))
        merged[same] = Cluster(bounds, m.area + cluster.area, tuple(sorted(set(m.codes) | set(cluster.codes))))
    insets = [{"bounds": list(c.bounds), "codes": list(c.codes)} for c in merged[:MAX_INSETS]]
    return {"main": list(main), "insets": insets}


def _parts_of(code: str, geometry: Any) -> list[tuple[str, Any]]:
    return [(code, g) for g in getattr(geometry, "geoms", [geometry]) if not g.is_empty]


def map_layer(collection: dict[str, Any], scope: Scope, province_code: str | None) -> dict[str, Any]:
    """The GeoJSON FeatureCollection the page draws, with a label point per ward and the framing."""
    digits = DIGITS[scope]
    features = []
    parts: list[tuple[str, Any]] = []
    west = south = float("inf")
    east = north = float("-inf")
    for feature in collection.get("features", []):
        properties = feature.get("properties", {})
        # a ward smaller than the grid keeps its full precision rather than vanish from the map
        geometry = quantize(feature["geometry"], digits) or quantize(feature["geometry"], 6)
        if geometry is None:
            continue
        polygon = shape(geometry)
        try:
            label = polygon.point_on_surface()
        except shapely.errors.GEOSException:  # rounding may leave a self-touching ring
            label = polygon.centroid
        w, s, e, n = polygon.bounds
        west, south, east, north = min(west, w), min(south, s), max(east, e), max(north, n)
        code = str(properties.get("code"))
        parts.extend(_parts_of(code, polygon))
        features.append({
            "type": "Feature",
            "properties": {
                "code": code, "name": properties.get("name"), "province_code": properties.get("province_code"),
                "area_km2": properties.get("area_km2"), "population": properties.get("population"),
                "label": [round(label.y, 5), round(label.x, 5)],
            },
            "geometry": geometry,
        })
    bounds = None if not features else [west, south, east, north]
    return {
        "type": "FeatureCollection",
        "generation": collection.get("generation"),
        "source": collection.get("source"),
        "scope": scope,
        "province_code": province_code,
        "ward_count": len(features),
        "bounds": bounds,
        "frame": frame(parts, CLUSTER_GAP_DEG[scope]),
        "features": features,
    }


@dataclass(frozen=True, slots=True)
class EncodedLayer:
    """A layer ready to send: the JSON bytes, gzipped once, and an ETag naming generation + view."""

    etag: str
    body: bytes
    gzipped: bytes
    ward_count: int


def encode(layer: dict[str, Any]) -> EncodedLayer:
    body = orjson.dumps(layer)
    tag = hashlib.sha256(body).hexdigest()[:16]
    etag = f'"{layer["generation"]}-{layer["scope"]}-{layer.get("province_code") or "all"}-{tag}"'
    return EncodedLayer(etag, body, gzip.compress(body, compresslevel=6), int(layer["ward_count"]))
