"""``ioc worker``: run the Faust stream worker (intake pipeline, lifecycle, rules hot reload)."""

from __future__ import annotations

import dataclasses
import sys

import click

from streams.settings import load_settings

ROLES = ("all", "pipeline", "lifecycle")


@click.command()
@click.option("--web-port", type=int, default=None, help="Port of /metrics and /healthz (default IOC_WORKER_WEB_PORT; 0 = free port).")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="What this worker runs: everything, only the intake pipeline, or only the incident lifecycle "
                   "(default IOC_WORKER_ROLE, all).")
def worker(web_port: int | None, role: str | None) -> None:
    """Run a stream worker against IOC_KAFKA_BOOTSTRAP and IOC_REDIS_URL (both required).

    Start as many as the intake topics have partitions; they share the work as one consumer group
    and stop cleanly on SIGTERM or Ctrl-C.
    """
    from importlib.metadata import version

    from streams import metrics, metrics_zero, process_memory
    from streams.app import configure
    from streams.embedded.process import free_port
    from streams.faust_ext.consumer import use_fast_delivery_consumer
    from streams.faust_ext.settings import app_settings
    from streams.faust_ext.worker import Worker
    from streams.services import attach, build_services

    settings = load_settings()
    plan = process_memory.plan_from(settings)
    # before the boundaries load and Faust starts its threads: the arena limit and thresholds hold
    # for what is allocated from here on
    trimmer = process_memory.configure(plan, process_memory.load_glibc(), process_memory.record_trim)
    if role is None:  # IOC_WORKER_ROLE, refused as click refuses a bad --role (usage error, exit 2)
        role = settings.worker_role
        if role not in ROLES:
            raise click.BadParameter(f"{role!r} is not one of {', '.join(map(repr, ROLES))}.", param_hint="'--role'")
    if web_port is not None:
        settings = dataclasses.replace(settings, worker_web_port=web_port)
    if not settings.kafka_bootstrap or not settings.redis_url:
        raise click.UsageError("IOC_KAFKA_BOOTSTRAP and IOC_REDIS_URL must be set (or use `ioc up`, which starts them)")
    if settings.worker_web_port == 0:
        settings = dataclasses.replace(settings, worker_web_port=free_port())
    try:
        from streams.rules_live.active import initial_ruleset

        initial_ruleset(settings.rules_file)  # fail fast on an invalid IOC_RULES_FILE, before joining the group
    except Exception as exc:
        raise click.ClickException(f"rules: {exc}") from None
    try:  # and on an invalid IOC_FRIGATE_MAPPING_FILE, with its line:column problems
        from routers.ingest.frigate_mapping import load_mapping_file

        load_mapping_file(settings.frigate_mapping_file)
    except Exception as exc:
        raise click.ClickException(f"Frigate mapping: {exc}") from None
    app = configure(settings, role, **app_settings(settings))
    use_fast_delivery_consumer(app)
    services = attach(app, build_services(settings, role))  # the composition root: one object, on the app
    ruleset = services.rules.current()
    if role != "pipeline":
        from streams.lifecycle import actors

        actors.subscribe(settings)  # every actor's ioc.status.* topic on the broker
    metrics_zero.start_at_zero()  # alerts see 0 before the first breach, not an absent series
    metrics.build_info.info({"version": version("ioc-router"), "python": sys.version.split()[0]})
    click.echo(f"worker ({role}): routing with rules {ruleset.version}", err=True)
    click.echo(f"worker: metrics on http://{settings.worker_web_host}:{settings.worker_web_port}/metrics", err=True)
    click.echo(f"worker: process memory: {plan.describe()}", err=True)
    if trimmer is not None:
        trimmer.start()
    sys.argv = [sys.argv[0]]  # Faust's Worker reads argv; ours are already parsed
    try:
        Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
    finally:
        if trimmer is not None:
            trimmer.stop()
