"""Broken GeoJSON gives clear errors or repaired geometry, never a crash. One case per rule."""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from routers.boundaries.importer import import_wards, validate_features
from routers.boundaries.sources import read_features
from routers.exceptions import BoundaryError

SQUARE = [[106.0, 10.0], [106.01, 10.0], [106.01, 10.01], [106.0, 10.01], [106.0, 10.0]]


def feature(code: Any = "26740", geometry: Any = None, **props: Any) -> dict[str, Any]:
    geom = geometry if geometry is not None else {"type": "Polygon", "coordinates": [SQUARE]}
    return {
        "type": "Feature",
        "properties": {"code": code, "name": "Phường Sài Gòn", **props},
        "geometry": geom,
    }


def errors_of(features: list[Any]) -> list[str]:
    return validate_features(features, check_topology=False)[1].errors


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (None, "no geometry"),
        ({"type": "Point", "coordinates": [106.0, 10.0]}, "geometry type 'Point' is not a Polygon"),
        (
            {"type": "Polygon", "coordinates": []},
            "wrong nesting: coordinates should be a non-empty list of rings",
        ),
        (
            {"type": "Polygon", "coordinates": SQUARE},
            "wrong nesting: coordinates[0][0] should be a [lon, lat] position, found 106.0",
        ),
        (
            {"type": "Polygon", "coordinates": [[[106.0, "ten"], [106.01, 10.0], [106.0, 10.01]]]},
            "non-numeric coordinate 'ten' at coordinates[0][0]",
        ),
        (
            {"type": "Polygon", "coordinates": [[[106.0, True], [106.01, 10.0], [106.0, 10.01]]]},
            "non-numeric coordinate True",
        ),
        (
            {"type": "Polygon", "coordinates": [[[406.0, 10.0], [106.01, 10.0], [106.0, 10.01]]]},
            "coordinate out of range (lon 406.0, lat 10.0)",
        ),
        ({"type": "Polygon", "coordinates": [[[106.0, 10.0], [106.01, 10.0]]]}, "empty geometry"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[106.0, 10.0], [106.01, 10.0], [106.02, 10.0], [106.0, 10.0]]],
            },
            "geometry has no area",
        ),
        (
            {"type": "Polygon", "coordinates": [[[y, x] for x, y in SQUARE]]},
            "looks like (lat, lon) order, GeoJSON positions are [lon, lat]",
        ),
        ({"type": "Polygon"}, "geometry has no coordinates list"),
    ],
)
def test_refused_geometry(geometry: Any, message: str) -> None:
    feat = feature(geometry=geometry) if geometry is not None else {**feature(), "geometry": None}
    errors = errors_of([feat])
    assert len(errors) == 1
    assert message in errors[0]
    assert errors[0].startswith("feature 0 (code 26740): ")


def test_missing_code_is_refused() -> None:
    assert errors_of([feature(code=None)]) == ["feature 0: no 'code' property"]


def test_not_a_feature_is_refused() -> None:
    assert errors_of([[1, 2]]) == ["feature 0: not a GeoJSON Feature"]


def test_duplicate_codes_are_refused() -> None:
    errors = errors_of([feature(), feature()])
    assert errors == [
        "feature 1 (code 26740): duplicate code 26740 (also feature with name 'Phường Sài Gòn')"
    ]


def test_numeric_code_keeps_leading_zeros() -> None:
    wards, report = validate_features([feature(code=4)], check_topology=False)
    assert report.ok and wards.wards[0].code == "00004"


def test_unclosed_ring_is_closed_and_reported() -> None:
    wards, report = validate_features(
        [feature(geometry={"type": "Polygon", "coordinates": [SQUARE[:-1]]})], check_topology=False
    )
    assert report.ok
    assert report.repaired == ["feature 0 (code 26740): closed unclosed ring coordinates[0]"]
    assert wards.geoms[0].is_valid and wards.geoms[0].area > 0


def test_self_intersection_is_repaired() -> None:
    bowtie = [[106.0, 10.0], [106.01, 10.01], [106.01, 10.0], [106.0, 10.01], [106.0, 10.0]]
    wards, report = validate_features(
        [feature(geometry={"type": "Polygon", "coordinates": [bowtie]})], check_topology=False
    )
    assert report.ok
    assert "repaired invalid geometry (Self-intersection" in report.repaired[0]
    assert wards.geoms[0].is_valid and wards.geoms[0].geom_type == "MultiPolygon"


def test_hole_outside_shell_is_repaired() -> None:
    hole = [[107.0, 11.0], [107.01, 11.0], [107.01, 11.01], [107.0, 11.0]]
    wards, report = validate_features(
        [feature(geometry={"type": "Polygon", "coordinates": [SQUARE, hole]})], check_topology=False
    )
    assert report.ok and "repaired invalid geometry" in report.repaired[0]
    assert wards.geoms[0].is_valid


def test_overlaps_and_gaps_are_reported_with_area_and_place() -> None:
    frame = {
        "type": "Polygon",
        "coordinates": [
            [[106.0, 10.0], [106.03, 10.0], [106.03, 10.03], [106.0, 10.03], [106.0, 10.0]],
            [[106.01, 10.01], [106.02, 10.01], [106.02, 10.02], [106.01, 10.02], [106.01, 10.01]],
        ],
    }
    overlapping = {
        "type": "Polygon",
        "coordinates": [
            [[106.025, 10.0], [106.05, 10.0], [106.05, 10.03], [106.025, 10.03], [106.025, 10.0]]
        ],
    }
    _, report = validate_features([feature("00001", frame), feature("00002", overlapping)])
    assert report.ok
    assert report.overlap_count == 1
    assert report.overlaps[0]["a"] == "00001" and report.overlaps[0]["b"] == "00002"
    assert 1.5e6 < float(str(report.overlaps[0]["area_m2"])) < 1.9e6  # 0.005 x 0.03 deg
    assert report.gap_count == 1
    lat, lon = report.gaps[0]["at"]  # type: ignore[misc]
    assert 10.01 < lat < 10.02 and 106.01 < lon < 106.02


def test_import_wards_raises_with_every_reason() -> None:
    with pytest.raises(BoundaryError) as info:
        import_wards([feature(code=None), feature(geometry={"type": "Point", "coordinates": [1, 2]})])
    assert "refused (2 errors)" in str(info.value)
    assert "no 'code' property" in str(info.value) and "'Point'" in str(info.value)


def test_empty_collection_is_refused() -> None:
    assert validate_features([])[1].errors == ["the source holds no features"]


# -- sources -------------------------------------------------------------------------------


def _collection(*features: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "FeatureCollection", "features": list(features)})


def test_reads_plain_gzip_and_folder(tmp_path: Path) -> None:
    (tmp_path / "plain.geojson").write_bytes(_collection(feature("00001")))
    (tmp_path / "packed.geojson.gz").write_bytes(gzip.compress(_collection(feature("00002"))))
    folder = tmp_path / "wards"
    folder.mkdir()
    (folder / "a.geojson").write_bytes(orjson.dumps(feature("00003")))
    (folder / "b.json").write_bytes(_collection(feature("00004")))
    (folder / "notes.txt").write_text("ignored")
    assert [f["properties"]["code"] for f in read_features(str(tmp_path / "plain.geojson"))] == ["00001"]
    assert [f["properties"]["code"] for f in read_features(str(tmp_path / "packed.geojson.gz"))] == ["00002"]
    assert [f["properties"]["code"] for f in read_features(str(folder))] == ["00003", "00004"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a GeoJSON object, found list"),
        (b'{"type": "Topology"}', "expected a FeatureCollection or Feature, found type 'Topology'"),
        (b'{"type": "FeatureCollection"}', "FeatureCollection without a 'features' list"),
        (b"\x1f\x8b\x08broken", "broken gzip data"),
    ],
)
def test_unreadable_sources(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.geojson"
    path.write_bytes(content)
    with pytest.raises(BoundaryError, match="bad.geojson: ") as info:
        read_features(str(path))
    assert message in str(info.value)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(BoundaryError, match="no such file, folder or URL"):
        read_features(str(tmp_path / "nope.geojson"))
    with pytest.raises(BoundaryError, match="folder holds no .geojson/.json files"):
        read_features(str(tmp_path))


@pytest.fixture()
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on a free 127.0.0.1 port serving tmp_path."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_downloads_from_url(http_root: tuple[str, Path]) -> None:
    base, root = http_root
    (root / "wards.geojson.gz").write_bytes(gzip.compress(_collection(feature("00007"))))
    assert [f["properties"]["code"] for f in read_features(f"{base}/wards.geojson.gz")] == ["00007"]
    with pytest.raises(BoundaryError, match="download failed"):
        read_features(f"{base}/missing.geojson")
