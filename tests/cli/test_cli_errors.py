"""Unreachable servers give one clear line, not a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli import main


def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("id,kind,lat,lon\ncam,camera,10.7,106.7\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["devices", "import", str(csv_file)], env={"IOC_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.exit_code == 1
    assert "Redis is not reachable" in result.output and "Traceback" not in result.output


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "worker", "simulate", "devices", "topics", "boundaries", "locate", "rules", "record",
                    "incidents", "dashboard"):
        assert f"  {command} " in result.output, command
