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
from routers.rules.matchers import Facts, Matcher, compile_test
from routers.rules.timeintervals import NamedInterval

Scope = Literal["ward", "province"]


# One child as the walk tries it: (child, the test it must pass (None: none), its continue flag,
# whether it has children). A plain tuple: unpacked once per child on the per-event path.
Step = tuple["Route", Callable[[Facts], bool] | None, bool, bool]


def step(child: Route) -> Step:
    return step_testing(child, child.test)


def step_testing(child: Route, test: Callable[[Facts], bool] | None) -> Step:
    """``child`` as a walk step passing ``test`` instead of its own matchers (the caller knows the rest hold)."""
    return (child, test, child.continue_, bool(child.children))


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
    # Alertmanager's mute_time_intervals / active_time_intervals: the node's own, never inherited
    mute_intervals: tuple[NamedInterval, ...] = ()
    active_intervals: tuple[NamedInterval, ...] = ()
    explain: str = ""  # precomputed trace line: "route fire-report (root > reports > ...): ..."
    # Children pre-sorted by one equality matcher most of them use (e.g. category), so the walk
    # skips siblings that cannot match: value -> the children that may match, in file order.
    # Built at load by routers.rules.dispatch; None = try every child.
    dispatch_on: Callable[[Any], Any] | None = None
    dispatch: Mapping[str, tuple[Route, ...]] = field(default_factory=dict)
    dispatch_rest: tuple[Route, ...] = ()
    # The same tables as walk steps, each child's test without the membership matcher the
    # dispatch value already satisfies (built with them).
    dispatch_steps: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)
    dispatch_rest_steps: tuple[Step, ...] = ()
    # ``matchers`` as one callable (None: matches everything), so the walk makes one call per node
    test: Callable[[Facts], bool] | None = field(init=False, repr=False)
    steps: tuple[Step, ...] = field(init=False, repr=False)  # every child as a walk step, in file order

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", compile_test(self.matchers))
        object.__setattr__(self, "steps", tuple(step(child) for child in self.children))

    @property
    def timed(self) -> bool:
        return bool(self.mute_intervals or self.active_intervals)

    def muted_by(self, epoch: float) -> str | None:
        """Why the node is muted at ``epoch`` (Alertmanager's TimeMuteStage/TimeActiveStage), or None."""
        for interval in self.mute_intervals:
            if interval.contains(epoch):
                return f"mute time interval {interval.name}"
        if self.active_intervals and not any(interval.contains(epoch) for interval in self.active_intervals):
            return "outside active time intervals " + ", ".join(i.name for i in self.active_intervals)
        return None

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
    intervals: tuple[NamedInterval, ...] = ()  # on only inside one of these (when set)
    test: Callable[[Facts], bool] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", compile_test(self.matchers))

    def on_at(self, epoch: float) -> bool:
        if self.start_epoch is not None and epoch < self.start_epoch:
            return False
        if self.end_epoch is not None and epoch >= self.end_epoch:
            return False
        return not self.intervals or any(interval.contains(epoch) for interval in self.intervals)


@dataclass(frozen=True, eq=False)
class InhibitRule:
    """An event matching ``source`` raises an inhibitor over its ward (or province) for ``hold_s``,
    whether or not it is itself held back; while it is active, events matching ``target`` there
    (and with the same ``equal`` fields) are delivered suppressed (``"inhibited:<id>"``). An event
    matching both sides is held back only by a source that does not match ``target`` itself
    (Alertmanager's ``excludeTwoSidedMatch``)."""

    id: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    scope: Scope
    hold_s: int
    description: str = ""
    equal: tuple[str, ...] = ()
    source_test: Callable[[Facts], bool] | None = field(init=False, repr=False)
    target_test: Callable[[Facts], bool] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_test", compile_test(self.source))
        object.__setattr__(self, "target_test", compile_test(self.target))


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
    thresholds_by_kind: MappingProxyType[str, tuple[Threshold, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    inhibit_by_id: MappingProxyType[str, InhibitRule] = field(default_factory=lambda: MappingProxyType({}))
    time_intervals: MappingProxyType[str, NamedInterval] = field(default_factory=lambda: MappingProxyType({}))
    timed_routes: bool = False  # some route has mute/active time intervals
    # What evaluation derives from a walk's matched nodes alone (targets, priority, trace lines...),
    # filled lazily by routers.rules.evaluate: key = the matched nodes, in walk order.
    outcomes: dict[tuple[Route, ...], Any] = field(default_factory=dict, init=False, repr=False)

    def routes(self) -> list[Route]:
        return self.root.walk()

    def route(self, route_id: str) -> Route:
        for node in self.root.walk():
            if node.id == route_id:
                return node
        raise KeyError(route_id)
