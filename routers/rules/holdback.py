"""Holding events back: quiet windows, silences and inhibition (what decides ``suppressed``).

Checked in this order; the first that holds names the reason:

1. a quiet window of the ruleset that is on at the event's time and matches: ``quiet:<id>``;
2. an active silence matching the event at ``now`` (processing time in the pipeline; the
   event's time in ``ioc rules test``): ``silenced:<id>`` (the smallest id when several match;
   the trace lists them all);
3. inhibition, with Alertmanager's meaning (``inhibit/inhibit.go`` ``Mutes``/``hasEqual``): the
   event matches a rule's ``target`` and an inhibitor of that rule is active at the event's time,
   covers its ward/province and has the same values of the rule's ``equal`` fields (absent = "");
   if the event also matches the rule's ``source``, inhibitors raised by events that matched
   both sides are disregarded (an event never holds itself back, but another source does):
   ``inhibited:<rule id>``.

Every event matching an inhibit rule's ``source`` raises an inhibitor, whether or not it is held
back itself (Alertmanager keeps every source alert in the rule's cache, silenced or not), so which
events are held back does not depend on the order sources and targets arrive in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from routers.rules.matchers import Facts
from routers.rules.model import InhibitRule, Ruleset
from routers.rules.silences import SilenceIndex
from routers.rules.state import Inhibitor

INHIBITED = "inhibited:"  # a decision's ``suppressed`` when an inhibit rule held it back: + the rule's id


def _holds(test: Callable[[Facts], bool] | None, facts: Facts) -> bool:
    return test is None or test(facts)


def equal_values(rule: InhibitRule, facts: Facts) -> tuple[tuple[str, str], ...]:
    """The event's values of the rule's ``equal`` fields; an absent one reads "" (as in Alertmanager)."""
    out = []
    for name in rule.equal:
        value = getattr(facts, name)
        out.append((name, "" if value is None else str(value)))
    return tuple(sorted(out))


def raise_inhibitors(ruleset: Ruleset, facts: Facts, event_id: str) -> tuple[Inhibitor, ...]:
    """The inhibitors an event raises: one per rule whose ``source`` it matches (within its area)."""
    raised: list[Inhibitor] = []
    for rule in ruleset.inhibit_rules:
        source_test = rule.source_test
        if source_test is not None and not source_test(facts):
            continue
        until = facts.epoch + rule.hold_s
        equal = equal_values(rule, facts) if rule.equal else ()
        two_sided = _holds(rule.target_test, facts)
        if rule.scope == "province" and facts.province is not None:
            raised.append(Inhibitor(rule.id, until, province=facts.province, raised_by=event_id, equal=equal,
                                    two_sided=two_sided))
        elif rule.scope == "ward" and facts.wards:
            raised.append(Inhibitor(rule.id, until, wards=frozenset(facts.wards), raised_by=event_id, equal=equal,
                                    two_sided=two_sided))
    return tuple(raised)


def _inhibited(ruleset: Ruleset, facts: Facts, inhibitors: Sequence[Inhibitor]) -> tuple[str, str] | None:
    epoch = facts.epoch
    sides: dict[str, tuple[bool, bool]] = {}  # rule id -> (matches target, matches source), worked out once
    for inhibitor in inhibitors:
        if not inhibitor.active(epoch) or not inhibitor.covers(facts.wards, facts.province):
            continue
        rule = ruleset.inhibit_by_id.get(inhibitor.rule)
        if rule is None:
            continue
        side = sides.get(rule.id)
        if side is None:
            side = sides[rule.id] = (_holds(rule.target_test, facts), _holds(rule.source_test, facts))
        is_target, is_source = side
        if not is_target or (is_source and inhibitor.two_sided):
            continue
        if rule.equal and inhibitor.equal != equal_values(rule, facts):
            continue
        return f"{INHIBITED}{rule.id}", (
            f"suppressed by inhibit rule {rule.id} (raised by {inhibitor.raised_by or 'an event'})"
        )
    return None


def held_back(ruleset: Ruleset, facts: Facts, inhibitors: Sequence[Inhibitor], silences: SilenceIndex | None,
              now: float | None) -> tuple[str | None, str | None]:
    """(suppressed reason, trace line), or (None, None) when nothing holds the event back."""
    epoch = facts.epoch
    for window in ruleset.quiet_windows:
        if window.on_at(epoch) and _holds(window.test, facts):
            return f"quiet:{window.id}", f"suppressed by quiet window {window.id}"
    if silences is not None and silences.size:
        found = silences.matching(facts, epoch if now is None else now)
        if found:
            first = found[0]
            named = ", ".join(s.id for s in found)
            return f"silenced:{first.id}", (
                f"silenced by {named} ({first.created_by}: {first.comment})"
            )
    if inhibitors:
        inhibited = _inhibited(ruleset, facts, inhibitors)
        if inhibited is not None:
            return inhibited
    return None, None
