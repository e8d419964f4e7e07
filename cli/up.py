"""``ioc up``: the whole engine on this machine, on embedded defaults."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

import click
import orjson

from streams.settings import load_settings


class _Terminated(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


@click.command()
@click.option("--city", type=click.Choice(["hcmc", "hanoi", "danang"]), default=None, help="Default: IOC_CITY (hcmc).")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Simulated events per second.")
@click.option("--scenario", type=click.Choice(["normal", "rainstorm"]), default="normal", show_default=True)
@click.option("--duration", type=float, default=None, help="Run this many seconds, print a summary and exit 0.")
@click.option("--workers", type=int, default=1, show_default=True, help="Stream worker processes.")
@click.option("--no-dashboard", is_flag=True, help="Do not start the web dashboard.")
@click.option("--json", "as_json", is_flag=True, help="With --duration: print the summary as one JSON object.")
def up(city: str | None, rate: float, scenario: str, duration: float | None, workers: int, no_dashboard: bool,
       as_json: bool) -> None:
    """Start Kafka and Redis (embedded unless IOC_KAFKA_BOOTSTRAP / IOC_REDIS_URL are set), create
    the topics, run the stream worker(s), the simulator and the dashboard, and show a live status
    line. Ctrl-C or SIGTERM stops everything cleanly."""
    from cli import load_command
    from streams.orchestrate import LocalRun, RunOptions

    settings = load_settings()
    # children run this same command line (`python -m cli <command>`), whatever the install
    options = RunOptions(ioc=(sys.executable, "-m", "cli"), city=city or settings.city, rate=rate, scenario=scenario,
                         duration_s=duration, workers=workers,
                         dashboard=not no_dashboard and load_command("dashboard") is not None)

    def say(line: str) -> None:
        click.echo(line, err=as_json)

    run = LocalRun(settings, options, say)
    signal.signal(signal.SIGTERM, _on_sigterm)
    interactive = sys.stderr.isatty() and not as_json
    try:
        say("starting ioc-router ...")
        run.start()
        say("running - Ctrl-C to stop" if duration is None else f"running for {duration:g} s")
        last_count, last_time, last_print = 0.0, time.monotonic(), 0.0
        announced = False
        while duration is None or time.monotonic() - run.started_at < duration:
            time.sleep(1.0)
            run.check_children()
            totals = run.totals()
            now = time.monotonic()
            ingested = totals.total("ioc_ingested_total")
            rate_now = (ingested - last_count) / max(now - last_time, 1e-6)
            last_count, last_time = ingested, now
            line = run.status_line(totals, rate_now)
            if run.first_routed_at is not None and not announced:
                announced = True
                say(f"first event routed {run.first_routed_at - run.started_at:.1f} s after start")
            if interactive:
                click.echo("\r" + line.ljust(110), nl=False, err=True)
            elif not as_json and now - last_print >= 5.0:
                say(line)
                last_print = now
        if interactive:
            click.echo("", err=True)
        run.stop_simulator()
        drained = run.drain()
        summary = run.summary(drained)
        if as_json:
            click.echo(orjson.dumps(summary.to_json()).decode())
        else:
            say(f"produced {summary.produced}, ingested {summary.ingested}: routed {summary.routed}, "
                f"unroutable {summary.unroutable}, filtered {summary.filtered}, dead-letter {summary.deadletter}")
            say(f"MQTT bridge: {summary.bridge}")
            say(f"published by target kind: {summary.published}")
            say("top wards: " + ", ".join(f"{w['code']} {w['name']} ({w['routed']})" for w in summary.top_wards))
    except (KeyboardInterrupt, _Terminated):
        click.echo("\nstopping ...", err=True)
    finally:
        run.stop()
