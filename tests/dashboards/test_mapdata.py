"""The ward map layer: SVG paths from GeoJSON, every ward present, built once per generation."""

from __future__ import annotations

import asyncio
import gzip
import re
from typing import Any

import orjson

from dashboards.boundaries import BoundaryView
from dashboards.mapdata import Projection, encode, map_layer, svg_path

PATH = re.compile(r"^(M-?\d+ -?\d+l(-?\d+ -?\d+)( -?\d+ -?\d+)*z)+$")


def test_svg_path_is_relative_integer_and_drops_repeated_points() -> None:
    projection = Projection.fit(106.0, 10.0, 107.0, 11.0, units=1000)
    square = [[[106.0, 11.0], [107.0, 11.0], [107.0, 10.0], [107.0, 10.0000001], [106.0, 10.0], [106.0, 11.0]]]
    d = svg_path([square], projection)
    # 1000 units of latitude; longitude shrunk by cos(10.5°); the repeated corner is gone
    assert d == "M0 0l983 0 0 1000 -983 0z"
    assert PATH.match(d)


def test_tiny_rings_vanish_instead_of_drawing_dots() -> None:
    projection = Projection.fit(106.0, 10.0, 107.0, 11.0, units=10)
    speck = [[[106.5, 10.5], [106.50001, 10.5], [106.5, 10.50001], [106.5, 10.5]]]
    assert svg_path([speck], projection) == ""


def test_city_layer_has_every_ward_of_the_generation(generation: Any) -> None:
    collection = generation.geojson(province_code="79", simplify_m=20)
    layer = map_layer(collection, "city", "79")
    codes = [w["code"] for w in layer["wards"]]
    assert len(codes) == len(set(codes)) == len(generation.wards_in_province("79")) == 168
    assert all(PATH.match(w["d"]) for w in layer["wards"])
    x0, y0, width, height = layer["view_box"]
    assert (x0, y0) == (0, 0) and max(width, height) in range(9990, 10010)
    encoded = encode(layer)
    assert orjson.loads(gzip.decompress(encoded.gzipped)) == layer
    assert generation.id in encoded.etag


def test_layers_are_built_once_per_generation_and_view(generation: Any) -> None:
    async def main() -> None:
        view = BoundaryView(lambda: generation, "48")
        await view.reload()
        first, again = await asyncio.gather(view.layer("city"), view.layer("city"))
        assert first is again
        assert first.ward_count == 94
        national = await view.layer("national")
        assert national.ward_count == len(generation.wards) == 3321
        assert view.info()["approximate"] is (generation.source == "approximate")

    asyncio.run(main())
