"""The ward map as the browser draws it: pre-simplified GeoJSON turned into SVG paths, cached per
boundary generation.

The browser gets one small JSON document per view (``city`` = one province, ``national`` = every
ward): a ``viewBox`` and, per ward, an SVG path in integer map units (an equirectangular
projection scaled by the cosine of the mid latitude, so shapes look right at Vietnam's
latitudes). Relative integer coordinates are several times smaller than GeoJSON floats and need no
parsing or projecting in the page, which keeps the first paint fast with 3,321 wards. No map tiles,
nothing from the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Scope = Literal["city", "national"]
UNITS = 10_000  # the longer side of the map, in map units
# Douglas-Peucker tolerance handed to Generation.geojson: below one map unit is invisible anyway.
SIMPLIFY_M = {"city": 20.0, "national": 150.0}

Ring = Sequence[Sequence[float]]


@dataclass(frozen=True, slots=True)
class Projection:
    lon0: float
    lat1: float  # northern edge: y grows southwards, as in SVG
    kx: float
    ky: float

    @classmethod
    def fit(cls, lon_min: float, lat_min: float, lon_max: float, lat_max: float, units: int = UNITS) -> Projection:
        cos_mid = math.cos(math.radians((lat_min + lat_max) / 2))
        width_deg = max((lon_max - lon_min) * cos_mid, 1e-9)
        height_deg = max(lat_max - lat_min, 1e-9)
        scale = units / max(width_deg, height_deg)
        return cls(lon_min, lat_max, scale * cos_mid, scale)

    def xy(self, lon: float, lat: float) -> tuple[int, int]:
        return round((lon - self.lon0) * self.kx), round((self.lat1 - lat) * self.ky)


def _polygons(geometry: dict[str, Any]) -> list[list[Ring]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    return []


def _bounds(features: Iterable[dict[str, Any]]) -> tuple[float, float, float, float]:
    lon_min = lat_min = math.inf
    lon_max = lat_max = -math.inf
    for feature in features:
        for polygon in _polygons(feature["geometry"]):
            for ring in polygon:
                for lon, lat, *_ in ring:
                    lon_min, lon_max = min(lon_min, lon), max(lon_max, lon)
                    lat_min, lat_max = min(lat_min, lat), max(lat_max, lat)
    if math.isinf(lon_min):
        return (0.0, 0.0, 0.0, 0.0)
    return lon_min, lat_min, lon_max, lat_max


def svg_path(polygons: Iterable[Iterable[Ring]], projection: Projection) -> str:
    """``M x y l dx dy ... z`` per ring; points that land on the same map unit are dropped."""
    parts: list[str] = []
    for polygon in polygons:
        for ring in polygon:
            points: list[tuple[int, int]] = []
            for lon, lat, *_ in ring:
                point = projection.xy(lon, lat)
                if not points or point != points[-1]:
                    points.append(point)
            if len(points) > 1 and points[0] == points[-1]:
                points.pop()  # "z" closes the ring
            if len(points) < 3:
                continue  # a ring smaller than a map unit
            x, y = points[0]
            steps = []
            for px, py in points[1:]:
                steps.append(f"{px - x} {py - y}")
                x, y = px, py
            parts.append(f"M{points[0][0]} {points[0][1]}l" + " ".join(steps) + "z")
    return "".join(parts)


def map_layer(collection: dict[str, Any], scope: Scope, province_code: str | None) -> dict[str, Any]:
    """The JSON the page draws: ``viewBox``, and per ward its code, name, figures and SVG path."""
    features: list[dict[str, Any]] = list(collection.get("features", []))
    bounds = _bounds(features)
    projection = Projection.fit(*bounds)
    wards = []
    for feature in features:
        properties = feature.get("properties", {})
        path = svg_path(_polygons(feature["geometry"]), projection)
        wards.append({
            "code": properties.get("code"),
            "name": properties.get("name"),
            "province_code": properties.get("province_code"),
            "area_km2": properties.get("area_km2"),
            "population": properties.get("population"),
            "d": path,
        })
    lon_min, lat_min, lon_max, lat_max = bounds
    width, height = projection.xy(lon_max, lat_min)
    return {
        "generation": collection.get("generation"),
        "source": collection.get("source"),
        "scope": scope,
        "province_code": province_code,
        "view_box": [0, 0, max(width, 1), max(height, 1)],
        "ward_count": len(wards),
        "wards": wards,
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
    etag = f'"{layer["generation"]}-{layer["scope"]}-{tag}"'
    return EncodedLayer(etag, body, gzip.compress(body, compresslevel=6), int(layer["ward_count"]))
