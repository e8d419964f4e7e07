"""The built ruleset: a frozen route tree with inherited options filled in, plus thresholds,
quiet windows and inhibit rules, all compiled. Produced only by :func:`routers.rules.load_ruleset`;
evaluation trusts it (every invariant was checked at load).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from routers.decision import Priority, Sla
from routers.rules.matchers import Matcher

Scope = Literal["ward", "province"]


@dataclass(frozen=True, eq=False)
class Route:
    """One node of the route tree (Alertmanager ``dispatch.Route``).

    ``targets``, ``priority``, ``sla``, ``group_by`` and ``group_window_s`` are resolved: a node
    that does not set them has its parent's. ``suppress`` and ``continue_`` are the node's own.
    """

    id: str
    path: tuple[str, ...]  # ids from the root down to this node
    matchers: tuple[Matcher, ...]
    continue_: bool
    targets: tuple[str, ...]  # "ward", "city-ioc", "agency:<name>"
    priority: Priority
    sla: Sla
    group_by: tuple[str, ...]
    group_window_s: int
    suppress: str | None
    children: tuple[Route, ...]
    description: str = ""
    explain: str = ""  # precomputed trace line: "route fire-report (root > reports > ...): ..."
    # Children pre-sorted by one equality matcher most of them use (e.g. category), so the walk
    # skips siblings that cannot match: value -> the children that may match, in file order.
    # Built at load by routers.rules.dispatch; None = try every child.
    dispatch_on: Callable[[Any], Any] | None = None
    dispatch: Mapping[str, tuple[Route, ...]] = field(default_factory=dict)
    dispatch_rest: tuple[Route, ...] = ()

    def walk(self) -> list[Route]:
        """This node and all descendants, depth first, in file order."""
        nodes = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes


@dataclass(frozen=True, eq=False)
class Threshold:
    """Hysteresis on one sensor kind: opens at ``level``, closes only past ``clear``.

    Rising (``above``): opens when value >= level, stays open while value >= clear (clear < level).
    Falling (``below``): opens when value < level, stays open while value < clear (clear > level).
    """

    id: str
    sensor_kind: str
    rising: bool
    level: float
    clear: float
    description: str = ""

    def next_open(self, was_open: bool, value: float) -> bool:
        if self.rising:
            return value >= self.clear if was_open else value >= self.level
        return value < self.clear if was_open else value < self.level


@dataclass(frozen=True, eq=False)
class QuietWindow:
    """Matching events are delivered marked ``suppressed="quiet:<id>"`` while the window is on."""

    id: str
    matchers: tuple[Matcher, ...]
    start_epoch: float | None
    end_epoch: float | None
    description: str = ""


@dataclass(frozen=True, eq=False)
class InhibitRule:
    """An event matching ``source`` raises an inhibitor over its ward (or province) for ``hold_s``;
    while it is active, events matching ``target`` there are delivered suppressed
    (``"inhibited:<id>"``). An event matching both sides is never inhibited by the rule."""

    id: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    scope: Scope
    hold_s: int
    description: str = ""


@dataclass(frozen=True, eq=False)
class Ruleset:
    version: str  # "<declared>+<content hash>"
    declared_version: str
    digest: str
    source: str
    text: str
    agencies: tuple[str, ...]
    root: Route
    thresholds: tuple[Threshold, ...]
    quiet_windows: tuple[QuietWindow, ...]
    inhibit_rules: tuple[InhibitRule, ...]
    description: str = ""
    needs_clock: bool = False
    thresholds_by_kind: MappingProxyType[str, tuple[Threshold, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    inhibit_by_id: MappingProxyType[str, InhibitRule] = field(default_factory=lambda: MappingProxyType({}))

    def routes(self) -> list[Route]:
        return self.root.walk()

    def route(self, route_id: str) -> Route:
        for node in self.root.walk():
            if node.id == route_id:
                return node
        raise KeyError(route_id)
