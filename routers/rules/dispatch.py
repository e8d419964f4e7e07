"""Sibling dispatch: skip children that cannot match, without changing the walk's result.

When most children of a node test the same single-valued field for membership (``category:
[fire]``, ``label: [...]``, ``source: ...``), the node keeps, for each listed value, the children
that may still match - those listing the value plus those not testing the field - in file order.
A child left out would have failed that membership test anyway, so first-match/``continue``
semantics are unchanged; a child kept for a value passes that membership test, so the walk does
not run it again. The property tests check the dispatched walk against a reference walk.
"""

from __future__ import annotations

from dataclasses import replace
from operator import attrgetter

from routers.rules.matchers import InSet, compile_test
from routers.rules.model import Route, step, step_testing

DISPATCH_FIELDS = ("source", "category", "label", "sensor_kind", "kind", "family")
MIN_CHILDREN = 4


def _values(child: Route, field: str) -> frozenset[str] | None:
    """The values ``child`` requires for ``field`` (None: no requirement)."""
    required: frozenset[str] | None = None
    for matcher in child.matchers:
        if isinstance(matcher, InSet) and not matcher.negate and matcher.field == field:
            required = matcher.values if required is None else required & matcher.values
    return required


def with_dispatch(route: Route) -> Route:
    """``route`` with its dispatch table filled in when it pays off (children already built)."""
    children = route.children
    if len(children) < MIN_CHILDREN:
        return route
    best, best_count = None, 0
    for field in DISPATCH_FIELDS:
        count = sum(1 for child in children if _values(child, field) is not None)
        if count > best_count:
            best, best_count = field, count
    if best is None or best_count < MIN_CHILDREN:
        return route
    required = [_values(child, best) for child in children]
    listed = sorted({value for values in required if values is not None for value in values})
    table = {
        value: tuple(child for child, values in zip(children, required, strict=True)
                     if values is None or value in values)
        for value in listed
    }
    rest = tuple(child for child, values in zip(children, required, strict=True) if values is None)
    # A child listed under a value has all its membership tests on the field satisfied by that
    # value (the value is in their intersection), so its step tests only the other matchers.
    residual = {
        id(child): compile_test(tuple(
            matcher for matcher in child.matchers
            if not (isinstance(matcher, InSet) and not matcher.negate and matcher.field == best)
        ))
        for child, values in zip(children, required, strict=True) if values is not None
    }
    steps = {
        value: tuple(step_testing(child, residual[id(child)]) if id(child) in residual else step(child) for child in listed)
        for value, listed in table.items()
    }
    return replace(route, dispatch_on=attrgetter(best), dispatch=table, dispatch_rest=rest,
                   dispatch_steps=steps, dispatch_rest_steps=tuple(step(child) for child in rest))
