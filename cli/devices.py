"""``ioc devices``: the registry of cameras and sensors (where each one stands)."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from streams.settings import load_settings


@click.group()
def devices() -> None:
    """Manage the device registry in Redis."""


@devices.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def import_devices(csv_file: Path, as_json: bool) -> None:
    """Load cameras and sensors from CSV_FILE (columns: id, kind, lat, lon, description; optional
    frigate_url: a Frigate camera's server, the base of its snapshot links)."""
    from streams.devices import DeviceFileError, read_devices_csv, register_devices

    settings = load_settings()
    if not settings.redis_url:
        raise click.UsageError("IOC_REDIS_URL is not set")
    try:
        records = list(read_devices_csv(csv_file))
    except DeviceFileError as exc:
        raise click.ClickException(str(exc)) from None
    count = register_devices(settings.redis_url, records)
    click.echo(orjson.dumps({"imported": count}).decode() if as_json else f"{count} devices imported")
