"""``ioc topics create``: create intake, output and per-ward topics on the configured broker."""

from __future__ import annotations

import click
import orjson

from streams.settings import load_settings


@click.group()
def topics() -> None:
    """Manage ioc-router's Kafka topics."""


@topics.command("create")
@click.option("--province", "provinces", multiple=True, help="Only these provinces' ward topics (code, e.g. 79). Default: every ward of the active generation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create(provinces: tuple[str, ...], as_json: bool) -> None:
    """Create the fixed topics and, per ward, ioc.ward.<code> and its status topic ioc.status.<code> (idempotent)."""
    from routers.boundaries.registry import BoundaryRegistry
    from streams.admin import create_topics

    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.UsageError("IOC_KAFKA_BOOTSTRAP is not set")
    registry = BoundaryRegistry(settings.data_dir)
    registry.ensure_default()
    wards = registry.load_active().wards
    codes = [w.code for w in wards if not provinces or w.province_code in provinces]
    created = create_topics(settings, codes)
    if as_json:
        click.echo(orjson.dumps({"created": len(created), "ward_topics": len(codes)}).decode())
    else:
        click.echo(f"{len(created)} topics created ({len(codes)} ward topics wanted) on {settings.kafka_bootstrap}")
