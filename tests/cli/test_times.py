"""One parser and one rule for times on the command line (cli/times.py): a time without an offset
is Asia/Ho_Chi_Minh time in every command."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest

from cli import COMMANDS, load_command
from cli.times import TIME

# every option that takes a point in time, as (command path, option)
TIME_OPTIONS = {
    ("boundaries", "import", "--valid-from"), ("boundaries", "import", "--valid-to"),
    ("incidents", "list", "--since"),
    ("locate", "--at"),
    ("rules", "test", "--at"),
    ("silence", "add", "--start"), ("silence", "add", "--until"),
}
# same spelling, but a duration back from now (1h, 30m), not a time
DURATION_OPTIONS = {("record", "--since"), ("rules", "replay", "--since")}
TIME_LIKE_NAMES = {"--at", "--since", "--start", "--until", "--valid-from", "--valid-to", "--from", "--to"}


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(path: tuple[str, ...], command: click.Command) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk((*path, name), sub)

    for name in COMMANDS:
        command = load_command(name)
        assert command is not None, name
        walk((name,), command)
    return found


def _options() -> dict[tuple[str, ...], click.Option]:
    return {(*path, opt): param for path, command in _commands() for param in command.params
            if isinstance(param, click.Option) for opt in param.opts}


def test_every_time_option_uses_the_one_parser_and_says_the_rule() -> None:
    options = _options()
    time_like = {key for key in options if key[-1] in TIME_LIKE_NAMES}
    assert time_like == TIME_OPTIONS | DURATION_OPTIONS
    for key in TIME_OPTIONS:
        assert options[key].type is TIME, key
        assert "Asia/Ho_Chi_Minh when no offset" in (options[key].help or ""), key
    for key in DURATION_OPTIONS:
        assert options[key].type is not TIME, key


@pytest.mark.parametrize(("text", "instant"), [
    ("2026-11-22T08:00", datetime(2026, 11, 22, 1, 0, tzinfo=UTC)),
    ("2026-11-22T08:00:00+07:00", datetime(2026, 11, 22, 1, 0, tzinfo=UTC)),
    ("2026-11-22T01:00Z", datetime(2026, 11, 22, 1, 0, tzinfo=UTC)),
    ("2026-11-22", datetime(2026, 11, 21, 17, 0, tzinfo=UTC)),  # a date is its midnight in Ho Chi Minh City
])
def test_the_same_text_means_the_same_instant_in_every_command(text: str, instant: datetime) -> None:
    """Each command's own option parsing (click's, as `ioc` runs it) gives the same instant."""
    required = {"--match": "device=cam-1", "--author": "a", "--comment": "c"}  # silence add's
    seen = {}
    for key in sorted(TIME_OPTIONS):
        option = _options()[key]
        command = dict(_commands())[key[:-1]]
        args = [a for o in command.params if isinstance(o, click.Option) and o.required
                for a in (o.opts[0], required[o.opts[0]])]
        if key[:2] == ("boundaries", "import"):
            args.append("source.geojson")  # its SRC argument, never read: only the options are parsed
        ctx = command.make_context(" ".join(key[:-1]), [*args, key[-1], text])
        seen[key] = ctx.params[str(option.name)]
    assert all(v == instant for v in seen.values()), seen


def test_a_bad_time_is_a_usage_error_naming_the_rule() -> None:
    with pytest.raises(click.BadParameter, match=r"'July' is not an ISO date or time .*Asia/Ho_Chi_Minh when no offset"):
        TIME.convert("July", None, None)
