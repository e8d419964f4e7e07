"""``ioc boundaries``: import, list, show, activate and diff boundary generations."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
import orjson

from cli.progress import progress_printer
from cli.times import RULE, TIME
from routers.boundaries.diff import diff_generations
from routers.boundaries.importer import ValidationReport, validate_features
from routers.boundaries.model import GenerationMeta
from routers.boundaries.registry import MERGER_DATE, BoundaryRegistry
from routers.boundaries.sources import read_features
from routers.exceptions import BoundaryError
from streams.settings import load_settings


def _registry() -> BoundaryRegistry:
    return BoundaryRegistry(load_settings().data_dir)


def _emit(data: object) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _print_report(report: ValidationReport) -> None:
    click.echo(f"features: {report.features}, accepted: {report.accepted}")
    for title, items in (("errors", report.errors), ("repaired", report.repaired)):
        if items:
            click.echo(f"{title} ({len(items)}):")
            for item in items[:30]:
                click.echo(f"  - {item}")
            if len(items) > 30:
                click.echo(f"  ... and {len(items) - 30} more")
    click.echo(f"overlaps >= 100 m2: {report.overlap_count} (total {report.overlap_km2:.4f} km2)")
    for o in report.overlaps[:10]:
        click.echo(f"  - {o['a']} / {o['b']}: {o['area_m2']} m2 at {o['at']}")
    click.echo(f"gaps >= 100 m2: {report.gap_count} (total {report.gap_km2:.4f} km2)")
    for g in report.gaps[:10]:
        click.echo(f"  - {g['area_m2']} m2 at {g['at']}")


def _describe(meta: GenerationMeta, layer: tuple[int, set[str]] | None = None) -> str:
    until = meta.valid_to.date().isoformat() if meta.valid_to else "open"
    flag = "*" if meta.active else " "
    line = (
        f"{flag} {meta.id:<40} {meta.source:<11} {meta.ward_count:>5} wards  "
        f"{meta.valid_from.date().isoformat()} .. {until}"
    )
    if layer is not None:
        number, serves = layer
        line += f"  layer {number}: serves {_provinces_text(serves)}"
    return line


def _provinces_text(codes: set[str]) -> str:
    if not codes:
        return "nothing (hidden by the layers above)"
    if len(codes) > 6:
        return f"{len(codes)} provinces"
    return ", ".join(sorted(codes))


def _layers(registry: BoundaryRegistry) -> dict[str, tuple[int, set[str]]]:
    """generation id -> (layer number from the top, provinces it serves), for the layers now."""
    try:
        described = registry.describe_layers()
    except BoundaryError:
        return {}
    return {meta.id: (n, serves) for n, (meta, serves) in enumerate(described, start=1)}


@click.group()
def boundaries() -> None:
    """Boundary generations: dated sets of ward polygons that workers route with."""


@boundaries.command("import")
@click.argument("src")
@click.option("--name", help="Generation name (default: the file or folder name).")
@click.option("--valid-from", "valid_from", type=TIME,
              help=f"Date the boundaries take effect (default 2025-07-01; {RULE}).")
@click.option("--valid-to", "valid_to", type=TIME, help=f"Date they stop applying (default: open; {RULE}).")
@click.option("--code-field", default="code", show_default=True, help="Feature property with the ward code.")
@click.option("--name-field", default="name", show_default=True, help="Feature property with the ward name.")
@click.option("--approximate", is_flag=True, help="Label the polygons approximate instead of official.")
@click.option("--activate", "activate_now", is_flag=True, help="Activate the generation after import.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_cmd(
    src: str,
    name: str | None,
    valid_from: datetime | None,
    valid_to: datetime | None,
    code_field: str,
    name_field: str,
    approximate: bool,
    activate_now: bool,
    as_json: bool,
) -> None:
    """Import SRC (GeoJSON FeatureCollection, .gz, a folder of GeoJSON files, or an http(s) URL)."""
    start = valid_from or MERGER_DATE
    end = valid_to
    registry = _registry()
    try:
        click.echo(f"reading {src}", err=True)
        features = read_features(src)
        # a bar for the per-feature checks, one line for each other stage
        with progress_printer({"checking features": len(features)} if features else {}) as step:
            wards, report = validate_features(
                features, code_field=code_field, name_field=name_field, progress=step
            )
            meta = None
            if report.ok:
                default_name = Path(src.rstrip("/")).name.split(".")[0] or "boundaries"
                meta = registry.add(
                    wards,
                    name=name or default_name,
                    valid_from=start,
                    valid_to=end,
                    source="approximate" if approximate else "official",
                    origin=src,
                    report={k: v for k, v in report.to_json().items() if k != "errors"},
                    progress=step,
                )
                if activate_now:
                    meta = registry.activate(meta.id)
    except BoundaryError as exc:
        if as_json:
            _emit({"ok": False, "error": str(exc)})
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _emit({"ok": report.ok, "generation": meta.to_json() if meta else None, "report": report.to_json()})
    else:
        _print_report(report)
        if meta is not None:
            click.echo(
                f"imported {meta.id} ({meta.ward_count} wards, {meta.source}, inactive)"
                if not meta.active
                else f"imported and activated {meta.id}"
            )
    if not report.ok:
        if not as_json:
            click.echo("refused: fix the errors above and import again", err=True)
        sys.exit(1)


@boundaries.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_cmd(as_json: bool) -> None:
    """All generations; * marks the active ones."""
    try:
        registry = _registry()
        metas = registry.list()
        layers = _layers(registry)
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _emit({"generations": [_with_layer(m, layers.get(m.id)) for m in metas]})
        return
    if not metas:
        click.echo("no boundary generations yet (ioc boundaries import SRC, or ioc up adds the built-in reference)")
    for meta in metas:
        click.echo(_describe(meta, layers.get(meta.id)))
    if layers:
        click.echo("lookups ask layer 1 first and fall through to the next for provinces it does not serve")


def _with_layer(meta: GenerationMeta, layer: tuple[int, set[str]] | None) -> dict[str, object]:
    return {
        **meta.to_json(),
        "layer": None if layer is None else layer[0],
        "serves": None if layer is None else sorted(layer[1]),
    }


@boundaries.command("show")
@click.argument("gen")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show_cmd(gen: str, as_json: bool) -> None:
    """Details of GEN (id or name): validity, source, checksum, wards per province, import report."""
    try:
        registry = _registry()
        meta = registry.get(gen)
        generation = registry.load(meta.id)
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    layer = _layers(registry).get(meta.id)
    serves = layer[1] if layer else set()
    provinces: dict[str, list[str]] = {}
    for w in generation.wards:
        provinces.setdefault(w.province_code, []).append(w.province)
    per_province = {
        code: {"name": names[0], "wards": len(names), "served": code in serves}
        for code, names in sorted(provinces.items())
    }
    if as_json:
        _emit({**_with_layer(meta, layer), "provinces": per_province})
        return
    click.echo(_describe(meta, layer))
    click.echo(
        f"  source:    {meta.source}"
        + ("  (APPROXIMATE polygons, not survey boundaries)" if meta.source == "approximate" else "")
        + ("  (built-in reference polygons, not official survey boundaries)" if meta.source == "reference" else "")
    )
    click.echo(f"  origin:    {meta.origin}")
    attribution = meta.report.get("attribution")
    if isinstance(attribution, dict):
        click.echo(f"  upstream:  {attribution.get('upstream')} snapshot {attribution.get('snapshot')}"
                   f" ({attribution.get('licence')})")
    click.echo(f"  checksum:  {meta.checksum}")
    click.echo(f"  created:   {meta.created_at.isoformat()}")
    click.echo(f"  provinces: {len(per_province)}")
    for code, info in per_province.items():
        served = "" if not meta.active else ("  (served here)" if info["served"] else "  (served by a layer above)")
        click.echo(f"    {code} {info['name']}: {info['wards']} wards{served}")


@boundaries.command("activate")
@click.argument("gen")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def activate_cmd(gen: str, as_json: bool) -> None:
    """Activate GEN as the top layer for the provinces it has; layers it hides completely are deactivated."""
    try:
        meta = _registry().activate(gen)
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _emit(meta.to_json())
    else:
        click.echo(f"activated {meta.id}")


@boundaries.command("diff")
@click.argument("gen_a")
@click.argument("gen_b")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def diff_cmd(gen_a: str, gen_b: str, as_json: bool) -> None:
    """Wards added, removed, renamed and area moved from GEN_A to GEN_B."""
    try:
        registry = _registry()
        result = diff_generations(registry.load(gen_a), registry.load(gen_b))
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _emit(result.to_json())
        return
    click.echo(f"{result.a} -> {result.b}")
    click.echo(
        f"  added {len(result.added)}, removed {len(result.removed)}, renamed {len(result.renamed)}, "
        f"outline changed {len(result.moved)}, unchanged {result.unchanged}"
    )
    for item in result.added[:20]:
        click.echo(f"  + {item['code']} {item['name']} ({item['area_km2']} km2)")
    for item in result.removed[:20]:
        click.echo(f"  - {item['code']} {item['name']} ({item['area_km2']} km2)")
    for item in result.renamed[:20]:
        click.echo(f"  ~ {item['code']} {item['from']} -> {item['to']}")
    for item in result.moved[:20]:
        click.echo(
            f"  ~ {item['code']} {item['name']}: lost {item['lost_km2']} km2, gained {item['gained_km2']} km2"
        )
