"""``ioc rules``: test, show, apply and replay routing rules.

    ioc rules test --rules rules.yaml --event fire.json [--at 2026-11-22T23:00] [--json]
    ioc rules test --rules rules.yaml --cases cases.yaml          # exits 1 on any mismatch (CI)
    ioc rules show [--rules rules.yaml] [--json | --schema]
    ioc rules apply rules.yaml                                   # validate, then publish to ioc.config.rules
    ioc rules replay --rules new.yaml [--against current.yaml] (--events rec.jsonl | --topic T --since 1h)

Without ``--rules``/``--against`` the *active* ruleset is used: the newest valid version on
``ioc.config.rules`` when ``IOC_KAFKA_BOOTSTRAP`` is set and one was applied, else
``IOC_RULES_FILE``, else the built-in default.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson

from cli.progress import progress_printer
from cli.times import RULE, TIME
from routers import limits
from routers.progress import tracked
from routers.rules import Ruleset, RulesFileError, load_ruleset
from routers.rules.cases import CaseError, parse_probe, run_cases
from routers.rules.clock import LOCAL_TZ, parse_duration
from streams.settings import load_settings


def _json(obj: Any) -> None:
    click.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())


def _human_s(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _refuse(error: RulesFileError, as_json: bool) -> None:
    if as_json:
        _json({"ok": False, "source": error.source, "problems": [p.to_json() for p in error.problems]})
    else:
        click.echo(f"refused: {error.source} has {len(error.problems)} problem(s)", err=True)
        click.echo(str(error), err=True)
    sys.exit(1)


def _load_file(path: Path, as_json: bool) -> Ruleset:
    try:
        text = limits.read_text(path, limits.RULES_FILE_BYTES, "rules")
    except (OSError, UnicodeDecodeError, limits.TooLarge) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    try:
        return load_ruleset(text, str(path))
    except RulesFileError as error:
        _refuse(error, as_json)
        raise  # unreachable: _refuse exits


def _active(as_json: bool) -> tuple[Ruleset, str]:
    """The active ruleset and a phrase saying where it came from."""
    from streams.rules_live.active import initial_ruleset

    settings = load_settings()
    if settings.kafka_bootstrap:
        from streams.rules_live.kafka_read import fetch_applied

        try:
            applied = fetch_applied(settings.kafka_bootstrap)
        except Exception as exc:  # a broker that is down must not hide the file/default fallback
            raise click.ClickException(f"cannot read the applied rules from {settings.kafka_bootstrap}: {exc}") from None
        if applied is not None:
            return applied[0], f"applied on ioc.config.rules by {applied[1] or '?'}"
    try:
        ruleset = initial_ruleset(settings.rules_file)
    except RulesFileError as error:
        _refuse(error, as_json)
        raise
    return ruleset, (f"IOC_RULES_FILE {settings.rules_file}" if settings.rules_file else "built-in default")


def _pick(path: Path | None, as_json: bool) -> tuple[Ruleset, str]:
    return (_load_file(path, as_json), str(path)) if path is not None else _active(as_json)


@click.group()
def rules() -> None:
    """Routing rules: test a change, see the tree, apply it live, replay recorded traffic."""


# ------------------------------------------------------------------------------------------ test
@rules.command("test")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Rules file (default: the active ruleset).")
@click.option("--event", "event_path", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
              help="Test event JSON ('-' for stdin): event fields + optional location/context.")
@click.option("--cases", "cases_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Case table YAML; exits 1 on any mismatch.")
@click.option("--at", "at", type=TIME, help=f"Evaluate at this time ({RULE}).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def test_command(rules_path: Path | None, event_path: Path | None, cases_path: Path | None, at: datetime | None,
                 as_json: bool) -> None:
    """Show the walk through the route tree for one event, or run a table of cases."""
    if (event_path is None) == (cases_path is None):
        raise click.UsageError("give exactly one of --event or --cases")
    ruleset, origin = _pick(rules_path, as_json)
    if cases_path is not None:
        _run_cases(ruleset, origin, cases_path, as_json)
        return
    assert event_path is not None
    try:
        raw = (sys.stdin.buffer.read(limits.EVENT_FILE_BYTES + 1) if str(event_path) == "-"
               else limits.read_bytes(event_path, limits.EVENT_FILE_BYTES, "event"))
        if len(raw) > limits.EVENT_FILE_BYTES:
            raise limits.TooLarge(f"stdin: more than the {limits.EVENT_FILE_BYTES // limits.MiB} MiB cap for events")
    except (OSError, limits.TooLarge) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        data = orjson.loads(raw)
        probe = parse_probe(data) if "topic" not in data else _probe_from_recording(data)
    except (orjson.JSONDecodeError, CaseError, AttributeError, TypeError) as exc:
        raise click.ClickException(f"{event_path}: {exc}") from None
    _test_one(ruleset, origin, probe, at, as_json)


def _probe_from_recording(line: dict[str, Any]) -> Any:
    from routers.rules.cases import Probe
    from streams.rules_live.recordings import make_locator, place

    settings = load_settings()
    placed = place(line, make_locator(settings.data_dir, settings.nearest_max_m, settings.redis_url))
    if placed.event is None or placed.location is None:
        raise CaseError(f"the message would go to dead-letter ({placed.rejected})")
    from routers.rules import RuleContext

    return Probe(placed.event, placed.location, RuleContext())


def _test_one(ruleset: Ruleset, origin: str, probe: Any, at: datetime | None, as_json: bool) -> None:
    from routers.rules.evaluate import build_facts, evaluate_with_state, walk

    outcome = evaluate_with_state(ruleset, probe.event, probe.location, at, probe.context)
    decision = outcome.decision
    if as_json:
        _json({**decision.to_json(), "group_window_s": decision.group_window_s,
               "rules_version": decision.rules_version, "trace": list(decision.trace),
               "state": {"sensor": None if outcome.changes.sensor is None else outcome.changes.sensor.to_json(),
                         "raised": [i.to_json() for i in outcome.changes.raised]}})
        return
    facts, _ = build_facts(ruleset, probe.event, probe.location, at, probe.context)
    event = probe.event
    moment = (at or event.occurred_at)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)
    click.echo(f"rules    {ruleset.version}  ({origin})")
    ward = facts.ward or "+".join(facts.wards) or "-"
    click.echo(f"event    {event.source}/{event.kind} {event.id} at "
               f"{moment.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M %a} (Asia/Ho_Chi_Minh); "
               f"location {probe.location.status}, ward {ward}")
    click.echo("walk")
    for step in walk(ruleset, facts):
        mark = click.style("✓", fg="green") if step.matched else click.style("✗", fg="red")
        tail = "  <- delivers" if step.delivered else ""
        extra = " (continue)" if step.route.continue_ and step.matched else ""
        why = step.decided_by if step.matched else f"fails: {step.decided_by}"
        click.echo(f"  {'  ' * step.depth}{mark} {step.route.id}{extra}: {why}{tail}")
    click.echo("result")
    click.echo(f"  targets     {', '.join(decision.targets)}")
    click.echo(f"  priority    {decision.priority}   sla: acknowledge {_human_s(decision.sla.ack_s)}, "
               f"resolve {_human_s(decision.sla.resolve_s)}")
    click.echo(f"  matched     {', '.join(decision.matched)}")
    click.echo(f"  group       {decision.group_key} (window {_human_s(decision.group_window_s)})")
    click.echo(f"  suppressed  {decision.suppressed or 'no'}")
    if outcome.changes.sensor is not None:
        click.echo(f"  sensor      now open: {', '.join(sorted(outcome.changes.sensor.open)) or 'none'}")
    for inhibitor in outcome.changes.raised:
        click.echo(f"  raises      inhibitor {inhibitor.key} for {_human_s(int(inhibitor.until_epoch - facts.epoch))}")


def _run_cases(ruleset: Ruleset, origin: str, path: Path, as_json: bool) -> None:
    try:
        results = run_cases(ruleset, limits.read_text(path, limits.CASES_FILE_BYTES, "rules cases"), str(path))
    except (CaseError, OSError, UnicodeDecodeError, limits.TooLarge) as exc:
        raise click.ClickException(str(exc)) from None
    failed = [r for r in results if not r.ok]
    if as_json:
        _json({"rules_version": ruleset.version, "passed": len(results) - len(failed), "failed": len(failed),
               "cases": [{"name": r.name, "ok": r.ok, "problems": r.problems} for r in results]})
    else:
        click.echo(f"rules {ruleset.version} ({origin}), cases {path}")
        for result in results:
            status = click.style("PASS", fg="green") if result.ok else click.style("FAIL", fg="red")
            click.echo(f"  {status} {result.name}")
            for problem in result.problems:
                click.echo(f"         {problem}")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


# ------------------------------------------------------------------------------------------ show
@rules.command("show")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Rules file (default: the active ruleset).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--schema", is_flag=True, help="Print the rules file's JSON Schema instead.")
def show(rules_path: Path | None, as_json: bool, schema: bool) -> None:
    """Print the route tree with inherited options resolved (validates the file too)."""
    if schema:
        from routers.rules.schema import rules_schema

        _json(rules_schema())
        return
    ruleset, origin = _pick(rules_path, as_json)
    routes = [
        {"id": r.id, "path": list(r.path), "depth": len(r.path) - 1, "match": [m.text for m in r.matchers],
         "continue": r.continue_, "targets": list(r.targets), "priority": r.priority,
         "sla": {"ack_s": r.sla.ack_s, "resolve_s": r.sla.resolve_s}, "group_by": list(r.group_by),
         "group_window_s": r.group_window_s, "suppress": r.suppress,
         "mute_time_intervals": [i.name for i in r.mute_intervals],
         "active_time_intervals": [i.name for i in r.active_intervals]}
        for r in ruleset.routes()
    ]
    if as_json:
        _json({
            "version": ruleset.version, "origin": origin, "agencies": list(ruleset.agencies), "routes": routes,
            "thresholds": [{"id": t.id, "sensor_kind": t.sensor_kind, "direction": "above" if t.rising else "below",
                            "level": t.level, "clear": t.clear} for t in ruleset.thresholds],
            "quiet_windows": [{"id": q.id, "match": [m.text for m in q.matchers], "from_epoch": q.start_epoch,
                               "until_epoch": q.end_epoch} for q in ruleset.quiet_windows],
            "inhibit_rules": [{"id": i.id, "source": [m.text for m in i.source],
                               "target": [m.text for m in i.target], "scope": i.scope, "hold_s": i.hold_s,
                               "equal": list(i.equal)}
                              for i in ruleset.inhibit_rules],
            "time_intervals": {name: len(named.intervals) for name, named in ruleset.time_intervals.items()},
        })
        return
    click.echo(f"rules {ruleset.version} ({origin}); {len(routes)} routes")
    for r in ruleset.routes():
        indent = "  " * (len(r.path) - 1)
        flags = " [continue]" if r.continue_ else ""
        flags += f" [suppress: {r.suppress}]" if r.suppress else ""
        flags += f" [muted in: {', '.join(i.name for i in r.mute_intervals)}]" if r.mute_intervals else ""
        flags += f" [active in: {', '.join(i.name for i in r.active_intervals)}]" if r.active_intervals else ""
        click.echo(f"{indent}- {r.id}{flags}: {'; '.join(m.text for m in r.matchers) or 'matches everything'}")
        click.echo(f"{indent}    -> {', '.join(r.targets)}  {r.priority}  ack {_human_s(r.sla.ack_s)} "
                   f"resolve {_human_s(r.sla.resolve_s)}  group by {','.join(r.group_by) or '-'} "
                   f"within {_human_s(r.group_window_s)}")
    for t in ruleset.thresholds:
        direction = ">=" if t.rising else "<"
        click.echo(f"threshold {t.id}: {t.sensor_kind} {direction} {t.level:g} opens, clears past {t.clear:g}")
    for q in ruleset.quiet_windows:
        click.echo(f"quiet window {q.id}: {'; '.join(m.text for m in q.matchers)}")
    for i in ruleset.inhibit_rules:
        equal = f" with equal {', '.join(i.equal)}" if i.equal else ""
        click.echo(f"inhibit {i.id}: {'; '.join(m.text for m in i.source)} holds back "
                   f"{'; '.join(m.text for m in i.target)} in its {i.scope}{equal} for {_human_s(i.hold_s)}")
    for name, named in ruleset.time_intervals.items():
        click.echo(f"time interval {name}: {len(named.intervals)} entr{'y' if len(named.intervals) == 1 else 'ies'}")


# ----------------------------------------------------------------------------------------- apply
@rules.command("apply")
@click.argument("rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "applied_by", help="Who applies it (default: user@host).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def apply(rules_path: Path, applied_by: str | None, as_json: bool) -> None:
    """Validate RULES_PATH, then publish it to ioc.config.rules: every worker switches to it."""
    ruleset = _load_file(rules_path, as_json)  # refuses (exit 1) before anything is published
    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.ClickException("IOC_KAFKA_BOOTSTRAP is not set: cannot reach the workers' broker "
                                   "(the file is valid; nothing was published)")
    from streams.rules_live.publish import publish_rules

    try:
        published = publish_rules(settings.kafka_bootstrap, ruleset, applied_by)
    except Exception as exc:  # kafka errors come in many classes; the message is what matters here
        raise click.ClickException(f"publishing to {settings.kafka_bootstrap} failed: {exc}") from None
    if as_json:
        _json({"ok": True, "version": published.version, "topic": published.topic,
               "partition": published.partition, "offset": published.offset, "applied_by": published.applied_by})
    else:
        click.echo(f"applied {published.version} to {published.topic} (offset {published.offset}) "
                   f"as {published.applied_by}; workers switch on their next batch (see metric ioc_rules_info)")


# ---------------------------------------------------------------------------------------- replay
@rules.command("replay")
@click.option("--rules", "rules_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The new rules file.")
@click.option("--against", "against_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The rules to compare with (default: the active ruleset).")
@click.option("--events", "events_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Recorded events (JSONL, as written by `ioc record`).")
@click.option("--topic", help="Read recorded traffic from this topic instead.")
@click.option("--since", "since_text", help="With --topic: how far back, e.g. 1h, 30m, 2d.")
@click.option("--examples", default=5, show_default=True, help="How many changed events to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def replay_command(rules_path: Path, against_path: Path | None, events_path: Path | None, topic: str | None,
                   since_text: str | None, examples: int, as_json: bool) -> None:
    """Run recorded events through both rulesets (no side effects) and report what changes."""
    from routers.rules.replay import replay

    if (events_path is None) == (topic is None):
        raise click.UsageError("give exactly one of --events FILE or --topic T --since DURATION")
    if topic is not None and since_text is None:
        raise click.UsageError("--topic needs --since (e.g. --since 1h)")
    new = _load_file(rules_path, as_json)
    current, origin = _pick(against_path, as_json)
    counters: dict[str, Any] = {"deadletter": 0, "skipped": 0}
    lines = _lines_from_file(events_path) if events_path is not None else _lines_from_topic(topic, since_text)
    items = _placed(lines, counters)
    with progress_printer({"replaying": _count_lines(events_path) if events_path else None}) as progress:
        report = replay(current, new, tracked(items, "replaying", progress), examples=examples)
    if as_json:
        _json({**report.to_json(), "against": origin, "deadletter": counters["deadletter"],
               "skipped": counters["skipped"], "first_skip": counters.get("first_skip")})
        return
    _print_report(report, origin, counters)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def _lines_from_file(path: Path) -> Iterator[dict[str, Any]]:
    from streams.rules_live.recordings import read_lines

    yield from read_lines(path)


def _lines_from_topic(topic: str | None, since_text: str | None) -> Iterator[dict[str, Any]]:
    from streams.rules_live.kafka_read import read_topic

    settings = load_settings()
    if not settings.kafka_bootstrap:
        raise click.ClickException("IOC_KAFKA_BOOTSTRAP is not set: cannot read --topic")
    try:
        since_s = parse_duration(since_text or "")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    for message in read_topic(settings.kafka_bootstrap, str(topic), since_s):
        try:
            value = orjson.loads(message.value) if message.value is not None else None
        except orjson.JSONDecodeError:
            value = None
        if value is None and message.value is not None:
            yield {"_error": f"{message.topic}@{message.partition}:{message.offset}: value is not JSON"}
        else:
            yield {"topic": message.topic, "value": value}


def _placed(lines: Iterator[dict[str, Any]], counters: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    from streams.rules_live.recordings import make_locator, place

    locate: list[Callable[[Any], Any]] = []

    def lazy_locate(event: Any) -> Any:
        if not locate:  # boundaries load only when a raw intake line needs them
            settings = load_settings()
            locate.append(make_locator(settings.data_dir, settings.nearest_max_m, settings.redis_url))
        return locate[0](event)

    for line in lines:
        try:
            placed = place(line, lazy_locate)
        except CaseError as exc:  # one unusable line must not abort a replay: count it and say why
            counters["skipped"] += 1
            counters.setdefault("first_skip", str(exc))  # type: ignore[arg-type]
            continue
        if placed.event is None or placed.location is None:
            counters["deadletter"] += 1
            continue
        yield placed.event, placed.location


def _print_report(report: Any, origin: str, counters: dict[str, Any]) -> None:
    click.echo(f"replayed {report.total} events: {report.before_version} ({origin}) -> {report.after_version}")
    click.echo(f"  {report.changed_any} decisions differ: {report.changed_targets} change target, "
               f"{report.changed_priority} change priority, {report.changed_suppression} change suppression")
    click.echo(f"  {report.unplaced} unplaced (unresolved location), {counters['deadletter']} would go to dead-letter")
    if counters["skipped"]:
        click.echo(f"  {counters['skipped']} lines skipped (first: {counters['first_skip']})")
    shift = sorted(report.load_shift().items(), key=lambda kv: (-abs(kv[1][2]), kv[0]))
    if shift:
        click.echo("load shift (deliveries that open work, not suppressed):")
        click.echo(f"  {'target':<28} {'before':>7} {'after':>7} {'delta':>7}")
        for name, (before, after, delta) in shift[:25]:
            click.echo(f"  {name:<28} {before:>7} {after:>7} {delta:>+7}")
        if len(shift) > 25:
            click.echo(f"  ... {len(shift) - 25} more (use --json)")
    else:
        click.echo("no load shift")
    if report.examples:
        click.echo("examples:")
        for example in report.examples:
            e, a, b = example.event, example.before, example.after
            click.echo(f"  {e.id} {e.source}/{e.kind}:")
            click.echo(f"    before {', '.join(a.targets)} {a.priority} [{', '.join(a.matched)}]"
                       f"{' suppressed ' + a.suppressed if a.suppressed else ''}")
            click.echo(f"    after  {', '.join(b.targets)} {b.priority} [{', '.join(b.matched)}]"
                       f"{' suppressed ' + b.suppressed if b.suppressed else ''}")
