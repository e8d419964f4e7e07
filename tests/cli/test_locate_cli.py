"""`ioc locate` for one point, one address, and a CSV batch, with the built-in reference boundaries."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from cli import main
from routers.boundaries.registry import BoundaryRegistry

JSON_KEYS = {"status", "ward", "candidates", "method", "generation", "source", "corrections"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the built-in default (made once per session, copied per module)."""
    shared = tmp_path_factory.getbasetemp() / "ioc-reference-default"
    if not (shared / "boundaries" / "registry.json").is_file():
        BoundaryRegistry(shared).ensure_default(progress=lambda _label, _n: None)
    copy = tmp_path_factory.mktemp("locate-cli")
    shutil.copytree(shared / "boundaries", copy / "boundaries")
    return copy


SAIGON = ("locate", "--lat", "10.7769", "--lon", "106.7009")  # a point in Phường Sài Gòn (26740)


def _ioc(data_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"IOC_DATA_DIR": str(data_dir)}, catch_exceptions=False)


def test_point_json(data_dir: Path) -> None:
    result = _ioc(data_dir, "locate", "--lat", "10.7769", "--lon", "106.7009", "--accuracy", "300", "--json")
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert set(body) >= JSON_KEYS
    assert (
        body["status"] == "resolved" and body["ward"]["code"] == "26740" and body["source"] == "reference"
    )
    assert all(set(c) == {"code", "name", "distance_m"} for c in body["candidates"])


def test_point_human_output_says_reference(data_dir: Path) -> None:
    result = _ioc(data_dir, "locate", "--lat", "106.7009", "--lon", "10.7769")
    assert result.exit_code == 0
    assert "resolved: Phường Sài Gòn (26740" in result.stdout
    assert "(reference)" in result.stdout and "corrections: swapped_lat_lon" in result.stdout


def test_address_json_ambiguous(data_dir: Path) -> None:
    body = orjson.loads(_ioc(data_dir, "locate", "--address", "P. Đa Kao, Q.1, TP.HCM", "--json").stdout)
    assert body["status"] == "ambiguous" and body["method"] == "legacy_address" and body["ward"] is None
    assert [c["code"] for c in body["candidates"]] == ["26737", "26740"]


def test_invalid_input_is_a_clear_error(data_dir: Path) -> None:
    result = _ioc(data_dir, "locate", "--lat", "nan", "--lon", "106.7", "--json")
    assert result.exit_code == 2
    assert orjson.loads(result.stdout) == {"error": "invalid_coordinates", "detail": "latitude is nan"}
    assert "give --lat and --lon, --address, or --input" in _ioc(data_dir, "locate").stderr
    assert "is not an ISO date or time" in _ioc(data_dir, "locate", "--lat", "10.7", "--lon", "106.7", "--at",
                                                "June").stderr


def test_a_time_without_offset_is_ho_chi_minh_time(data_dir: Path) -> None:
    """One rule in every command (cli/times.py): no offset means Asia/Ho_Chi_Minh."""
    point = (*SAIGON, "--json")
    naive = _ioc(data_dir, *point, "--at", "2025-06-15T08:00")
    assert naive.exit_code == 0
    assert naive.stdout == _ioc(data_dir, *point, "--at", "2025-06-15T08:00+07:00").stdout
    assert naive.stdout == _ioc(data_dir, *point, "--at", "2025-06-15T01:00Z").stdout


def test_at_and_named_generation(data_dir: Path) -> None:
    body = orjson.loads(
        _ioc(data_dir, *SAIGON, "--at", "2025-06-15T08:00+07:00", "--boundaries", "vn2025-reference", "--json").stdout
    )
    # Only the post-merger default exists: a June 2025 event uses it and says so.
    assert body["corrections"] == ["no_generation_for_time"] and body["ward"]["code"] == "26740"


def test_boundaries_from_a_geojson_path(data_dir: Path, shared_boundaries: Path) -> None:
    result = _ioc(data_dir, *SAIGON, "--json", "--boundaries", str(shared_boundaries / "vn2025-79-hcmc.geojson.gz"))
    body = orjson.loads(result.stdout)
    assert body["source"] == "official" and body["generation"].startswith("vn2025-79-hcmc-")


def test_csv_batch(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "id,lat,lon,address\n"
        "a,10.7769,106.7009,\n"
        'b,,,"P.7, Q.3, TP.HCM"\n'
        'c,,,"Phường Đa Kao, Quận 1, TP.HCM"\n'
        "d,9.0,112.0,\n"
        "e,abc,106.7,\n"
        "f,,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    result = _ioc(data_dir, "locate", "--input", str(source), "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert summary == {
        "rows": 6,
        "resolved": 2,
        "ambiguous": 1,
        "unresolved": 2,
        "rejected": 1,
        "output": str(out),
    }
    with open(out, encoding="utf-8") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle)}
    assert (rows["a"]["status"], rows["a"]["ward_code"], rows["a"]["method"]) == (
        "resolved",
        "26740",
        "point",
    )
    assert (rows["b"]["ward_code"], rows["b"]["method"]) == ("27139", "legacy_address")
    assert [c["code"] for c in orjson.loads(rows["c"]["candidates"])] == ["26737", "26740"]
    assert (rows["d"]["status"], rows["d"]["reason"]) == ("unresolved", "outside_boundaries")
    assert (rows["e"]["status"], rows["e"]["reason"]) == ("unresolved", "invalid_coordinates")
    assert (rows["f"]["status"], rows["f"]["reason"]) == ("unresolved", "no_location")
    assert rows["a"]["source"] == "reference"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "is binary, not a CSV"),
        ("id,lat,lon\n1,10.77,106.70\n".encode("utf-16"), "is binary, not a CSV"),
        ("id,address\n1,Phường Bến Nghé\n".encode("cp1258", errors="replace") + b"\xff\xfe", "is not UTF-8"),
        (b"name,x,y\nfoo,1,2\n", "has columns name, x, y; expected"),
        (b"", "is empty; expected"),
    ],
)
def test_a_file_that_is_not_the_expected_csv_is_a_one_line_error(
    data_dir: Path, tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["locate", "--input", str(path)], env={"IOC_DATA_DIR": str(data_dir)})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "id, lat, lon, address" in lines[0], lines
    assert "Traceback" not in result.output
