"""Test events and case tables for ``ioc rules test`` (and the bare lines of a replay file).

A *test event* is the published event body (``routers.envelope.event_to_json``: ``id``, ``source``,
``kind``, ``occurred_at``, ``point``, ``address``, ``device_id``, ``description``, ``confidence``,
``value``, ``unit``, ``channel``, ``attributes``) plus an optional ``location`` and ``context``:

    {"source": "report", "kind": "fire", "occurred_at": "2026-11-22T23:10:00+07:00",
     "location": {"ward": "27139", "province": "79"},
     "context": {"sensor": {"open": ["water-level-flooding"]}, "inhibitors": []}}

``location`` is either the short form ``{"ward", "province", "status", "candidates": [codes],
"generation"}`` or ``Location.to_json()`` as published on ``ioc.routed``. A *case table* (YAML) is:

    cases:
      - name: fire report goes to fire and the ward
        event: {source: report, kind: fire, location: {ward: "27139", province: "79"}}
        at: "2026-11-22T23:00"            # optional, Asia/Ho_Chi_Minh when no offset
        expect: {targets: [ward:27139, agency:fire], priority: P1, matched: [fire-report]}
      - name: a gauge opens once, then stays open in the band (hysteresis)
        steps:                              # state threads through the steps of one case
          - event: {source: sensor, kind: water_level, device_id: wl-1, value: 0.35, location: {ward: "27139"}}
            expect: {matched: [water-level-flooding]}
          - event: {source: sensor, kind: water_level, device_id: wl-1, value: 0.25, location: {ward: "27139"}}
            expect: {matched: [water-level-flooding]}

``expect`` keys: ``targets`` (compared as a set), ``priority``, ``matched`` (in order),
``suppressed`` (false or the reason), ``group_key``, ``sla`` (``ack_s``/``resolve_s``, those given).

A case may also hold ``silences`` (``[{match: ["device=cam-1"], from: TIME, until: TIME, id: s1}]``,
checked at each step's time) and, instead of ``steps``, a ``batch``: a list of ``{event, expect}``
routed together as the pipeline routes one batch (inhibitors raised anywhere in it apply to all
of it, whatever the order).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from routers.decision import Decision
from routers.events import Event, GeoPoint, Source
from routers.locate.result import Candidate, Location, Status, WardRef
from routers.rules.clock import parse_local_time
from routers.rules.evaluate import evaluate_with_state
from routers.rules.model import Ruleset
from routers.rules.silences import SilenceError, SilenceIndex, new_silence
from routers.rules.state import Inhibitor, InhibitorBoard, RuleContext, SensorState

EVENT_FIELDS = frozenset({
    "id", "source", "kind", "occurred_at", "point", "address", "device_id", "description", "confidence", "value",
    "unit", "channel", "attributes", "corrections", "location", "context",
})
EXPECT_FIELDS = frozenset({"targets", "priority", "matched", "suppressed", "group_key", "sla"})
_ids = itertools.count(1)


class CaseError(ValueError):
    """A test event or case file that cannot be used; the message says what and where."""


def _number(data: dict[str, Any], name: str) -> float | None:
    raw = data.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise CaseError(f"{name} must be a number, got {raw!r}")
    return float(raw)


def _time(raw: Any, name: str) -> datetime:
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else parse_local_time(raw.isoformat())
    try:
        return parse_local_time(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise CaseError(f"{name}: {exc}") from None


def event_from_json(data: dict[str, Any], default_time: datetime | None = None) -> Event:
    """A test event (or a published event body) -> :class:`Event`."""
    if not isinstance(data, dict):
        raise CaseError(f"an event is a JSON object, got {type(data).__name__}")
    unknown = set(data) - EVENT_FIELDS
    if unknown:
        raise CaseError(f"unknown event field(s) {sorted(unknown)}; known: {sorted(EVENT_FIELDS)}")
    try:
        source = Source(str(data.get("source")))
    except ValueError:
        raise CaseError(f"source must be report, camera or sensor, got {data.get('source')!r}") from None
    if not data.get("kind"):
        raise CaseError("kind is required (the report category, camera label or sensor kind)")
    point = data.get("point")
    when = (_time(data["occurred_at"], "occurred_at") if data.get("occurred_at") is not None
            else default_time or datetime.now(UTC))
    return Event(
        id=str(data.get("id") or f"test-{next(_ids)}"),
        source=source,
        kind=str(data["kind"]),
        occurred_at=when,
        point=GeoPoint(float(point["lat"]), float(point["lon"]), point.get("accuracy_m")) if point else None,
        address=data.get("address"),
        device_id=None if data.get("device_id") is None else str(data["device_id"]),
        description=data.get("description"),
        confidence=_number(data, "confidence"),
        value=_number(data, "value"),
        unit=data.get("unit"),
        channel=data.get("channel"),
        attributes=dict(data.get("attributes") or {}),
        corrections=tuple(data.get("corrections") or ()),
    )


def location_from_json(data: dict[str, Any] | None) -> Location:
    """The short test form or ``Location.to_json()``; None -> unresolved (no_location)."""
    if not data:
        return Location("unresolved", None, "point", "test", "reference", reason="no_location")
    ward = data.get("ward")
    if isinstance(ward, dict):  # Location.to_json()
        ref: WardRef | None = WardRef(str(ward["code"]), str(ward.get("name", "")), str(ward.get("province_code", "")))
    elif ward is not None:
        ref = WardRef(str(ward), str(data.get("name", "")), str(data.get("province", "")))
    else:
        ref = None
    candidates = tuple(
        Candidate(str(c["code"]), str(c.get("name", "")), c.get("distance_m")) if isinstance(c, dict)
        else Candidate(str(c), "")
        for c in data.get("candidates") or ()
    )
    status: Status = "resolved" if ref is not None else "ambiguous" if candidates else "unresolved"
    given = data.get("status")
    if given is not None:
        if given not in ("resolved", "ambiguous", "unresolved"):
            raise CaseError(f"location status must be resolved, ambiguous or unresolved, got {given!r}")
        status = given
    if status == "resolved" and ref is None:
        raise CaseError("a resolved location needs a ward")
    return Location(
        status=status, ward=ref, method=data.get("method", "point"), generation=str(data.get("generation", "test")),
        source=data.get("source", "reference"), candidates=candidates, reason=data.get("reason"),
    )


def context_from_json(data: dict[str, Any] | None) -> RuleContext:
    if not data:
        return RuleContext()
    sensor = data.get("sensor")
    return RuleContext(
        sensor=SensorState.from_json(sensor) if sensor is not None else None,
        inhibitors=tuple(Inhibitor.from_json(item) for item in data.get("inhibitors") or ()),
    )


@dataclass(frozen=True, slots=True)
class Probe:
    event: Event
    location: Location
    context: RuleContext


def parse_probe(data: dict[str, Any], default_time: datetime | None = None) -> Probe:
    return Probe(event_from_json(data, default_time), location_from_json(data.get("location")),
                     context_from_json(data.get("context")))


def compare(decision: Decision, expect: dict[str, Any]) -> list[str]:
    """Differences between ``decision`` and ``expect`` (empty: as expected)."""
    unknown = set(expect) - EXPECT_FIELDS
    if unknown:
        raise CaseError(f"unknown expect field(s) {sorted(unknown)}; known: {sorted(EXPECT_FIELDS)}")
    problems: list[str] = []
    if "targets" in expect and set(map(str, expect["targets"])) != set(decision.targets):
        problems.append(f"targets: expected {sorted(map(str, expect['targets']))}, got {sorted(decision.targets)}")
    if "priority" in expect and expect["priority"] != decision.priority:
        problems.append(f"priority: expected {expect['priority']}, got {decision.priority}")
    if "matched" in expect and list(map(str, expect["matched"])) != list(decision.matched):
        problems.append(f"matched: expected {list(expect['matched'])}, got {list(decision.matched)}")
    if "suppressed" in expect and (expect["suppressed"] or None) != decision.suppressed:
        problems.append(f"suppressed: expected {expect['suppressed']!r}, got {decision.suppressed or False!r}")
    if "group_key" in expect and expect["group_key"] != decision.group_key:
        problems.append(f"group_key: expected {expect['group_key']!r}, got {decision.group_key!r}")
    for name in ("ack_s", "resolve_s"):
        wanted = (expect.get("sla") or {}).get(name)
        if wanted is not None and int(wanted) != getattr(decision.sla, name):
            problems.append(f"sla.{name}: expected {wanted}, got {getattr(decision.sla, name)}")
    return problems


@dataclass
class CaseResult:
    name: str
    problems: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def silences_from_json(items: list[dict[str, Any]] | None, name: str) -> SilenceIndex | None:
    if not items:
        return None
    built = []
    for number, item in enumerate(items, start=1):
        try:
            built.append(new_silence(
                list(item.get("match") or ()), starts_at=_time(item["from"], "from").timestamp(),
                ends_at=_time(item["until"], "until").timestamp(), created_by=str(item.get("author", "case")),
                comment=str(item.get("comment", name)), silence_id=str(item.get("id", f"silence-{number}"))))
        except (KeyError, SilenceError) as exc:
            raise CaseError(f"{name}: silence {number}: {exc}") from None
    return SilenceIndex(built)


def _run_batch(ruleset: Ruleset, case: dict[str, Any], result: CaseResult, silences: SilenceIndex | None) -> None:
    from routers.rules.batch import evaluate_batch

    items = case["batch"]
    probes = []
    for number, item in enumerate(items, start=1):
        try:
            probes.append(parse_probe(item["event"]))
        except (CaseError, KeyError) as exc:
            raise CaseError(f"{result.name}, batch item {number}: {exc}") from None
    at = _time(case["at"], "at") if case.get("at") is not None else None
    inhibitors = tuple(i for p in probes for i in p.context.inhibitors)
    outcome = evaluate_batch(ruleset, [(p.event, p.location) for p in probes], {}, inhibitors, silences, None, at)
    for number, (item, evaluation) in enumerate(zip(items, outcome.evaluations, strict=True), start=1):
        result.decisions.append(evaluation.decision)
        result.problems.extend(f"item {number}: {p}" for p in compare(evaluation.decision, item.get("expect") or {}))


def run_case(ruleset: Ruleset, case: dict[str, Any], index: int) -> CaseResult:
    name = str(case.get("name") or f"case {index + 1}")
    unknown = set(case) - {"name", "event", "at", "expect", "steps", "batch", "silences", "source"}
    if unknown:
        raise CaseError(f"{name}: unknown field(s) {sorted(unknown)}")
    silences = silences_from_json(case.get("silences"), name)
    result = CaseResult(name)
    if case.get("batch"):
        _run_batch(ruleset, case, result, silences)
        return result
    steps = case.get("steps") or [{k: case[k] for k in ("event", "at", "expect") if k in case}]
    sensors: dict[str, SensorState] = {}
    board = InhibitorBoard()
    for number, step in enumerate(steps, start=1):
        if "event" not in step:
            raise CaseError(f"{name}: step {number} has no event")
        try:
            test = parse_probe(step["event"])
        except CaseError as exc:
            raise CaseError(f"{name}, step {number}: {exc}") from None
        at = _time(step["at"], "at") if step.get("at") is not None else None
        device = test.event.device_id
        given = test.context
        sensor = given.sensor if given.sensor is not None else (sensors.get(device) if device else None)
        epoch = (at or test.event.occurred_at).timestamp()
        context = RuleContext(sensor, given.inhibitors + board.active(epoch))
        outcome = evaluate_with_state(ruleset, test.event, test.location, at, context, silences)
        if outcome.changes.sensor is not None and device:
            sensors[device] = outcome.changes.sensor
        board.apply(outcome.changes.raised)
        result.decisions.append(outcome.decision)
        prefix = f"step {number}: " if len(steps) > 1 else ""
        result.problems.extend(prefix + p for p in compare(outcome.decision, step.get("expect") or {}))
    return result


def run_cases(ruleset: Ruleset, text: str, source: str = "<cases>") -> list[CaseResult]:
    """Run every case of a case table; raise :class:`CaseError` when the file itself is unusable."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CaseError(f"{source}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CaseError(f"{source}: a case file is a mapping with a 'cases' list")
    return [run_case(ruleset, case, index) for index, case in enumerate(data["cases"])]
