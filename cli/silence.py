"""``ioc silence``: mute matching events for a while, with an author and a comment (like amtool).

    ioc silence add --match device=cam-q1-017 --for 2h --author an --comment "camera under repair"
    ioc silence add --match category=water_supply --match ward=27139 --until 2026-11-22T18:00 ...
    ioc silence list [--all] [--json]
    ioc silence expire ID [--json]

Silences live on the compacted topic ``ioc.config.silences``; every worker follows it and applies
a new one within about a second. Matchers are the rules' (``docs/rules.md``): ``FIELD=VALUE``,
``FIELD!=VALUE``, ``FIELD=~REGEX``, ``FIELD!~REGEX``; all must hold.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import datetime
from typing import Any

import click
import orjson

from cli.times import RULE, TIME
from routers.rules.clock import LOCAL_TZ, parse_duration
from routers.rules.silences import SilenceError, new_silence
from streams.settings import load_settings


def _json(obj: Any) -> None:
    click.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())


def _bootstrap() -> str:
    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.ClickException("IOC_KAFKA_BOOTSTRAP is not set: silences live on the workers' broker")
    return settings.kafka_bootstrap


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _left(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


@click.group()
def silence() -> None:
    """Silences: hold back matching events for a while, with an author and a comment."""


@silence.command("add")
@click.option("--match", "matchers", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A matcher (repeat for more; all must hold): FIELD=VALUE, FIELD!=VALUE, FIELD=~RE, FIELD!~RE.")
@click.option("--for", "duration", metavar="DURATION", help="How long from the start, e.g. 2h, 90m, 1d.")
@click.option("--until", "until", type=TIME, metavar="TIME", help=f"When it ends ({RULE}).")
@click.option("--start", "start", type=TIME, metavar="TIME", help=f"When it starts (default: now; {RULE}).")
@click.option("--author", required=True, help="Who silences (shown on the dashboard).")
@click.option("--comment", required=True, help="Why (shown on the dashboard).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def add(matchers: tuple[str, ...], duration: str | None, until: datetime | None, start: datetime | None, author: str,
        comment: str, as_json: bool) -> None:
    """Create a silence and publish it to ioc.config.silences."""
    if (duration is None) == (until is None):
        raise click.UsageError("give exactly one of --for DURATION or --until TIME")
    now = time.time()
    starts = start.timestamp() if start else now
    if until is not None:
        ends = until.timestamp()
    else:  # --for, as exactly one of the two was given
        try:
            ends = starts + parse_duration(str(duration))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    if ends <= now:
        raise click.BadParameter("the silence would already be over", param_hint="--until")
    try:
        made = new_silence(list(matchers), starts_at=starts, ends_at=ends, created_by=author, comment=comment,
                           silence_id=str(uuid.uuid4()))
    except SilenceError as exc:
        if as_json:
            _json({"ok": False, "problems": exc.problems})
        else:
            click.echo("refused:", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
        sys.exit(1)
    from streams.rules_live.silences import publish_silence

    offset = publish_silence(_bootstrap(), made)
    if as_json:
        _json({"ok": True, "offset": offset, **made.describe(now)})
    else:
        click.echo(f"silence {made.id}: {' '.join(made.match)} until {_local(made.ends_at)} "
                   f"({_left(made.ends_at - now)}) by {made.created_by}")


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_command(show_all: bool, as_json: bool) -> None:
    """Active and pending silences (with --all, expired ones too)."""
    from streams.rules_live.silences import read_silences

    now = time.time()
    shown = [s for s in read_silences(_bootstrap()).all() if show_all or s.state(now) != "expired"]
    if as_json:
        _json({"silences": [s.describe(now) for s in shown]})
        return
    if not shown:
        click.echo("no silences")
        return
    for s in shown:
        left = _left(s.ends_at - now) if s.state(now) != "expired" else "-"
        click.echo(f"{s.id}  {s.state(now):<8} {' '.join(s.match)}")
        click.echo(f"    {_local(s.starts_at)} -> {_local(s.ends_at)} (left {left})  {s.created_by}: {s.comment}")


@silence.command("expire")
@click.argument("silence_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def expire(silence_id: str, as_json: bool) -> None:
    """End a silence now."""
    from streams.rules_live.silences import publish_silence, read_silences

    bootstrap = _bootstrap()
    held = read_silences(bootstrap).get(silence_id)
    if held is None:
        raise click.ClickException(f"no silence {silence_id!r} (see `ioc silence list --all`)")
    now = time.time()
    if held.state(now) == "expired":
        raise click.ClickException(f"silence {silence_id} already expired at {_local(held.ends_at)}")
    ended = held.expired_at(now)
    publish_silence(bootstrap, ended)
    if as_json:
        _json({"ok": True, **ended.describe(now)})
    else:
        click.echo(f"silence {silence_id} expired at {_local(now)}")
