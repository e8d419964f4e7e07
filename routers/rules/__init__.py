"""Routing rules that ops engineers tune: a versioned YAML route tree, evaluated as a pure function.

    >>> from routers.rules import default_ruleset, evaluate
    >>> ruleset = default_ruleset()
    >>> decision = evaluate(ruleset, event, location)          # doctest: +SKIP
    >>> decision.targets, decision.priority, decision.matched  # doctest: +SKIP
    (('ward:27139', 'agency:fire'), 'P1', ('fire-report',))

Modules: :mod:`~routers.rules.config` (load + validate, errors name line:column),
:mod:`~routers.rules.model` (the built tree), :mod:`~routers.rules.matchers`,
:mod:`~routers.rules.evaluate` (Alertmanager walk, quiet windows, inhibition, explain trace;
its docstring says what the pipeline calls), :mod:`~routers.rules.state` (hysteresis and
inhibitor state as plain data), :mod:`~routers.rules.replay` (what-if diffing),
:mod:`~routers.rules.cases` (test events and case tables for ``ioc rules test``),
:mod:`~routers.rules.holdback` (quiet windows, silences, inhibition with Alertmanager's meaning),
:mod:`~routers.rules.batch` (a batch routed with order-independent inhibition),
:mod:`~routers.rules.timeintervals` (Alertmanager's named time intervals),
:mod:`~routers.rules.silences` (silences as data and functions of time, and their index).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from routers.rules.config import load_ruleset
from routers.rules.evaluate import Evaluation, evaluate, evaluate_with_state
from routers.rules.model import Route, Ruleset
from routers.rules.problems import Problem, RulesFileError
from routers.rules.state import Inhibitor, InhibitorBoard, RuleContext, SensorState, StateChange

DEFAULT_RULES_NAME = "default_rules.yaml"


def default_rules_text() -> str:
    return resources.files("routers.rules").joinpath(DEFAULT_RULES_NAME).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def default_ruleset() -> Ruleset:
    """The shipped default ruleset (``routers/rules/default_rules.yaml``), loaded once."""
    return load_ruleset(default_rules_text(), DEFAULT_RULES_NAME)


__all__ = [
    "Evaluation", "Inhibitor", "InhibitorBoard", "Problem", "Route", "RuleContext", "Ruleset", "RulesFileError",
    "SensorState", "StateChange", "default_rules_text", "default_ruleset", "evaluate", "evaluate_with_state",
    "load_ruleset",
]
