"""The ward map layer: GeoJSON for Leaflet, every ward present, framed on the mainland with the far
islands as insets, built once per generation and view."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import orjson
import pytest
from shapely.geometry import Point, shape

from dashboards.boundaries import BoundaryView
from dashboards.mapdata import encode, frame, map_layer, quantize
from routers.exceptions import BoundaryError


def test_quantize_rounds_drops_repeats_and_collapsed_rings() -> None:
    square = {"type": "Polygon", "coordinates": [[[106.0, 11.0], [107.00004, 11.0], [107.0, 11.0], [107.0, 10.0],
                                                   [106.0, 10.0], [106.0, 11.0]]]}
    assert quantize(square, 3) == {"type": "Polygon", "coordinates": [[[106.0, 11.0], [107.0, 11.0], [107.0, 10.0],
                                                                       [106.0, 10.0], [106.0, 11.0]]]}
    speck = {"type": "Polygon", "coordinates": [[[106.5, 10.5], [106.50001, 10.5], [106.5, 10.50001], [106.5, 10.5]]]}
    assert quantize(speck, 3) is None
    both = {"type": "MultiPolygon", "coordinates": [speck["coordinates"], square["coordinates"]]}
    assert quantize(both, 3)["type"] == "Polygon"  # the speck is gone, one polygon left


def test_frame_keeps_islands_off_the_mainland() -> None:
    mainland = [(f"m{i}", shape({"type": "Polygon", "coordinates": [[[106 + i * 0.1, 10], [106.1 + i * 0.1, 10],
                                                                        [106.1 + i * 0.1, 10.1], [106 + i * 0.1, 10.1], [106 + i * 0.1, 10]]]}))
                for i in range(5)]
    island = [("island", Point(106.6, 8.7).buffer(0.05)), ("island", Point(107.6, 8.5).buffer(0.01))]  # one zone, far apart
    near = [("near", Point(106.62, 10.05).buffer(0.01))]  # within the gap: part of the mainland
    framed = frame(mainland + island + near, 0.3)
    assert framed["main"] == pytest.approx([106.0, 10.0, 106.63, 10.1], abs=1e-6)
    assert [i["codes"] for i in framed["insets"]] == [["island"]]
    assert framed["insets"][0]["bounds"] == pytest.approx([106.55, 8.49, 107.61, 8.75], abs=1e-6)


@pytest.mark.parametrize(("province", "count", "insets"), [
    ("79", 168, [["26732"]]),   # HCMC: Côn Đảo 180 km offshore
    ("48", 94, [["20333"]]),    # Da Nang: Hoàng Sa
    ("01", 126, []),            # Hanoi: no islands
])
def test_city_layer_has_every_ward_and_frames_the_mainland(generation: Any, province: str, count: int,
                                                          insets: list[list[str]]) -> None:
    layer = map_layer(generation.geojson(province_code=province, simplify_m=20), "city", province)
    codes = [f["properties"]["code"] for f in layer["features"]]
    assert len(codes) == len(set(codes)) == len(generation.wards_in_province(province)) == count
    assert [i["codes"] for i in layer["frame"]["insets"]] == insets
    west, south, east, north = layer["frame"]["main"]
    for feature in layer["features"]:
        lat, lon = feature["properties"]["label"]
        polygon = shape(feature["geometry"])
        assert polygon.buffer(1e-4).contains(Point(lon, lat)), feature["properties"]["name"]  # the label sits in its ward
        inset = any(feature["properties"]["code"] in i for i in insets)
        assert inset is not (west <= lon <= east and south <= lat <= north)
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
        # the nationwide layer is the coarse one: far smaller per ward than a province in detail
        province = await view.layer("province", "79")
        assert province.ward_count == 168
        assert len(national.gzipped) / 3321 < len(province.gzipped) / 168
        with pytest.raises(BoundaryError):
            await view.layer("province", "99")
        assert view.info()["approximate"] is (generation.source == "approximate")

    asyncio.run(main())
