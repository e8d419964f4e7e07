"""``ioc locate``: which post-merger ward owns a coordinate or an address (one, or a CSV batch)."""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click
import orjson

from cli.progress import progress_printer
from cli.times import RULE, TIME
from routers.boundaries.generation import Generation
from routers.boundaries.importer import import_wards
from routers.boundaries.registry import BoundaryRegistry
from routers.boundaries.sources import read_features
from routers.exceptions import BoundaryError, Rejected
from routers.locate.locator import Locator
from routers.locate.result import Location
from routers.progress import tracked
from streams.settings import load_settings

OUTPUT_COLUMNS = (
    "id",
    "status",
    "ward_code",
    "ward_name",
    "province_code",
    "candidates",
    "method",
    "generation",
    "source",
    "corrections",
    "reason",
)


def _generations(boundaries: str | None) -> list[Generation]:
    """The active generations, or the one named by --boundaries (a generation or a GeoJSON path)."""
    settings = load_settings()
    registry = BoundaryRegistry(settings.data_dir)
    if boundaries is None:
        registry.ensure_default(progress=lambda label, _n: click.echo(f"boundaries: {label}", err=True))
        return registry.load_for_serving()
    looks_like_source = (
        boundaries.startswith(("http://", "https://")) or Path(boundaries).expanduser().exists()
    )
    if not looks_like_source:
        return [registry.load(boundaries)]
    click.echo(f"importing {boundaries} for this lookup", err=True)
    wards, _report = import_wards(read_features(boundaries))
    name = Path(boundaries.rstrip("/")).name.split(".")[0] or "adhoc"
    meta = registry.add(wards, name=name, source="official", origin=boundaries)
    return [registry.load(meta.id)]


def _emit(data: object) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _human(location: Location) -> str:
    lines = []
    if location.ward is not None:
        lines.append(
            f"{location.status}: {location.ward.name} ({location.ward.code}, province {location.ward.province_code})"
        )
    else:
        lines.append(f"{location.status}: {location.reason}")
    lines.append(f"  method {location.method}, generation {location.generation} ({location.source})")
    for c in location.candidates:
        distance = "" if c.distance_m is None else f" at {c.distance_m:.0f} m"
        lines.append(f"  candidate {c.code} {c.name}{distance}")
    if location.corrections:
        lines.append(f"  corrections: {', '.join(location.corrections)}")
    return "\n".join(lines)


def _row(row_id: str, location: Location) -> dict[str, str]:
    return {
        "id": row_id,
        "status": location.status,
        "ward_code": location.ward.code if location.ward else "",
        "ward_name": location.ward.name if location.ward else "",
        "province_code": location.ward.province_code if location.ward else "",
        "candidates": orjson.dumps(
            [{"code": c.code, "name": c.name, "distance_m": c.distance_m} for c in location.candidates]
        ).decode()
        if location.candidates
        else "",
        "method": location.method,
        "generation": location.generation,
        "source": location.source,
        "corrections": ";".join(location.corrections),
        "reason": location.reason or "",
    }


def _float_or_none(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return float("nan")  # rejected below as invalid_coordinates, with the row kept


INPUT_EXPECTED = "a UTF-8 CSV with a header row: id, lat, lon, address (lat and lon, or address)"


def _input_error(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def read_input(path: Path) -> list[dict[str, str]]:
    """The rows of a batch CSV; a one-line error and exit 2 for a file that is not one."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        _input_error(f"{path} is binary, not a CSV; expected {INPUT_EXPECTED}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _input_error(
            f"{path} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); expected {INPUT_EXPECTED}"
        )
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = [c.strip() for c in reader.fieldnames or []]
        if not columns:
            _input_error(f"{path} is empty; expected {INPUT_EXPECTED}")
        if not ({"lat", "lon"} <= set(columns) or "address" in columns):
            shown = ", ".join(c[:30] for c in columns[:10])
            _input_error(f"{path} has columns {shown}; expected {INPUT_EXPECTED}")
        reader.fieldnames = columns
        return list(reader)
    except csv.Error as exc:
        _input_error(f"{path} is not a readable CSV ({exc}); expected {INPUT_EXPECTED}")


def _batch(
    locator: Locator, rows: list[dict[str, str]], output_path: Path | None, at: datetime | None
) -> dict[str, int]:
    counts: dict[str, int] = {
        "rows": len(rows),
        "resolved": 0,
        "ambiguous": 0,
        "unresolved": 0,
        "rejected": 0,
    }
    out = open(output_path, "w", newline="", encoding="utf-8") if output_path else sys.stdout  # noqa: SIM115
    try:
        writer = csv.DictWriter(out, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        with progress_printer({"locating": len(rows)}) as progress:
            for n, row in enumerate(tracked(rows, "locating", progress)):
                row_id = (row.get("id") or str(n + 1)).strip()
                lat, lon = _float_or_none(row.get("lat")), _float_or_none(row.get("lon"))
                address = (row.get("address") or "").strip() or None
                try:
                    if lat is not None or lon is not None:
                        location = locator.locate_point(lat, lon, at=at)  # type: ignore[arg-type]
                    else:
                        location = locator.locate(None, address, at=at)
                except Rejected as exc:
                    counts["rejected"] += 1
                    writer.writerow({"id": row_id, "status": "unresolved", "reason": exc.reason})
                    continue
                counts[location.status] += 1
                writer.writerow(_row(row_id, location))
    finally:
        if output_path:
            out.close()
    return counts


@click.command()
@click.option("--lat", type=float, help="Latitude (WGS84).")
@click.option("--lon", type=float, help="Longitude (WGS84).")
@click.option("--accuracy", type=float, help="Accuracy radius in metres: other wards it reaches are listed.")
@click.option("--address", help="Address text, new format or pre-merger.")
@click.option("--at", "at", type=TIME, help=f"Event time ({RULE}): picks the generation valid then.")
@click.option("--boundaries", help="Generation id/name, or a GeoJSON file/folder/URL imported on the fly.")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with columns id, lat, lon, address.",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the batch CSV goes (default stdout).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def locate(
    lat: float | None,
    lon: float | None,
    accuracy: float | None,
    address: str | None,
    at: datetime | None,
    boundaries: str | None,
    input_path: Path | None,
    output_path: Path | None,
    as_json: bool,
) -> None:
    """Which post-merger ward owns a coordinate (--lat/--lon), an address, or each row of a CSV."""
    has_point = lat is not None or lon is not None
    if input_path is None and not has_point and address is None:
        raise click.UsageError("give --lat and --lon, --address, or --input FILE.csv")
    if has_point and (lat is None or lon is None):
        raise click.UsageError("--lat and --lon go together")
    rows = read_input(input_path) if input_path is not None else None  # before loading boundaries
    try:
        locator = Locator(_generations(boundaries), nearest_max_m=load_settings().nearest_max_m)
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    if rows is not None:
        counts = _batch(locator, rows, output_path, at)
        if as_json:
            _emit({**counts, "output": str(output_path) if output_path else None})
        elif output_path:
            click.echo(", ".join(f"{k} {v}" for k, v in counts.items()) + f" -> {output_path}")
        return
    try:
        if has_point:
            location = locator.locate_point(lat, lon, accuracy, at)  # type: ignore[arg-type]
        else:
            location = locator.locate_address(address or "", at)
    except Rejected as exc:
        if as_json:
            _emit({"error": exc.reason, "detail": exc.detail})
            sys.exit(2)
        raise click.ClickException(f"{exc.reason}: {exc.detail}") from exc
    if as_json:
        _emit(location.to_json())
    else:
        click.echo(_human(location))
