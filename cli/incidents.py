"""``ioc incidents``: look at incidents in the serving index and act as a ward system would.

    ioc incidents list --ward 27142 --status open
    ioc incidents show inc-... [--json]
    ioc incidents ack inc-... --ward 27142
    ioc incidents dispatch inc-... --ward 27142 --as agency:flood-control
    ioc incidents resolve inc-... --ward 27142 --outcome fixed --summary "Drain cleared"
    ioc incidents update inc-... reassigned --ward 27142 --to-ward 26740 --note "other side of the canal"

Reads use Redis (``IOC_REDIS_URL``); updates are published on the actor's own status topic
(``ioc.status.<ward>``, ``ioc.status.agency.<name>``, ``ioc.status.city-ioc``; ``IOC_KAFKA_BOOTSTRAP``)
exactly as the contract in ``streams/contracts/status.schema.json`` says, keyed by the ward. The
command then waits for the lifecycle's verdict: exit 0 applied, 1 refused (the reason is printed),
3 no verdict within ``--timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime
from typing import Any

import click
import orjson

from cli.times import RULE, TIME
from routers.incidents.model import evidence_total
from streams.settings import load_settings

_STATUSES = ["acknowledged", "dispatched", "waiting_citizen", "resolved", "closed", "reopened", "reassigned"]


def _print_json(body: Any) -> None:
    click.echo(orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode())


def _with_index(action: Any) -> Any:
    settings = load_settings()
    if not settings.redis_url:
        raise click.UsageError("IOC_REDIS_URL is not set (the serving index lives in Redis)")
    redis_url: str = settings.redis_url

    async def main() -> Any:
        import redis.asyncio as aioredis

        from streams.lifecycle.serving import IncidentIndex

        client = aioredis.from_url(redis_url)
        try:
            return await action(IncidentIndex(client, settings.app_id))
        finally:
            await client.aclose()

    return asyncio.run(main())


@click.group()
def incidents() -> None:
    """Incidents: list and show them, or send a ward's status update."""


@incidents.command("list")
@click.option("--ward", help="5-digit ward code.")
@click.option("--status", help="Comma-separated statuses; 'open' means every open one.")
@click.option("--since", type=TIME, help=f"Updated at or after this time ({RULE}).")
@click.option("--limit", default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def list_incidents(ward: str | None, status: str | None, since: datetime | None, limit: int, as_json: bool) -> None:
    """Open and recent incidents, newest first."""
    from routers.exceptions import Rejected
    from streams.lifecycle.queries import parse_query

    try:
        query = parse_query({"ward": ward or "", "status": status or "", "since": since.isoformat() if since else "",
                             "limit": str(limit)})
    except Rejected as rejected:
        raise click.BadParameter(rejected.detail) from None
    found = _with_index(lambda index: index.list(query))
    if as_json:
        _print_json({"incidents": found, "count": len(found)})
        return
    if not found:
        click.echo("no incidents")
        return
    click.echo(f"{'INCIDENT':42} {'WARD':6} {'PRI':3} {'STATUS':16} {'FAMILY':14} {'EV':>3}  UPDATED")
    for body in found:
        click.echo(f"{body['id']:42} {body['ward']:6} {body['priority']:3} {body['status']:16} "
                   f"{body['family']:14} {evidence_total(body):>3}  {body['updated_at']}")


@incidents.command()
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def show(incident_id: str, as_json: bool) -> None:
    """One incident with its evidence and full history."""
    body = _with_index(lambda index: index.get(incident_id))
    if body is None:
        if as_json:
            _print_json({"error": "unknown_incident", "incident_id": incident_id})
        else:
            click.echo(f"no incident {incident_id} (unknown or aged out)", err=True)
        sys.exit(1)
    if as_json:
        _print_json(body)
        return
    click.echo(f"{body['id']}  {body['priority']}  {body['status']}  ward {body['ward']} {body['ward_name']}")
    click.echo(f"  family {body['family']}, targets {', '.join(body['targets'])}")
    click.echo(f"  acknowledge by {body['ack_due']}, resolve by {body['resolve_due']}; "
               f"escalation level {body['escalation_level']}")
    kept = "" if evidence_total(body) == len(body["evidence"]) else f", {len(body['evidence'])} kept"
    click.echo(f"  evidence ({evidence_total(body)}{kept}):")
    for item in body["evidence"]:
        flag = f" [suppressed: {item['suppressed']}]" if item.get("suppressed") else ""
        click.echo(f"    {item['occurred_at']}  {item['source']:7} {item['kind']:16} {item['event_id']}{flag}")
    click.echo("  history:")
    for entry in body["history"]:
        note = f"  - {entry['note']}" if entry.get("note") else ""
        click.echo(f"    {entry['seq']:>3}. {entry['at']}  {entry['status']:16} by {entry['actor']} (ward {entry['ward']}){note}")


NO_VERDICT_EXIT = 3


def _publish(update: dict[str, Any], sender: str, timeout_s: float, as_json: bool) -> None:
    from kafka import KafkaProducer

    from routers import topics
    from streams import kafka_clients
    from streams.lifecycle.contract import parse_status_update
    from streams.lifecycle.verdict import Watch

    raw = orjson.dumps(update)
    parse_status_update(raw)  # refuse locally what the worker would dead-letter for its shape
    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.UsageError("IOC_KAFKA_BOOTSTRAP is not set")
    topic = topics.status_topic_of(sender)
    options = kafka_clients.kafka_python(settings)
    with Watch(options) as watch:
        producer = KafkaProducer(acks="all", **options)
        try:
            producer.send(topic, key=update["ward"].encode(), value=raw).get(timeout=30)
        finally:
            producer.close()
        verdict = watch.wait(update["update_id"], timeout_s)
    sent = {"topic": topic, "update": update}
    if verdict is None:
        if as_json:
            _print_json({**sent, "verdict": None, "error": "no_verdict", "timeout_s": timeout_s})
        else:
            click.echo(f"sent {update['status']} for {update['incident_id']} on {topic}, but no verdict within "
                       f"{timeout_s:g} s (is a worker running?)", err=True)
        sys.exit(NO_VERDICT_EXIT)
    if as_json:
        _print_json({**sent, "verdict": verdict.to_json()})
    elif verdict.applied:
        click.echo(f"applied: {update['incident_id']} is {verdict.status} (version {verdict.version})")
    else:
        click.echo(f"refused: {verdict.reason}: {verdict.detail}", err=True)
    if not verdict.applied:
        sys.exit(1)


def _sender(ward: str, acting_as: str | None) -> str:
    """The actor whose topic carries the update: the ward itself unless ``--as`` names another."""
    from routers import topics

    sender = acting_as or f"ward:{ward}"
    try:
        topics.status_topic_of(sender)
    except ValueError:
        raise click.BadParameter(f"{sender!r}: use ward:<code>, agency:<name> or city-ioc", param_hint="--as") from None
    return sender


def _send(incident_id: str, status: str, ward: str, actor: str | None, note: str | None, to_ward: str | None,
          outcome: str | None, summary: str | None, as_json: bool, acting_as: str | None = None,
          timeout_s: float = 30.0) -> None:
    from routers.exceptions import Rejected

    update: dict[str, Any] = {"update_id": f"cli-{uuid.uuid4()}", "incident_id": incident_id, "ward": ward,
                              "status": status, "actor": actor or "ioc-cli"}
    if note:
        update["note"] = note
    if to_ward:
        update["to_ward"] = to_ward
    if outcome or summary:
        update["result"] = {k: v for k, v in (("outcome", outcome), ("summary", summary)) if v}
    try:
        _publish(update, _sender(ward, acting_as), timeout_s, as_json)
    except Rejected as rejected:
        raise click.UsageError(f"{rejected.reason}: {rejected.detail}") from None


_common = [
    click.option("--ward", required=True, help="The incident's ward (for a ward system: its own code)."),
    click.option("--as", "acting_as", metavar="ACTOR",
                 help="Send as agency:<name> or city-ioc (default: the ward); the update goes on that actor's topic."),
    click.option("--actor", help="Officer or system id."),
    click.option("--note"),
    click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True,
                 help="Seconds to wait for the lifecycle's verdict."),
    click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts."),
]


def _options(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@incidents.command()
@click.argument("incident_id")
@click.argument("status", type=click.Choice(_STATUSES))
@_options
@click.option("--to-ward", help="With reassigned: the ward that owns the place.")
@click.option("--outcome", type=click.Choice(["fixed", "no_action_needed", "duplicate", "referred", "not_found"]))
@click.option("--summary", help="With resolved: the text sent back to the citizen.")
def update(incident_id: str, status: str, ward: str, acting_as: str | None, actor: str | None, note: str | None,
           timeout_s: float, as_json: bool, to_ward: str | None, outcome: str | None, summary: str | None) -> None:
    """Send a status update as a ward system (or agency, city IOC) would, and wait for the verdict.

    An agency or the city IOC hands an incident back to its ward with `reassigned --to-ward <its ward>`."""
    _send(incident_id, status, ward, actor, note, to_ward, outcome, summary, as_json, acting_as, timeout_s)


@incidents.command()
@click.argument("incident_id")
@_options
def ack(incident_id: str, ward: str, acting_as: str | None, actor: str | None, note: str | None, timeout_s: float,
        as_json: bool) -> None:
    """Acknowledge an incident (shortcut for `update ID acknowledged`)."""
    _send(incident_id, "acknowledged", ward, actor, note, None, None, None, as_json, acting_as, timeout_s)


@incidents.command()
@click.argument("incident_id")
@_options
def dispatch(incident_id: str, ward: str, acting_as: str | None, actor: str | None, note: str | None,
             timeout_s: float, as_json: bool) -> None:
    """Dispatch a team to an incident (shortcut for `update ID dispatched`)."""
    _send(incident_id, "dispatched", ward, actor, note, None, None, None, as_json, acting_as, timeout_s)


@incidents.command()
@click.argument("incident_id")
@_options
@click.option("--outcome", default="fixed", show_default=True,
              type=click.Choice(["fixed", "no_action_needed", "duplicate", "referred", "not_found"]))
@click.option("--summary", help="The text sent back to the citizen on ioc.out.results.")
def resolve(incident_id: str, ward: str, acting_as: str | None, actor: str | None, note: str | None,
            timeout_s: float, as_json: bool, outcome: str, summary: str | None) -> None:
    """Resolve an incident; its citizen reports get a result on ioc.out.results."""
    _send(incident_id, "resolved", ward, actor, note, None, outcome, summary, as_json, acting_as, timeout_s)
