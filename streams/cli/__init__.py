"""The ``ioc`` command line. Each sub-command lives in its own module and is imported lazily,
so ``ioc locate`` does not pay for Faust and ``ioc --help`` stays fast."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" under streams.cli
COMMANDS: dict[str, str] = {
    "up": "up:up",
    "worker": "worker:worker",
    "topics": "topics:topics",
    "simulate": "simulate:simulate",
    "devices": "devices:devices",
    "boundaries": "boundaries:boundaries",
    "locate": "locate:locate",
    "rules": "rules:rules",
    "record": "record:record",
    "incidents": "incidents:incidents",
    "dashboard": "dashboard:dashboard",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(f"streams.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"streams.cli.{module_name}":
                return None
            raise
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ioc-router")
def main() -> None:
    """ioc-router: route city incidents to the post-merger ward that owns the place.

    Start with `ioc up` (embedded Kafka and Redis, worker, simulator, dashboard).
    """
