"""Times given on the command line: one parser and one rule for every ``ioc`` command.

A time is ISO 8601, a date (``2026-11-22``, its midnight) or a date-time (``2026-11-22T08:00``);
without an offset it is Asia/Ho_Chi_Minh time, as operators write it, and ``Z`` or ``+07:00`` say
the zone outright. So ``ioc rules test --at``, ``ioc silence add --start/--until``, ``ioc locate
--at``, ``ioc incidents list --since`` and ``ioc boundaries import --valid-from/--valid-to`` read
``2026-11-22T08:00`` as the same instant. Durations (``--since 1h`` of ``ioc record`` and ``ioc
rules replay``, ``--for 2h``) are not times and are not parsed here.
"""

from __future__ import annotations

from datetime import datetime

import click

from routers.rules.clock import parse_local_time

# appended to each time option's help, so `--help` states the rule where the option is
RULE = "ISO 8601; Asia/Ho_Chi_Minh when no offset"


class LocalTime(click.ParamType):
    """A click option type: the text -> an aware ``datetime`` (:func:`routers.rules.clock.parse_local_time`)."""

    name = "time"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):  # a default given as a datetime
            return parse_local_time(value.isoformat())
        try:
            return parse_local_time(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO date or time such as 2026-11-22 or 2026-11-22T08:00 ({RULE})",
                      param, ctx)


TIME = LocalTime()
