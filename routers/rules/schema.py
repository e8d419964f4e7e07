"""The JSON Schema of a rules file (draft 2020-12), built from the matcher vocabulary.

The schema checks shape: known keys only, types, enums. What a schema cannot say well
(known categories, declared agencies, regexes that compile, time windows, thresholds that
exist) is checked by :mod:`routers.rules.config`, with the same line:column reporting.
``ioc rules show --schema`` prints it for editors.
"""

from __future__ import annotations

from typing import Any

# matcher key -> what it reads from the event (see routers.rules.matchers.Facts)
SET_FIELDS = (
    "source", "kind", "category", "label", "sensor_kind", "family", "ward", "province", "device", "channel",
)
TEXT_FIELDS = ("description", "address")
NUMBER_FIELDS = ("confidence", "value")
GROUP_BY_FIELDS = ("source", "kind", "family", "ward", "province", "device", "channel", "threshold")
# fields an inhibit rule's ``equal`` may name: single-valued facts the source and target both have
EQUAL_FIELDS = ("source", "kind", "category", "label", "sensor_kind", "family", "ward", "province", "device",
                "channel")
PRIORITIES = ("P1", "P2", "P3", "P4")

_STRINGS = {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1}
_ONE_OR_MORE = {"anyOf": [{"type": ["string", "integer"]}, _STRINGS]}
_DURATION = {"type": ["string", "integer"]}
_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_RANGES = {"type": "array", "items": {"type": ["string", "integer"]}}
_ID = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]*$"}


def time_interval_schema() -> dict[str, Any]:
    """One entry of a named interval (Alertmanager's ``time_interval``)."""
    return {
        "type": "object",
        "properties": {
            "times": {"type": "array", "items": {
                "type": "object",
                "properties": {"start_time": {"type": "string"}, "end_time": {"type": "string"}},
                "additionalProperties": False,
            }},
            "weekdays": _RANGES,
            "days_of_month": _RANGES,
            "months": _RANGES,
            "years": _RANGES,
            "location": {"type": "string"},
        },
        "additionalProperties": False,
    }


def matcher_properties() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for field in SET_FIELDS:
        props[field] = _ONE_OR_MORE
        props[f"{field}_not"] = _ONE_OR_MORE
        props[f"{field}_regex"] = {"type": "string"}
        props[f"{field}_not_regex"] = {"type": "string"}
    for field in TEXT_FIELDS:
        props[f"{field}_regex"] = {"type": "string"}
        props[f"{field}_not_regex"] = {"type": "string"}
    props["confidence_gte"] = {"type": "number", "minimum": 0, "maximum": 1}
    props["confidence_lt"] = {"type": "number", "minimum": 0, "maximum": 1}
    props["value_gte"] = {"type": "number"}
    props["value_lt"] = {"type": "number"}
    props["threshold"] = _ONE_OR_MORE
    props["time"] = _ONE_OR_MORE
    props["weekdays"] = _ONE_OR_MORE
    return props


MATCHER_KEYS = frozenset(matcher_properties())


def rules_schema() -> dict[str, Any]:
    match = {"type": "object", "properties": matcher_properties(), "additionalProperties": False}
    route: dict[str, Any] = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]*$"},
            "description": {"type": "string"},
            "match": match,
            "continue": {"type": "boolean"},
            "targets": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "priority": {"enum": list(PRIORITIES)},
            "sla": {
                "type": "object",
                "properties": {"acknowledge": _DURATION, "resolve": _DURATION},
                "additionalProperties": False,
            },
            "group_by": {"type": "array", "items": {"enum": list(GROUP_BY_FIELDS)}},
            "group_window": _DURATION,
            "suppress": {"type": "string", "pattern": r"^[a-z0-9_.-]+$"},
            "mute_time_intervals": _NAMES,
            "active_time_intervals": _NAMES,
            "routes": {"type": "array", "items": {"$ref": "#/$defs/route"}},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ioc-router.example/rules.schema.json",
        "title": "ioc-router routing rules",
        "type": "object",
        "required": ["version", "agencies", "route"],
        "properties": {
            "version": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
            "description": {"type": "string"},
            "agencies": {
                "type": "array", "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
            },
            "route": {"$ref": "#/$defs/route"},
            "time_intervals": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "time_intervals"],
                    "properties": {
                        "name": _ID,
                        "description": {"type": "string"},
                        "time_intervals": {"type": "array", "items": time_interval_schema()},
                    },
                    "additionalProperties": False,
                },
            },
            "thresholds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "sensor_kind"],
                    "properties": {
                        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]*$"},
                        "description": {"type": "string"},
                        "sensor_kind": {"type": "string"},
                        "above": {"type": "number"},
                        "below": {"type": "number"},
                        "clear": {"type": "number"},
                    },
                    "additionalProperties": False,
                },
            },
            "quiet_windows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "match"],
                    "properties": {
                        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]*$"},
                        "description": {"type": "string"},
                        "match": match,
                        "from": {"type": "string"},
                        "until": {"type": "string"},
                        "time_intervals": _NAMES,
                    },
                    "additionalProperties": False,
                },
            },
            "inhibit_rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "source", "target", "scope", "hold"],
                    "properties": {
                        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]*$"},
                        "description": {"type": "string"},
                        "source": match,
                        "target": match,
                        "scope": {"enum": ["ward", "province"]},
                        "equal": {"type": "array", "items": {"enum": list(EQUAL_FIELDS)}},
                        "hold": _DURATION,
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
        "$defs": {"route": route},
    }
