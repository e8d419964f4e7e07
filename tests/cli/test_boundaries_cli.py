"""`ioc boundaries import|list|show|activate|diff` against a real data dir."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from cli import main

SQUARE = [[106.0, 10.0], [106.01, 10.0], [106.01, 10.01], [106.0, 10.01], [106.0, 10.0]]


def _feature(code: str, dx: float = 0.0, ring: list[list[float]] | None = None) -> dict[str, Any]:
    coords = ring or [[x + dx, y] for x, y in SQUARE]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"Phường {code}", "province_code": "79"},
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }


def _write(path: Path, *features: dict[str, Any]) -> Path:
    path.write_bytes(gzip.compress(orjson.dumps({"type": "FeatureCollection", "features": list(features)})))
    return path


def _ioc(data_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"IOC_DATA_DIR": str(data_dir)}, catch_exceptions=False)


def test_import_list_show_activate_diff(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _write(tmp_path / "first.geojson.gz", _feature("00001"), _feature("00002", dx=0.01))
    second = _write(tmp_path / "second.geojson.gz", _feature("00001"), _feature("00003", dx=0.02))

    result = _ioc(data, "boundaries", "import", str(first), "--name", "first", "--json")
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert body["ok"] and body["generation"]["name"] == "first" and not body["generation"]["active"]
    assert body["report"]["accepted"] == 2 and body["report"]["overlaps"]["count"] == 0
    first_id = body["generation"]["id"]

    result = _ioc(
        data,
        "boundaries",
        "import",
        str(second),
        "--name",
        "second",
        "--valid-from",
        "2026-01-01",
        "--activate",
    )
    assert result.exit_code == 0 and "imported and activated second-" in result.stdout

    listing = orjson.loads(_ioc(data, "boundaries", "list", "--json").stdout)
    assert [(g["name"], g["active"]) for g in listing["generations"]] == [("first", False), ("second", True)]
    assert [(g["layer"], g["serves"]) for g in listing["generations"]] == [(None, None), (1, ["79"])]
    assert "* second-" in _ioc(data, "boundaries", "list").stdout
    assert "layer 1: serves 79" in _ioc(data, "boundaries", "list").stdout

    shown = orjson.loads(_ioc(data, "boundaries", "show", "first", "--json").stdout)
    assert (
        shown["id"] == first_id
        and shown["source"] == "official"
        and shown["valid_from"].startswith("2025-07-01")
    )
    assert shown["provinces"] == {"79": {"name": "", "wards": 2, "served": False}}

    assert orjson.loads(_ioc(data, "boundaries", "activate", first_id, "--json").stdout)["active"] is True

    diff = orjson.loads(_ioc(data, "boundaries", "diff", "first", "second", "--json").stdout)
    assert [a["code"] for a in diff["added"]] == ["00003"]
    assert [r["code"] for r in diff["removed"]] == ["00002"]
    assert diff["unchanged"] == 1 and diff["moved"] == []
    assert "added 1, removed 1" in _ioc(data, "boundaries", "diff", "first", "second").stdout


def test_import_refuses_broken_source_with_reasons(tmp_path: Path) -> None:
    broken = _write(
        tmp_path / "broken.geojson.gz",
        _feature("00001"),
        _feature("00001"),
        _feature("00004", ring=[[106.0, "x"], [106.1, 10.0], [106.0, 10.1]]),
    )
    result = _ioc(tmp_path / "data", "boundaries", "import", str(broken))
    assert result.exit_code == 1
    assert "duplicate code 00001" in result.stdout
    assert "non-numeric coordinate 'x'" in result.stdout
    assert "refused" in result.stderr
    body = orjson.loads(_ioc(tmp_path / "data", "boundaries", "import", str(broken), "--json").stdout)
    assert body["ok"] is False and len(body["report"]["errors"]) == 2 and body["generation"] is None


def test_import_reports_repairs(tmp_path: Path) -> None:
    unclosed = _write(tmp_path / "u.geojson.gz", _feature("00001", ring=SQUARE[:-1]))
    result = _ioc(tmp_path / "data", "boundaries", "import", str(unclosed))
    assert result.exit_code == 0
    assert "closed unclosed ring" in result.stdout


@pytest.mark.parametrize("args", [["show", "nope"], ["activate", "nope"], ["diff", "a", "b"]])
def test_unknown_generation_is_a_clear_error(tmp_path: Path, args: list[str]) -> None:
    result = _ioc(tmp_path / "data", "boundaries", *args)
    assert result.exit_code == 1 and "no boundary generation" in result.stderr


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    src = _write(tmp_path / "x.geojson.gz", _feature("00001"))
    result = _ioc(tmp_path / "data", "boundaries", "import", str(src), "--valid-from", "July")
    assert result.exit_code == 2 and "is not an ISO date" in result.stderr
