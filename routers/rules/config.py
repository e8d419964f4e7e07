"""Rules file -> :class:`~routers.rules.model.Ruleset`: strict parsing and every check, at load.

Three passes, each reporting ``source:line:column: message`` for every problem it finds:

1. YAML syntax (:mod:`routers.rules.yamlsource`: safe loader, duplicate keys refused);
2. shape against the JSON Schema (:mod:`routers.rules.schema`: unknown keys, types, enums);
3. meaning: known categories/labels/sensor kinds, declared agencies, unique ids, regexes that
   compile in RE2's linear-time dialect (:mod:`routers.rules.regex`), time windows, durations,
   SLA order, thresholds that exist and clear on the right side.

Only a file that passes all three becomes a :class:`Ruleset`; a running worker never sees a bad one.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from routers.categories import CAMERA_LABELS, REPORT_CATEGORIES, SENSOR_KINDS
from routers.decision import Sla
from routers.rules import matchers as m
from routers.rules.clock import parse_duration, parse_local_time, parse_weekdays, parse_window
from routers.rules.dispatch import with_dispatch
from routers.rules.model import InhibitRule, QuietWindow, Route, Ruleset, Threshold
from routers.rules.problems import Problem, RulesFileError
from routers.rules.regex import RegexRefused, RuleRegex, compile_rule_regex
from routers.rules.schema import SET_FIELDS, rules_schema
from routers.rules.timeintervals import NamedInterval, build_time_interval, time_interval_problems
from routers.rules.yamlsource import PathKey, YamlDocument, read_yaml

DEFAULT_GROUP_BY = ("ward", "kind")
DEFAULT_GROUP_WINDOW_S = 30 * 60
MAX_PROBLEMS = 25

FAMILIES = frozenset(
    {family for _, family in REPORT_CATEGORIES.values()}
    | set(CAMERA_LABELS.values())
    | {spec[1] for spec in SENSOR_KINDS.values()}
    | {"other"}
)
KNOWN_VALUES: dict[str, frozenset[str]] = {
    "source": frozenset({"report", "camera", "sensor"}),
    "category": frozenset(REPORT_CATEGORIES),
    "label": frozenset(CAMERA_LABELS),
    "sensor_kind": frozenset(SENSOR_KINDS),
    "kind": frozenset(REPORT_CATEGORIES) | frozenset(CAMERA_LABELS) | frozenset(SENSOR_KINDS),
    "family": FAMILIES,
}
CODE_DIGITS = {"ward": 5, "province": 2}
# cheap, discriminating matchers first so most routes fail on their first test
_COST = {"source": 0, "sensor_kind": 1, "category": 1, "label": 1, "kind": 1, "family": 2, "threshold": 2}


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _human(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _listify(raw: Any) -> list[Any]:
    return list(raw) if isinstance(raw, list) else [raw]


class _Loader:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.route_ids: set[str] = set()
        self.agencies: frozenset[str] = frozenset()
        self.threshold_ids: frozenset[str] = frozenset()
        self.intervals: dict[str, NamedInterval] = {}

    # --- reporting --------------------------------------------------------------------------
    def problem(self, path: PathKey, message: str, *, key: bool = False) -> None:
        pos = self.doc.position(path, key=key)
        self.problems.append(Problem(pos.line if pos else 0, pos.column if pos else 0, message))

    def fail_if_problems(self) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: (p.line, p.column))[:MAX_PROBLEMS]
            raise RulesFileError(self.doc.source, ordered)

    # --- pass 2: the schema -------------------------------------------------------------------
    def check_schema(self) -> None:
        validator = Draft202012Validator(rules_schema())
        for error in validator.iter_errors(self.doc.data):
            self.schema_problem(error)

    def schema_problem(self, error: ValidationError) -> None:
        path: PathKey = tuple(error.absolute_path)
        where = _human(path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            for name in error.instance:
                if name not in allowed:
                    self.problem((*path, name), f"unknown field {name!r} in {where}{_suggest(name, allowed)}",
                                 key=True)
            return
        if error.validator == "required":
            self.problem(path, f"{where}: {error.message.replace('is a required property', 'is required')}")
            return
        if error.validator == "anyOf":
            self.problem(path, f"{where}: expected a value or a list of values, got {error.instance!r}")
            return
        if error.validator == "enum":
            choices = ", ".join(str(c) for c in error.validator_value)
            self.problem(path, f"{where}: {error.instance!r} is not one of {choices}"
                               f"{_suggest(str(error.instance), map(str, error.validator_value))}")
            return
        if error.validator == "pattern" and path and path[-1] == "id":
            self.problem(path, f"{where}: id {error.instance!r} must use lower-case letters, digits, '-', '_', '.'")
            return
        self.problem(path, f"{where}: {error.message}")

    # --- pass 3: meaning -----------------------------------------------------------------------
    def no_duplicates(self, raw: Any, path: PathKey, what: str) -> None:
        """A list that acts as a set: every repeat is refused at its own line:column."""
        if not isinstance(raw, list):
            return
        seen: set[str] = set()
        for index, item in enumerate(raw):
            text = str(item).lower() if isinstance(item, str) else str(item)
            if text in seen:
                self.problem((*path, index), f"duplicated {what} {item!r}: this list is a set")
            seen.add(text)

    def interval_refs(self, raw: list[str] | None, path: PathKey) -> tuple[NamedInterval, ...]:
        self.no_duplicates(raw, path, "time interval")
        out: list[NamedInterval] = []
        for index, name in enumerate(raw or ()):
            found = self.intervals.get(name)
            if found is None:
                where = "route" if "route" in path else "quiet window"
                self.problem((*path, index), f'undefined time interval "{name}" used in {where}'
                                             f"{_suggest(name, self.intervals)}")
            elif found not in out:
                out.append(found)
        return tuple(out)

    def time_intervals(self, items: list[dict[str, Any]]) -> dict[str, NamedInterval]:
        out: dict[str, NamedInterval] = {}
        for index, item in enumerate(items):
            path: PathKey = ("time_intervals", index)
            name = item["name"]
            if name in out:
                self.problem((*path, "name"), f'time interval "{name}" is not unique')
            entries = []
            for number, entry in enumerate(item["time_intervals"]):
                epath = (*path, "time_intervals", number)
                problems = time_interval_problems(entry)
                for where, message in problems:
                    self.problem((*epath, *where), message)
                for key in ("weekdays", "days_of_month", "months", "years"):
                    self.no_duplicates(entry.get(key), (*epath, key), key.replace("_", " ") + " entry")
                if not problems:
                    entries.append(build_time_interval(entry))
            out[name] = NamedInterval(name, tuple(entries))
        return out

    def duration(self, raw: Any, path: PathKey) -> int | None:
        try:
            return parse_duration(raw)
        except ValueError as exc:
            self.problem(path, f"{_human(path)}: {exc}")
            return None

    def values(self, field: str, raw: Any, path: PathKey) -> list[str]:
        self.no_duplicates(raw, path, f"{field} value")
        out: list[str] = []
        for index, item in enumerate(_listify(raw)):
            item_path = (*path, index) if isinstance(raw, list) else path
            text = str(item)
            digits = CODE_DIGITS.get(field)
            if digits is not None:
                if isinstance(item, int) and len(text) < digits:
                    self.problem(item_path, f"{field} code {item} lost its leading zeros: quote it, "
                                            f"e.g. '{text.zfill(digits)}'")
                    continue
                if not re.fullmatch(rf"\d{{{digits}}}", text):
                    self.problem(item_path, f"{field} code {text!r} must be {digits} digits")
                    continue
            known = KNOWN_VALUES.get(field)
            if known is not None and text not in known:
                self.problem(item_path, f"unknown {field} {text!r}{_suggest(text, known)}")
                continue
            out.append(text)
        return out

    def regex(self, raw: str, path: PathKey) -> RuleRegex | None:
        try:
            return compile_rule_regex(raw)
        except RegexRefused as exc:
            self.problem(path, f"{_human(path)}: bad regex {raw!r}: {exc}")
            return None

    def matchers(self, block: dict[str, Any] | None, path: PathKey) -> tuple[m.Matcher, ...]:
        built: list[tuple[int, m.Matcher]] = []
        for key, raw in (block or {}).items():
            kpath = (*path, key)
            base = key.removesuffix("_not_regex").removesuffix("_regex").removesuffix("_not")
            rank = _COST.get(base, 5)
            if key.endswith("_regex"):
                pattern = self.regex(raw, kpath)
                if pattern is not None:
                    attr = "wards" if base == "ward" else base
                    built.append((9, m.Regex(attr, pattern, key.endswith("_not_regex"), multi=base == "ward")))
            elif base in SET_FIELDS:
                values = self.values(base, raw, kpath)
                if values:
                    negate = key.endswith("_not")
                    matcher: m.Matcher = (m.AnyInSet("wards", values, negate) if base == "ward"
                                          else m.InSet(base, values, negate))
                    built.append((rank, matcher))
            elif key in ("confidence_gte", "value_gte"):
                built.append((4, m.AtLeast(key.removesuffix("_gte"), float(raw))))
            elif key in ("confidence_lt", "value_lt"):
                built.append((4, m.Below(key.removesuffix("_lt"), float(raw))))
            elif key == "threshold":
                self.no_duplicates(raw, kpath, "threshold")
                ids = [str(v) for v in _listify(raw)]
                for unknown in (i for i in ids if i not in self.threshold_ids):
                    self.problem(kpath, f"threshold {unknown!r} is not declared in thresholds"
                                        f"{_suggest(unknown, self.threshold_ids)}")
                built.append((rank, m.ThresholdOpen(ids)))
            elif key == "time":
                self.no_duplicates(raw, kpath, "time window")
                windows, shown = [], []
                for index, item in enumerate(_listify(raw)):
                    try:
                        windows.append(parse_window(item))
                        shown.append(str(item))
                    except ValueError as exc:
                        self.problem((*kpath, index) if isinstance(raw, list) else kpath, str(exc))
                if windows:
                    built.append((6, m.TimeOfDay(windows, shown)))
            elif key == "weekdays":
                self.no_duplicates(raw, kpath, "weekday")
                days: set[int] = set()
                for index, item in enumerate(_listify(raw)):
                    try:
                        days |= parse_weekdays([str(item)])
                    except ValueError as exc:
                        self.problem((*kpath, index) if isinstance(raw, list) else kpath, str(exc))
                if days:
                    built.append((6, m.Weekday(frozenset(days), [str(v) for v in _listify(raw)])))
        built.sort(key=lambda pair: pair[0])  # stable: file order within a cost rank
        return tuple(matcher for _, matcher in built)

    def targets(self, raw: list[str], path: PathKey) -> tuple[str, ...]:
        out: list[str] = []
        for index, target in enumerate(raw):
            tpath = (*path, index)
            kind, _, name = target.partition(":")
            if target in ("ward", "city-ioc") or kind == "agency" and name in self.agencies:
                pass
            elif kind == "agency":
                self.problem(tpath, f"agency {name!r} is not declared in agencies{_suggest(name, self.agencies)}")
                continue
            else:
                self.problem(tpath, f"unknown target {target!r}: use ward, city-ioc or agency:<name>"
                                    f"{_suggest(target, ['ward', 'city-ioc'])}")
                continue
            if target in out:
                self.problem(tpath, f"target {target!r} is listed twice")
                continue
            out.append(target)
        return tuple(out)

    def route(self, node: dict[str, Any], path: PathKey, parent: Route | None) -> Route:
        route_id = str(node.get("id", "?"))
        if route_id in self.route_ids:
            self.problem((*path, "id"), f"route id {route_id!r} is used twice")
        self.route_ids.add(route_id)
        ids = (*parent.path, route_id) if parent else (route_id,)
        if parent is None:
            for forbidden in ("match", "continue"):
                if forbidden in node:
                    self.problem((*path, forbidden), f"the root route cannot have {forbidden!r}: "
                                                     "it is the default that catches every event", key=True)
            for required in ("targets", "priority", "sla"):
                if required not in node:
                    self.problem(path, f"the root route must set {required!r} (the defaults every route inherits)")
            for timed in ("mute", "active"):
                if f"{timed}_time_intervals" in node:
                    self.problem((*path, f"{timed}_time_intervals"),
                                 f"root route must not have any {timed} time intervals", key=True)
        if "group_by" in node:
            for index, name in enumerate(node["group_by"]):
                if name in node["group_by"][:index]:
                    self.problem((*path, "group_by", index), f'duplicated label "{name}" in group_by')
        matchers = self.matchers(node.get("match"), (*path, "match"))
        targets = self.targets(node["targets"], (*path, "targets")) if "targets" in node else None
        sla_node = node.get("sla", {})
        ack = self.duration(sla_node["acknowledge"], (*path, "sla", "acknowledge")) if "acknowledge" in sla_node else None
        resolve = self.duration(sla_node["resolve"], (*path, "sla", "resolve")) if "resolve" in sla_node else None
        if parent is None and ("acknowledge" not in sla_node or "resolve" not in sla_node) and "sla" in node:
            self.problem((*path, "sla"), "the root route's sla must set both acknowledge and resolve")
        sla = Sla(
            ack_s=ack if ack is not None else (parent.sla.ack_s if parent else 0),
            resolve_s=resolve if resolve is not None else (parent.sla.resolve_s if parent else 0),
        )
        if sla.ack_s > sla.resolve_s and (ack is not None or resolve is not None):
            self.problem((*path, "sla"), f"sla: acknowledge ({sla.ack_s}s) is later than resolve ({sla.resolve_s}s)")
        window = self.duration(node["group_window"], (*path, "group_window")) if "group_window" in node else None
        explain = f"route {route_id} ({' > '.join(ids)}): " + (
            "; ".join(matcher.text for matcher in matchers) if matchers else "matches everything"
        )
        built = Route(
            id=route_id,
            path=ids,
            matchers=matchers,
            continue_=bool(node.get("continue", False)),
            targets=targets if targets is not None else (parent.targets if parent else ()),
            priority=node.get("priority") or (parent.priority if parent else "P4"),
            sla=sla,
            group_by=tuple(node["group_by"]) if "group_by" in node else (parent.group_by if parent else DEFAULT_GROUP_BY),
            group_window_s=window if window is not None else (parent.group_window_s if parent else DEFAULT_GROUP_WINDOW_S),
            suppress=node.get("suppress"),
            children=(),
            description=str(node.get("description", "")),
            mute_intervals=self.interval_refs(node.get("mute_time_intervals"), (*path, "mute_time_intervals")),
            active_intervals=self.interval_refs(node.get("active_time_intervals"), (*path, "active_time_intervals")),
            explain=explain,
        )
        children = tuple(
            self.route(child, (*path, "routes", index), built) for index, child in enumerate(node.get("routes", []))
        )
        return with_dispatch(replace(built, children=children))

    def thresholds(self, items: list[dict[str, Any]]) -> tuple[Threshold, ...]:
        out: list[Threshold] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            path: PathKey = ("thresholds", index)
            if item["id"] in seen:
                self.problem((*path, "id"), f"threshold id {item['id']!r} is used twice")
            seen.add(item["id"])
            kind = str(item["sensor_kind"])
            if kind not in SENSOR_KINDS:
                self.problem((*path, "sensor_kind"), f"unknown sensor_kind {kind!r}{_suggest(kind, SENSOR_KINDS)}")
            if ("above" in item) == ("below" in item):
                self.problem(path, f"threshold {item['id']!r} needs exactly one of 'above' or 'below'")
                continue
            rising = "above" in item
            level = float(item["above" if rising else "below"])
            clear = float(item.get("clear", level))
            if rising and clear > level:
                self.problem((*path, "clear"), f"threshold {item['id']!r}: clear ({clear:g}) must not be above "
                                               f"the opening level ({level:g}) for a rising threshold")
            if not rising and clear < level:
                self.problem((*path, "clear"), f"threshold {item['id']!r}: clear ({clear:g}) must not be below "
                                               f"the opening level ({level:g}) for a falling threshold")
            out.append(Threshold(item["id"], kind, rising, level, clear, str(item.get("description", ""))))
        return tuple(out)

    def quiet_windows(self, items: list[dict[str, Any]]) -> tuple[QuietWindow, ...]:
        out: list[QuietWindow] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            path: PathKey = ("quiet_windows", index)
            if item["id"] in seen:
                self.problem((*path, "id"), f"quiet window id {item['id']!r} is used twice")
            seen.add(item["id"])
            block = item.get("match") or {}
            if not block:
                self.problem((*path, "match"), "a quiet window with an empty match would hold back every event")
            matchers = self.matchers(block, (*path, "match"))
            bounds: list[float | None] = []
            for name in ("from", "until"):
                if name not in item:
                    bounds.append(None)
                    continue
                try:
                    bounds.append(parse_local_time(item[name]).timestamp())
                except ValueError as exc:
                    self.problem((*path, name), str(exc))
                    bounds.append(None)
            start, end = bounds
            intervals = self.interval_refs(item.get("time_intervals"), (*path, "time_intervals"))
            if "until" not in item and not m.uses_clock(matchers) and "time_intervals" not in item:
                self.problem(path, f"quiet window {item['id']!r} never ends: set 'until', time_intervals "
                                   "or a time/weekdays matcher")
            if start is not None and end is not None and start >= end:
                self.problem((*path, "until"), f"quiet window {item['id']!r}: until is not after from")
            out.append(QuietWindow(item["id"], matchers, start, end, str(item.get("description", "")), intervals))
        return tuple(out)

    def inhibit_rules(self, items: list[dict[str, Any]]) -> tuple[InhibitRule, ...]:
        out: list[InhibitRule] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            path: PathKey = ("inhibit_rules", index)
            if item["id"] in seen:
                self.problem((*path, "id"), f"inhibit rule id {item['id']!r} is used twice")
            seen.add(item["id"])
            for side in ("source", "target"):
                if not item[side]:
                    self.problem((*path, side), f"inhibit rule {item['id']!r}: an empty {side} matches every event")
            hold = self.duration(item["hold"], (*path, "hold"))
            self.no_duplicates(item.get("equal"), (*path, "equal"), "equal field")
            out.append(InhibitRule(
                item["id"], self.matchers(item["source"], (*path, "source")),
                self.matchers(item["target"], (*path, "target")), item["scope"], hold or 0,
                str(item.get("description", "")), tuple(dict.fromkeys(item.get("equal") or ())),
            ))
        return tuple(out)


def load_ruleset(text: str, source: str = "<rules>") -> Ruleset:
    """Parse, validate and build a ruleset; raise :class:`RulesFileError` naming line:column."""
    doc = read_yaml(text, source)
    loader = _Loader(doc)
    if not isinstance(doc.data, dict):
        raise RulesFileError(source, [Problem(1, 1, "a rules file is a mapping with version, agencies and route")])
    loader.check_schema()
    loader.fail_if_problems()  # the semantic pass relies on the shape being right
    data: dict[str, Any] = doc.data
    loader.agencies = frozenset(data["agencies"])
    loader.no_duplicates(data["agencies"], ("agencies",), "agency")
    loader.intervals = loader.time_intervals(data.get("time_intervals", []))
    thresholds = loader.thresholds(data.get("thresholds", []))
    loader.threshold_ids = frozenset(t.id for t in thresholds)
    root = loader.route(data["route"], ("route",), None)
    quiet = loader.quiet_windows(data.get("quiet_windows", []))
    inhibit = loader.inhibit_rules(data.get("inhibit_rules", []))
    loader.fail_if_problems()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    by_kind: dict[str, list[Threshold]] = {}
    for threshold in thresholds:
        by_kind.setdefault(threshold.sensor_kind, []).append(threshold)
    return Ruleset(
        version=f"{data['version']}+{digest[:7]}",
        declared_version=data["version"],
        digest=digest,
        source=source,
        text=text,
        agencies=tuple(data["agencies"]),
        root=root,
        thresholds=thresholds,
        quiet_windows=quiet,
        inhibit_rules=inhibit,
        description=str(data.get("description", "")),
        thresholds_by_kind=MappingProxyType({k: tuple(v) for k, v in by_kind.items()}),
        inhibit_by_id=MappingProxyType({rule.id: rule for rule in inhibit}),
        time_intervals=MappingProxyType(dict(loader.intervals)),
        timed_routes=any(route.timed for route in root.walk()),
    )


# The YAML position, schema-error wording and problem collection of rules files, reused by other
# operator-edited files (the Frigate mapping) so that they report errors the same way.
ConfigChecker = _Loader
def compile_match_block(block: dict[str, Any], source: str = "--match") -> tuple[m.Matcher, ...]:
    """One ``match`` block outside a rules file (a silence's matchers): the same schema, checks and
    messages as in a rules file; refused with :class:`RulesFileError` (no line/column: line 0)."""
    doc = YamlDocument({"match": block}, source, {}, {})
    loader = _Loader(doc)
    validator = Draft202012Validator(rules_schema()["$defs"]["route"]["properties"]["match"])
    for error in validator.iter_errors(block):
        error.path.appendleft("match")  # so messages name the field as in a rules file
        loader.schema_problem(error)
    loader.fail_if_problems()
    matchers = loader.matchers(block, ("match",))
    loader.fail_if_problems()
    return matchers
