"""Evaluate one located event against a ruleset: a pure function, state in, decision + changes out.

Route tree semantics are Alertmanager's (``dispatch/route.go`` ``Route.Match``), exactly:

    match(node):
        if not all of node's matchers hold: return []
        found = []
        for child in node.children (file order):
            child_found = match(child)
            found += child_found
            if child_found and not child.continue: break
        if not found: found = [node]      # no child matched: the node itself does
        return found

The root has no matchers, so every event gets at least the root (the default route): each
input ends in exactly one decision. The matched nodes are merged into one :class:`Decision`:
targets are their union in walk order; priority is the most urgent (P1 < P4); the SLA takes the
shortest acknowledge and resolve; ``group_key``/``group_window_s`` come from the primary node:
the first matched node without ``continue`` (else the first matched node), as
``<node id>|<field>=<value>|...`` over its ``group_by``. A node's ``suppress: reason`` marks the
decision suppressed only when every matched node suppresses (e.g. normal sensor readings).

Where the located ward cannot be used, the target ``ward`` becomes:

- ambiguous location: every candidate ward (``ward:<code>`` each, in candidate order), so no ward
  that may own the place misses it; the trace says so. No candidates: ``city-ioc``.
- unresolved location: ``city-ioc`` (the pipeline sends unresolved events to ``ioc.unroutable``
  before evaluating, so this is only a safety net).

Then :mod:`routers.rules.holdback` decides whether the event is held back (quiet window,
silence, inhibition, in that order); otherwise, when every matched node is muted by its
``mute_time_intervals``/``active_time_intervals``, it is ``muted:<node>`` (a muted node among
unmuted ones only loses its targets). Suppressed decisions keep their targets. Every event
matching an inhibit rule's ``source`` raises/refreshes an inhibitor over its ward or province,
held back or not. :func:`prepare` does everything up to holding back and :func:`finish` the
rest, so a batch (:mod:`routers.rules.batch`) can collect every inhibitor it raises first.

Time: ``at`` (default ``event.occurred_at``; a naive value is Asia/Ho_Chi_Minh local time) drives
time/weekday matchers, quiet windows and inhibitor expiry; the local minute of day and weekday are
computed at most once, when a time/weekday matcher first reads them.

What the pipeline calls::

    state = SensorState.from_json(table[event.device_id])          # sensors only; None if absent
    result = evaluate_with_state(ruleset, event, location, context=RuleContext(state, inhibitors))
    if result.changes.sensor is not None: table[event.device_id] = result.changes.sensor.to_json()
    for inhibitor in result.changes.raised: share(inhibitor.key, inhibitor.to_json())
    publish(result.decision)

``evaluate(...)`` is the same returning only the decision (for callers without state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from routers.categories import SENSOR_KINDS, family_of
from routers.decision import Decision, Priority, Sla
from routers.events import Event
from routers.locate.result import Location
from routers.rules.clock import as_aware
from routers.rules.holdback import held_back, raise_inhibitors
from routers.rules.matchers import Facts, first_failure
from routers.rules.model import Route, Ruleset
from routers.rules.silences import SilenceIndex
from routers.rules.state import EMPTY_CONTEXT, NO_CHANGE, Inhibitor, RuleContext, SensorState, StateChange


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    changes: StateChange


def _sensor_value(event: Event) -> float | None:
    value = event.value
    if value is None or event.unit is None:
        return value
    spec = SENSOR_KINDS.get(event.kind)
    if spec is None or event.unit == spec[0]:
        return value
    factor = spec[2].get(event.unit)
    return value * factor if factor is not None else value


def build_facts(
    ruleset: Ruleset, event: Event, location: Location, at: datetime | None, context: RuleContext
) -> tuple[Facts, StateChange]:
    """The facts the matchers read, and the sensor's threshold transitions for this reading."""
    source = event.source  # a StrEnum: compares and hashes as its value
    kind = event.kind
    ward_ref = location.ward
    if location.status == "resolved" and ward_ref is not None:
        ward: str | None = ward_ref.code
        wards: tuple[str, ...] = (ward_ref.code,)
    elif location.status == "ambiguous":
        ward = ward_ref.code if ward_ref is not None else None
        codes = [c.code for c in location.candidates]
        if ward is not None and ward not in codes:
            codes.insert(0, ward)
        wards = tuple(dict.fromkeys(codes))
    else:
        ward, wards = None, ()
    when = as_aware(at or event.occurred_at)
    value = _sensor_value(event) if source == "sensor" else event.value
    change = NO_CHANGE
    open_now: frozenset[str] = frozenset()
    thresholds = ruleset.thresholds_by_kind.get(kind) if source == "sensor" else None
    if thresholds:
        before = context.sensor.open if context.sensor is not None else frozenset()
        if value is None:
            open_now = before
        else:
            now = {t.id for t in thresholds if t.next_open(t.id in before, value)}
            own = {t.id for t in thresholds}
            open_now = frozenset(now | (before - own))
            if open_now != before:
                change = StateChange(
                    sensor=SensorState(open_now),
                    opened=tuple(sorted(open_now - before)),
                    cleared=tuple(sorted(before - open_now)),
                )
    # positional: Facts' field order (keyword arguments cost measurably on this per-event path)
    facts = Facts(
        source,
        kind,
        kind if source == "report" else None,  # category
        kind if source == "camera" else None,  # label
        kind if source == "sensor" else None,  # sensor_kind
        family_of(source, kind),
        ward,
        wards,
        ward_ref.province_code if ward_ref is not None else None,
        event.device_id,
        event.channel,
        event.description,
        event.address,
        event.confidence,
        value,
        open_now,  # threshold
        when.timestamp(),  # epoch
    )
    return facts, change


def _match(route: Route, facts: Facts, found: list[Route]) -> None:
    """Alertmanager's Route.Match (see the module docstring) for a ``route`` whose own matchers
    hold; ``dispatch`` only skips children whose membership test would fail, and their steps
    leave out the membership test the dispatch value already passed (routers.rules.dispatch)."""
    start = len(found)
    dispatch_on = route.dispatch_on
    steps = route.steps if dispatch_on is None else route.dispatch_steps.get(dispatch_on(facts), route.dispatch_rest_steps)
    for child, test, continue_, has_children in steps:
        if test is not None and not test(facts):
            continue
        if has_children:
            _match(child, facts, found)
        else:
            found.append(child)
        if not continue_:
            break
    if len(found) == start:
        found.append(route)


def _walk(ruleset: Ruleset, facts: Facts) -> list[Route]:
    """The matched nodes, in walk order (the root has no matchers: it always matches)."""
    found: list[Route] = []
    _match(ruleset.root, facts, found)
    return found


def _primary(found: Sequence[Route]) -> Route:
    """The node whose grouping the decision uses: the first matched node without ``continue``
    (where the walk stopped; ``continue`` nodes are usually add-on notifications), else the first."""
    for route in found:
        if not route.continue_:
            return route
    return found[0]


def _ward_targets(facts: Facts, location: Location) -> tuple[tuple[str, ...], str | None]:
    if location.status == "resolved" and facts.ward is not None:
        return (f"ward:{facts.ward}",), None
    if location.status == "ambiguous" and facts.wards:
        return tuple(f"ward:{code}" for code in facts.wards), (
            f"ward target: ambiguous location, sent to all {len(facts.wards)} candidate wards"
        )
    return ("city-ioc",), f"ward target: location {location.status}, sent to city-ioc instead"


def _group_value(facts: Facts, field: str) -> str:
    if field == "ward":
        return facts.ward or "+".join(facts.wards) or "-"
    if field == "threshold":
        return "+".join(sorted(facts.threshold)) or "-"
    value = getattr(facts, field)
    return "-" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a decision takes from its matched nodes alone: the same for every event that matches
    the same nodes, so it is derived once per combination (cached in ``Ruleset.outcomes``)."""

    matched: tuple[str, ...]
    priority: Priority
    sla: Sla
    group_id: str
    group_fields: tuple[tuple[str, str], ...]  # ("|<field>=", field) over the primary's group_by
    group_window_s: int
    wants_ward: bool  # some node targets "ward"
    # explain lines up to and including the first node targeting "ward" (the ward note, when
    # there is one, goes right after it), then the rest
    explain_head: tuple[str, ...]
    explain_tail: tuple[str, ...]
    # the literal targets before the first "ward" and after it (without those already listed)
    targets_head: tuple[str, ...]
    targets_tail: tuple[str, ...]
    suppress: str | None  # set when every node suppresses: the first node's reason
    suppress_why: str | None


def _outcome(found: tuple[Route, ...]) -> _Outcome:
    first = _primary(found)
    wants_ward = False
    explain_head: list[str] = []
    explain_tail: list[str] = []
    targets_head: list[str] = []
    targets_tail: list[str] = []
    for route in found:
        (explain_tail if wants_ward else explain_head).append(route.explain)
        for target in route.targets:
            if target == "ward":
                wants_ward = True
            elif target not in targets_head and target not in targets_tail:
                (targets_tail if wants_ward else targets_head).append(target)
    all_suppress = all(route.suppress is not None for route in found)
    return _Outcome(
        matched=tuple(route.id for route in found),
        priority=min(route.priority for route in found),
        sla=Sla(min(route.sla.ack_s for route in found), min(route.sla.resolve_s for route in found)),
        group_id=first.id,
        group_fields=tuple((f"|{field}=", field) for field in first.group_by),
        group_window_s=first.group_window_s,
        wants_ward=wants_ward,
        explain_head=tuple(explain_head),
        explain_tail=tuple(explain_tail),
        targets_head=tuple(targets_head),
        targets_tail=tuple(targets_tail),
        suppress=found[0].suppress if all_suppress else None,
        suppress_why=f"suppressed by route {found[0].id}: {found[0].suppress}" if all_suppress else None,
    )


_OUTCOMES_MAX = 4096  # distinct matched-node combinations kept per ruleset (a few dozen in practice)


def _cached_outcome(ruleset: Ruleset, key: tuple[Route, ...]) -> _Outcome:
    outcomes = ruleset.outcomes
    outcome = outcomes.get(key)
    if outcome is None:
        if len(outcomes) >= _OUTCOMES_MAX:
            outcomes.clear()
        outcome = outcomes[key] = _outcome(key)
    return outcome


def _unmuted(found: tuple[Route, ...], epoch: float) -> tuple[tuple[Route, ...], list[str], str | None]:
    """Alertmanager's route time intervals: the matched nodes that may notify at ``epoch``, a trace
    line per muted node, and the suppression reason when every matched node is muted."""
    muted = [(route, why) for route in found if route.timed and (why := route.muted_by(epoch)) is not None]
    if not muted:
        return found, [], None
    lines = [f"route {route.id} muted: {why}" for route, why in muted]
    if len(muted) == len(found):
        return found, lines, f"muted:{found[0].id}"
    quiet = {id(route) for route, _ in muted}
    return tuple(route for route in found if id(route) not in quiet), lines, None


@dataclass(slots=True)
class Prepared:
    """An event walked through the tree, before anything may hold it back: what
    :func:`evaluate_batch` computes for every event of a batch first, so inhibitors raised anywhere
    in the batch reach every event of it."""

    event: Event
    facts: Facts
    outcome: _Outcome
    targets: tuple[str, ...]
    trace: list[str]
    change: StateChange
    muted: str | None  # "muted:<route>" when every matched node is muted by its time intervals
    muted_why: tuple[str, ...]


def prepare(ruleset: Ruleset, event: Event, location: Location, at: datetime | None = None,
            context: RuleContext = EMPTY_CONTEXT) -> Prepared:
    """Walk, merge and raise: everything but holding back (:func:`finish`)."""
    facts, change = build_facts(ruleset, event, location, at, context)
    key = tuple(_walk(ruleset, facts))
    muted_why: list[str] = []
    muted = None
    if ruleset.timed_routes:
        key, muted_why, muted = _unmuted(key, facts.epoch)
    outcome = _cached_outcome(ruleset, key)

    trace = [f"rules {ruleset.version}"]
    ward_label = facts.ward or ("+".join(facts.wards) if facts.wards else "-")
    trace.append(f"boundary {location.generation} ({location.source}): {location.status} ward {ward_label}"
                 f" by {location.method}")
    for threshold_id in change.opened:
        trace.append(f"threshold {threshold_id} opened at value {facts.value:g}")
    for threshold_id in change.cleared:
        trace.append(f"threshold {threshold_id} cleared at value {facts.value:g}")

    trace.extend(outcome.explain_head)
    if not outcome.wants_ward:
        targets = outcome.targets_head
    elif location.status == "resolved" and facts.ward is not None:
        # "ward:<code>" cannot equal a literal target (city-ioc, agency:<name>): no duplicates to drop
        targets = (*outcome.targets_head, f"ward:{facts.ward}", *outcome.targets_tail)
    else:
        ward_targets, note = _ward_targets(facts, location)
        if note:
            trace.append(note)
        merged = list(outcome.targets_head)
        for target in (*ward_targets, *outcome.targets_tail):
            if target not in merged:
                merged.append(target)
        targets = tuple(merged)
    trace.extend(outcome.explain_tail)
    if ruleset.inhibit_rules:
        raised = raise_inhibitors(ruleset, facts, event.id)
        if raised:
            trace.extend(f"raised inhibitor {inhibitor.key}" for inhibitor in raised)
            change = StateChange(change.sensor, change.opened, change.cleared, raised)
    return Prepared(event, facts, outcome, targets, trace, change, muted, tuple(muted_why))


def finish(ruleset: Ruleset, prepared: Prepared, inhibitors: Sequence[Inhibitor],
           silences: SilenceIndex | None = None, now: float | None = None) -> Evaluation:
    """Hold back or not (:mod:`routers.rules.holdback`), then the decision."""
    facts, outcome = prepared.facts, prepared.outcome
    trace = prepared.trace  # finished once: extended in place
    if prepared.muted_why:
        trace.extend(prepared.muted_why)
    if ruleset.quiet_windows or inhibitors or silences is not None:
        suppressed, why = held_back(ruleset, facts, inhibitors, silences, now)
    else:
        suppressed, why = None, None
    if suppressed is None and prepared.muted is not None:
        suppressed = prepared.muted
    if suppressed is None and outcome.suppress is not None:
        suppressed, why = outcome.suppress, outcome.suppress_why
    if why:
        trace.append(why)

    group_key = outcome.group_id
    for prefix, field in outcome.group_fields:
        group_key += prefix + _group_value(facts, field)
    decision = Decision(
        prepared.targets,
        outcome.priority,
        outcome.sla,
        outcome.matched,
        ruleset.version,
        suppressed,
        group_key,
        tuple(trace),
        outcome.group_window_s,
    )
    return Evaluation(decision, prepared.change)


def evaluate_with_state(
    ruleset: Ruleset,
    event: Event,
    location: Location,
    at: datetime | None = None,
    context: RuleContext | None = None,
    silences: SilenceIndex | None = None,
    now: float | None = None,
) -> Evaluation:
    """Route one event; return the decision and the state the caller must store. ``silences`` are
    checked at ``now`` (default: the event's time)."""
    ctx = context or EMPTY_CONTEXT
    prepared = prepare(ruleset, event, location, at, ctx)
    raised = prepared.change.raised
    return finish(ruleset, prepared, (*ctx.inhibitors, *raised) if raised else ctx.inhibitors, silences, now)


def evaluate(
    ruleset: Ruleset,
    event: Event,
    location: Location,
    at: datetime | None = None,
    context: RuleContext | None = None,
) -> Decision:
    """Route one event; the decision only (see :func:`evaluate_with_state` for the state changes)."""
    return evaluate_with_state(ruleset, event, location, at, context).decision


@dataclass(frozen=True, slots=True)
class WalkStep:
    """One node visited by :func:`walk` (for ``ioc rules test``'s human output)."""

    depth: int
    route: Route
    matched: bool
    decided_by: str  # the matcher that failed, or the matchers that held
    delivered: bool  # the node is one of the decision's matched nodes


def walk(ruleset: Ruleset, facts: Facts) -> list[WalkStep]:
    """Every node the Alertmanager walk visits, with the matcher that decided it."""
    steps: list[WalkStep] = []
    delivered = {id(route) for route in _walk(ruleset, facts)}

    def visit(route: Route, depth: int) -> bool:
        failed = first_failure(route.matchers, facts)
        if failed is not None:
            steps.append(WalkStep(depth, route, False, failed.text, False))
            return False
        held = "; ".join(m.text for m in route.matchers) or "matches everything"
        steps.append(WalkStep(depth, route, True, held, id(route) in delivered))
        for child in route.children:
            if visit(child, depth + 1) and not child.continue_:
                break
        return True

    visit(ruleset.root, 0)
    return steps
