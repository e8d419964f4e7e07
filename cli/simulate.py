"""``ioc simulate``: produce a realistic city evening into the intake topics."""

from __future__ import annotations

import click
import orjson

from streams.settings import load_settings


@click.command()
@click.option("--city", type=click.Choice(["hcmc", "hanoi", "danang"]), default=None, help="Default: IOC_CITY (hcmc).")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Messages per second.")
@click.option("--scenario", type=click.Choice(["normal", "rainstorm"]), default="normal", show_default=True)
@click.option("--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C).")
@click.option("--count", type=int, default=None, help="Stop after this many messages.")
@click.option("--seed", type=int, default=2025, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def simulate(city: str | None, rate: float, scenario: str, duration: float | None, count: int | None, seed: int,
             as_json: bool) -> None:
    """Citizen reports, camera detections and sensor readings inside real wards (weighted by
    population), ~10% old-format addresses, a few per cent malformed, out-of-area and swapped
    coordinates. Registers its cameras and sensors in the device registry first."""
    from streams.simulator.run import build_scenario, produce, register_scenario_devices

    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.UsageError("IOC_KAFKA_BOOTSTRAP is not set (or use `ioc up`, which starts a broker)")
    sim = build_scenario(settings, city or settings.city, scenario, seed)
    devices = register_scenario_devices(settings, sim)
    if not as_json:
        click.echo(f"simulating {city or settings.city} ({scenario}) at {rate:g}/s, {devices} devices registered", err=True)
    try:
        stats = produce(settings, sim, rate, duration_s=duration, count=count)
    except KeyboardInterrupt:
        return
    summary = {"produced": stats.produced, "by_intent": dict(stats.by_intent), "by_topic": dict(stats.by_topic)}
    click.echo(orjson.dumps(summary).decode() if as_json else f"produced {stats.produced}: {dict(stats.by_intent)}")
