"""The Frigate mapping: which Frigate labels, sub_labels, zones and review severities mean which
IOC camera label. Operator-edited YAML, validated at load like the rules file (the same YAML reader
and ``source:line:column: message`` problems, :mod:`routers.rules.config`); the default is
``default_frigate_mapping.yaml`` beside this module, which documents the matching.

    >>> mapping = load_mapping("version: 1\\nrules:\\n  - {id: fire, labels: [fire], to: fire_smoke}\\n")
    >>> [rule.to for rule in mapping.rules]
    ['fire_smoke']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from routers import limits
from routers.categories import CAMERA_LABELS
from routers.exceptions import FilteredOut
from routers.ingest.frigate import SEVERITIES, TYPES, FrigateMessage
from routers.rules.config import ConfigChecker
from routers.rules.problems import Problem, RulesFileError
from routers.rules.yamlsource import read_yaml

DEFAULT_MAPPING = Path(__file__).with_name("default_frigate_mapping.yaml")
CONDITIONS = ("labels", "sub_labels", "zones", "cameras", "severity", "streams", "types", "min_score",
              "min_threat_level")
# Why a valid message was filtered (the ``reason`` label of ioc_filtered_total; bounded)
UNMAPPED = "unmapped"
FALSE_POSITIVE = "false_positive"
BELOW_THRESHOLD = "below_threshold"

_NAMES = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1, "maxLength": 128}}


def mapping_schema() -> dict[str, Any]:
    rule = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "to"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$"},
            "description": {"type": "string"},
            "labels": _NAMES, "sub_labels": _NAMES, "zones": _NAMES, "cameras": _NAMES,
            "severity": {"type": "array", "minItems": 1, "items": {"enum": list(SEVERITIES)}},
            "streams": {"type": "array", "minItems": 1, "items": {"enum": ["events", "reviews"]}},
            "types": {"type": "array", "minItems": 1, "items": {"enum": list(TYPES)}},
            "min_score": {"type": "number", "minimum": 0, "maximum": 1},
            "min_threat_level": {"type": "integer", "minimum": 0, "maximum": 3},
            "false_positives": {"type": "boolean"},
            "to": {"enum": sorted(CAMERA_LABELS)},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["version", "rules"],
        "properties": {
            "version": {"const": 1},
            "description": {"type": "string"},
            "rules": {"type": "array", "minItems": 1, "items": rule},
        },
    }


@dataclass(frozen=True, slots=True)
class MappingRule:
    id: str
    to: str
    labels: frozenset[str] | None = None
    sub_labels: frozenset[str] | None = None
    zones: frozenset[str] | None = None
    cameras: frozenset[str] | None = None
    severity: frozenset[str] | None = None
    streams: frozenset[str] | None = None
    types: frozenset[str] | None = None
    min_score: float | None = None
    min_threat_level: int | None = None
    false_positives: bool = False

    def matches(self, message: FrigateMessage) -> bool:
        """Every named condition except the thresholds (see :meth:`passes_thresholds`)."""
        return (
            _any(self.labels, message.labels) and _any(self.zones, message.zones)
            and _any(self.sub_labels, message.sub_labels) and _any(self.cameras, (message.camera,))
            and _any(self.severity, (message.severity,) if message.severity else ())
            and _any(self.streams, (message.stream,)) and _any(self.types, (message.type,))
        )

    def passes_thresholds(self, message: FrigateMessage) -> bool:
        if self.min_score is not None and (message.confidence is None or message.confidence < self.min_score):
            return False
        return self.min_threat_level is None or (
            message.threat_level is not None and message.threat_level >= self.min_threat_level)


def _any(wanted: frozenset[str] | None, present: tuple[str, ...]) -> bool:
    return wanted is None or any(value in wanted for value in present)


@dataclass(frozen=True, slots=True)
class FrigateMapping:
    rules: tuple[MappingRule, ...]
    source: str

    def label_for(self, message: FrigateMessage) -> str | FilteredOut:
        """The first matching rule's IOC label; else why the message is filtered."""
        reason = UNMAPPED
        for rule in self.rules:
            if not rule.matches(message):
                continue
            if message.false_positive and not rule.false_positives:
                reason = FALSE_POSITIVE
            elif not rule.passes_thresholds(message):
                reason = BELOW_THRESHOLD
            else:
                return rule.to
        return FilteredOut(reason, message.event_id, message.summary())


def load_mapping(text: str, source: str = "<frigate mapping>") -> FrigateMapping:
    """Parse and check a mapping; :class:`RulesFileError` lists every problem with line:column."""
    doc = read_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise RulesFileError(source, [Problem(1, 1, "a Frigate mapping is a mapping with version and rules")])
    checker = ConfigChecker(doc)
    for error in Draft202012Validator(mapping_schema()).iter_errors(doc.data):
        checker.schema_problem(error)
    checker.fail_if_problems()
    seen: set[str] = set()
    rules: list[MappingRule] = []
    for index, raw in enumerate(doc.data["rules"]):
        path = ("rules", index)
        if raw["id"] in seen:
            checker.problem((*path, "id"), f"rules[{index}].id: duplicate id {raw['id']!r}")
        seen.add(raw["id"])
        if not any(name in raw for name in CONDITIONS):
            checker.problem(path, f"rules[{index}] ({raw['id']}) names no condition and would map every "
                                  f"Frigate message to {raw['to']}; give at least one of {', '.join(CONDITIONS)}")
        sets = {name: frozenset(raw[name]) for name in
                ("labels", "sub_labels", "zones", "cameras", "severity", "streams", "types") if name in raw}
        rules.append(MappingRule(id=raw["id"], to=raw["to"], min_score=raw.get("min_score"),
                                 min_threat_level=raw.get("min_threat_level"),
                                 false_positives=bool(raw.get("false_positives", False)), **sets))
    checker.fail_if_problems()
    return FrigateMapping(tuple(rules), source)


def load_mapping_file(path: Path | None) -> FrigateMapping:
    """The mapping in ``path``, or the default one when ``path`` is None."""
    if path is None:
        return default_mapping()
    return load_mapping(limits.read_text(Path(path), limits.RULES_FILE_BYTES, "Frigate mapping"), str(path))


@functools.cache
def default_mapping() -> FrigateMapping:
    return load_mapping(DEFAULT_MAPPING.read_text(encoding="utf-8"), DEFAULT_MAPPING.name)
