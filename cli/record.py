"""``ioc record``: capture real traffic into a JSONL file for ``ioc rules replay``.

    ioc record --topic ioc.in.reports --topic ioc.in.sensors --since 1h --out last-hour.jsonl
    ioc record --topic ioc.routed --follow 10m --out sample.jsonl

Reads without a consumer group (nothing is committed, the pipeline is not disturbed). The line
format is described in ``streams.rules_live.recordings``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from cli.progress import progress_printer
from routers.progress import tracked
from routers.rules.clock import parse_duration
from streams.settings import load_settings


def _seconds(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        return float(parse_duration(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


@click.command()
@click.option("--topic", "topic_names", multiple=True, required=True, help="Topic to record (repeatable).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL file to write ('-' for stdout).")
@click.option("--since", "since_text", help="Start this far back (e.g. 1h); default: from now.")
@click.option("--follow", "follow_text", help="Keep recording new messages for this long (e.g. 10m).")
@click.option("--max", "limit", type=click.IntRange(min=1), help="Stop after this many messages per topic.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object.")
def record(topic_names: tuple[str, ...], out_path: Path, since_text: str | None, follow_text: str | None,
           limit: int | None, as_json: bool) -> None:
    """Record messages from topics into a JSONL file for what-if replay."""
    from streams.rules_live.kafka_read import read_topic
    from streams.rules_live.recordings import record_line

    since_s, follow_s = _seconds(since_text, "--since"), _seconds(follow_text, "--follow")
    if since_s is None and follow_s is None:
        raise click.UsageError("give --since (read back from then to now) and/or --follow (record for this long)")
    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.ClickException("IOC_KAFKA_BOOTSTRAP is not set: nothing to record from")
    counts: dict[str, int] = {}
    handle = sys.stdout.buffer if str(out_path) == "-" else open(out_path, "wb")  # noqa: SIM115
    try:
        for topic in topic_names:
            counts[topic] = 0
            try:
                messages = read_topic(settings, topic, since_s, follow_s, limit)
                with progress_printer({f"recording {topic}": None}) as progress:
                    for message in tracked(messages, f"recording {topic}", progress):
                        handle.write(record_line(message.topic, message.partition, message.offset,
                                                 message.timestamp, message.key, message.value))
                        counts[topic] += 1
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
    finally:
        if handle is not sys.stdout.buffer:
            handle.close()
    total = sum(counts.values())
    if as_json:
        click.echo(orjson.dumps({"out": str(out_path), "messages": total, "by_topic": counts}).decode())
    else:
        click.echo(f"recorded {total} messages to {out_path} "
                   f"({', '.join(f'{t}: {n}' for t, n in counts.items())})", err=str(out_path) == "-")
