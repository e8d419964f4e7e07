"""The ``ioc`` command line. Each sub-command lives in its own module and is imported lazily,
so ``ioc locate`` does not pay for Faust and ``ioc --help`` stays fast."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" under cli/
COMMANDS: dict[str, str] = {
    "up": "up:up",
    "worker": "worker:worker",
    "topics": "topics:topics",
    "simulate": "simulate:simulate",
    "devices": "devices:devices",
    "boundaries": "boundaries:boundaries",
    "locate": "locate:locate",
    "rules": "rules:rules",
    "silence": "silence:silence",
    "record": "record:record",
    "incidents": "incidents:incidents",
    "dashboard": "dashboard:dashboard",
    "tail": "tail:tail",
    "bridge": "bridge:bridge",
    "api": "api:api",
    "deliver": "api:deliver",
}


def _unreachable(exc: BaseException) -> str | None:
    """A person-readable line when a server the command needs is not answering."""
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    if kind.startswith("redis.exceptions") and "Connection" in kind:
        return f"Redis is not reachable ({exc}); check IOC_REDIS_URL, or use `ioc up`, which starts one"
    if kind.startswith("kafka.errors") and any(n in kind for n in ("NoBrokersAvailable", "KafkaConnection", "KafkaTimeout")):
        return f"Kafka is not reachable ({exc}); check IOC_KAFKA_BOOTSTRAP, or use `ioc up`, which starts a broker"
    return None


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = _unreachable(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if load_command(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)


def load_command(name: str) -> click.Command | None:
    """The sub-command ``name``, imported now; ``None`` when it is unknown or its module is not
    installed (a build without the dashboard), so ``ioc up`` can leave that part out."""
    target = COMMANDS.get(name)
    if target is None:
        return None
    module_name, attribute = target.split(":")
    try:
        module = importlib.import_module(f"cli.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"cli.{module_name}":
            return None
        raise
    command: click.Command = getattr(module, attribute)
    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ioc-router")
def main() -> None:
    """ioc-router: route city incidents to the post-merger ward that owns the place.

    Start with `ioc up` (embedded Kafka and Redis, worker, simulator, dashboard).

    Times (--at, --since, --start, --until, --valid-from, --valid-to) are ISO 8601 dates or
    date-times; one without an offset is Asia/Ho_Chi_Minh time in every command.
    """
    from streams import logredact

    logredact.redact_every_log_record()  # no token, password or phone number in any log line of any command
