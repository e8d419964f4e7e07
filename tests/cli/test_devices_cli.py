from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from cli import main
from streams.devices import DEVICES_KEY, DeviceRecord

pytestmark = pytest.mark.integration


def test_import_loads_devices_into_redis(redis_url: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text(
        "id,kind,lat,lon,description\n"
        "cam-q1-001,camera,10.7769,106.7009,Camera ngã tư Lê Lợi\n"
        "wl-q8-004,water_level,10.7402,106.6650,Cảm biến mực nước kênh Đôi\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["devices", "import", str(csv_file), "--json"], env={"IOC_REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    assert '"imported":2' in result.output
    stored = redis.Redis.from_url(redis_url).hget(DEVICES_KEY, "wl-q8-004")
    assert stored is not None
    assert DeviceRecord.from_json("wl-q8-004", stored).lat == pytest.approx(10.7402)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,kind,lat\nx,camera,10\n", "missing columns ['lon']"),
        ("id,kind,lat,lon\nx,camera,north,106\n", "devices.csv:2: lat/lon must be numbers"),
        ("id,kind,lat,lon\nx,camera,100,106\n", "devices.csv:2: lat/lon 100.0,106.0 is not a place on Earth"),
        ("id,kind,lat,lon\n,camera,10,106\n", "devices.csv:2: id must be 1-128 characters"),
    ],
)
def test_bad_files_are_refused_naming_the_line(redis_url: str, tmp_path: Path, content: str, message: str) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["devices", "import", str(csv_file)], env={"IOC_REDIS_URL": redis_url})
    assert result.exit_code == 1
    assert message in result.output


def test_redis_must_be_configured(tmp_path: Path) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text("id,kind,lat,lon\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["devices", "import", str(csv_file)], env={"IOC_REDIS_URL": ""})
    assert result.exit_code == 2 and "IOC_REDIS_URL is not set" in result.output
