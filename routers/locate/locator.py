"""Which post-merger ward owns this place? Points, addresses, and the generation chosen by time.

>>> locator = Locator(registry.load_for_serving())             # doctest: +SKIP
>>> locator.locate_point(10.7769, 106.7009).ward.name          # doctest: +SKIP
'Phường Sài Gòn'

Points: exact point-in-polygon through the generation's index (shared edges go to the lower
ward code). A point in no ward goes to the nearest ward within ``nearest_max_m`` (geodesic),
``method="nearest"``, with that ward listed first among the candidates with its distance; farther
is ``unresolved``/``outside_boundaries``. With an accuracy radius, the other wards the radius
reaches are listed as candidates with distances (the answer stays ``resolved``).

Addresses: see :mod:`routers.locate.address`; the codes it returns are matched to the chosen
generation's wards by code, then by name within the province.

Generations: the active ones whose validity covers the event time (``at``; None = now) are
*layers* (:mod:`routers.boundaries.layers`): a lookup asks the topmost layer first and takes its
answer when that layer serves the ward's province, else falls through to the next. An event older
than every generation uses the earliest ones and says so with the correction
``"no_generation_for_time"``. Every answer names the generation (and its source) that gave it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from routers.boundaries.generation import Generation, degrees_for
from routers.boundaries.index import EMPTY
from routers.boundaries.layers import order_layers, provinces_of, served_mask, served_provinces
from routers.boundaries.lineage import LineageIndex, admin_data, lineage_index, published_receivers
from routers.events import GeoPoint
from routers.exceptions import BoundaryError, Rejected
from routers.locate.address import _key, check_address, resolve_address
from routers.locate.coords import MAX_ACCURACY_M, VIETNAM_LAT, VIETNAM_LON, check_accuracy, check_coordinates
from routers.locate.result import Candidate, Location, Method, WardRef

NO_GENERATION_FOR_TIME = "no_generation_for_time"
_LAT_MIN, _LAT_MAX = VIETNAM_LAT
_LON_MIN, _LON_MAX = VIETNAM_LON


class _Serving:
    """Per-generation answers built once: the resolved Location of every ward, name lookup."""

    __slots__ = ("generation", "refs", "plain", "by_name", "province_of", "_lineage")

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self.refs = [WardRef(w.code, w.name, w.province_code) for w in generation.wards]
        # Location is frozen, so one instance per ward serves every plain point lookup.
        self.plain = [
            Location("resolved", ref, "point", generation.id, generation.source) for ref in self.refs
        ]
        self.by_name: dict[tuple[str, str], list[int]] = {}
        for i, w in enumerate(generation.wards):
            self.by_name.setdefault((w.province_code, _key(w.name)), []).append(i)
        self.province_of = [w.province_code for w in generation.wards]
        self._lineage: LineageIndex | None = None

    @property
    def lineage(self) -> LineageIndex:
        """Old ward names -> the wards whose published predecessors list them (built at first use)."""
        if self._lineage is None:
            wards = self.generation.wards
            self._lineage = lineage_index(
                [w.predecessors for w in wards], [w.name for w in wards], [w.province_code for w in wards]
            )
        return self._lineage


class _Stack:
    """The layers valid at one time, topmost first, each with the wards it answers for."""

    __slots__ = ("layers", "served", "provinces", "single")

    def __init__(self, layers: list[_Serving]) -> None:
        self.layers = layers
        self.provinces = served_provinces([provinces_of(s.generation) for s in layers])
        self.served = [served_mask(s.generation, p).tolist() for s, p in zip(layers, self.provinces, strict=True)]
        # One layer serving all its wards (the built-in default alone): the fast path needs no check.
        self.single = layers[0] if len(layers) == 1 or not any(self.provinces[1:]) else None

    @property
    def top(self) -> _Serving:
        return self.layers[0]

    def serving_for(self, province_code: str) -> _Serving | None:
        for serving, provinces in zip(self.layers, self.provinces, strict=True):
            if province_code in provinces:
                return serving
        return None


class Locator:
    def __init__(self, generations: Sequence[Generation], nearest_max_m: float = 300.0) -> None:
        if not generations:
            raise BoundaryError("Locator needs at least one boundary generation")
        if not math.isfinite(nearest_max_m) or nearest_max_m < 0:
            raise ValueError(f"nearest_max_m must be >= 0, got {nearest_max_m}")
        ordered = sorted(generations, key=lambda g: (g.valid_from, g.meta.created_at))
        self._serving = [_Serving(g) for g in ordered]
        self._stacks: dict[tuple[int, ...], _Stack] = {}
        self.nearest_max_m = nearest_max_m
        self._current: _Stack | None = None
        self._current_until_ts = -math.inf
        self._current_corrections: tuple[str, ...] = ()

    @property
    def generations(self) -> list[Generation]:
        return [s.generation for s in self._serving]

    # -- layers by time -------------------------------------------------------------------
    def _stack(self, members: list[_Serving]) -> _Stack:
        key = tuple(id(s) for s in members)
        stack = self._stacks.get(key)
        if stack is None:
            by_gen = {id(s.generation): s for s in members}
            layers = [by_gen[id(g)] for g in order_layers([s.generation for s in members])]
            stack = self._stacks[key] = _Stack(layers)
        return stack

    def _pick(self, at: datetime | None) -> tuple[_Stack, tuple[str, ...]]:
        if at is None:
            stack = self._pick_now()
            return stack, self._current_corrections
        if at.tzinfo is None:
            raise Rejected("invalid_time", f"event time {at.isoformat()} has no time zone")
        covering = [s for s in self._serving if s.generation.meta.covers(at)]
        if covering:
            return self._stack(covering), ()
        later = [s for s in self._serving if s.generation.valid_from > at]
        if later:
            first = later[0].generation.valid_from
            return self._stack([s for s in later if s.generation.meta.covers(first)]), (NO_GENERATION_FOR_TIME,)
        return self._stack([self._serving[-1]]), (NO_GENERATION_FOR_TIME,)

    def _pick_now(self) -> _Stack:
        # The hot path: compare a float clock with the instant the choice may change, instead of
        # building a datetime per event.
        if self._current is not None and time.time() < self._current_until_ts:
            return self._current
        now = datetime.now(UTC)
        stack, corrections = self._pick(now)
        self._current_corrections = corrections
        changes = [g.valid_from for g in self.generations if g.valid_from > now]
        changes += [g.valid_to for g in self.generations if g.valid_to is not None and g.valid_to > now]
        self._current = stack
        self._current_until_ts = min(changes).timestamp() if changes else math.inf
        return stack

    # -- points -----------------------------------------------------------------------------
    def locate_point(
        self, lat: float, lon: float, accuracy_m: float | None = None, at: datetime | None = None
    ) -> Location:
        # Fast path: a plain float pair inside Vietnam's box and no or a plain accuracy within
        # range (NaN fails every comparison): the checks below would pass them unchanged.
        if (
            type(lat) is float
            and type(lon) is float
            and _LAT_MIN <= lat <= _LAT_MAX
            and _LON_MIN <= lon <= _LON_MAX
            and (
                accuracy_m is None
                or ((type(accuracy_m) is float or type(accuracy_m) is int) and 0 <= accuracy_m <= MAX_ACCURACY_M)
            )
        ):
            stack, picked = self._pick(at)
            serving = stack.single
            if not picked and serving is not None:
                gen = serving.generation
                if not accuracy_m:
                    i = gen.index.ward_at(lon, lat)
                    if i != EMPTY:
                        return serving.plain[i]
                else:
                    metres = float(accuracy_m)
                    pad = degrees_for(metres, lat)
                    i, alone = gen.index.ward_around(lon, lat, pad)
                    if i != EMPTY:
                        if alone:  # the accuracy square lies in one cell no boundary crosses
                            return serving.plain[i]
                        near = gen.wards_within_square(lat, lon, metres, pad, exclude=i)
                        if not near:
                            return serving.plain[i]
                        others = tuple(Candidate(serving.refs[w].code, serving.refs[w].name, d) for w, d in near)
                        return Location("resolved", serving.refs[i], "point", gen.id, gen.source, others)
        y, x, corrections = check_coordinates(lat, lon)
        radius = check_accuracy(accuracy_m)
        stack, picked = self._pick(at)
        corrections += picked
        for serving, served in zip(stack.layers, stack.served, strict=True):
            gen = serving.generation
            i = gen.index.ward_at(x, y)
            if i == EMPTY or not served[i]:
                continue  # not this layer's province: the next layer answers
            if not radius and not corrections:
                return serving.plain[i]
            others = () if not radius else self._near(stack, y, x, radius, exclude=(serving, i))
            return Location("resolved", serving.refs[i], "point", gen.id, gen.source, others, corrections)
        reach = self._near(stack, y, x, max(self.nearest_max_m, radius or 0.0))
        in_reach = [c for c in reach if c.distance_m is not None and c.distance_m <= self.nearest_max_m]
        if not in_reach:
            top = stack.top.generation
            return Location(
                "unresolved", None, "point", top.id, top.source, reach, corrections, reason="outside_boundaries"
            )
        best = in_reach[0]
        serving = self._owner(stack, best.code)
        gen = serving.generation
        return Location(
            "resolved", serving.refs[gen.ward_index(best.code)], "nearest", gen.id, gen.source, reach, corrections
        )

    @staticmethod
    def _near(
        stack: _Stack, lat: float, lon: float, radius: float, exclude: tuple[_Serving, int] | None = None
    ) -> tuple[Candidate, ...]:
        """Every ward within ``radius`` in the layer that serves it, nearest first (code breaks ties)."""
        found: list[Candidate] = []
        for serving, served in zip(stack.layers, stack.served, strict=True):
            for w, d in serving.generation.wards_within(lat, lon, radius):
                if served[w] and (exclude is None or (serving, w) != exclude):
                    found.append(Candidate(serving.refs[w].code, serving.refs[w].name, d))
        found.sort(key=lambda c: (c.distance_m or 0.0, c.code))
        return tuple(found)

    @staticmethod
    def _owner(stack: _Stack, code: str) -> _Serving:
        for serving, served in zip(stack.layers, stack.served, strict=True):
            gen = serving.generation
            if gen.has_ward(code) and served[gen.ward_index(code)]:
                return serving
        raise BoundaryError(f"ward {code} is served by no layer")

    # -- addresses --------------------------------------------------------------------------
    def locate_address(self, text: str, at: datetime | None = None) -> Location:
        check_address(text)
        stack, corrections = self._pick(at)
        top = stack.top.generation
        if not text.strip():
            return Location("unresolved", None, "address", top.id, top.source, (), corrections, "no_location")
        match = resolve_address(text)
        if match is None:
            return Location(
                "unresolved", None, "address", top.id, top.source, (), corrections, "address_unresolved"
            )
        method: Method = "legacy_address" if match.kind == "legacy" else "address"
        found = self._published(stack, match.codes, match.old) if match.old else None
        if found is None:
            found = sorted(
                {(serving.refs[i].code, id(serving)): (serving, i) for code in match.codes
                 for serving, i in self._ward_indices(stack, code)}.items()
            )
        if not found:
            return Location(
                "unresolved", None, method, top.id, top.source, (), corrections, "address_unresolved"
            )
        if len(found) == 1:
            serving, i = found[0][1]
            gen = serving.generation
            return Location("resolved", serving.refs[i], method, gen.id, gen.source, (), corrections)
        candidates = tuple(Candidate(s.refs[i].code, s.refs[i].name, None) for _, (s, i) in found)
        gen = found[0][1][0].generation
        return Location(
            "ambiguous", None, method, gen.id, gen.source, candidates, corrections, "ambiguous_address"
        )

    @staticmethod
    def _published(
        stack: _Stack, codes: tuple[str, ...], olds: tuple[tuple[str, str], ...]
    ) -> list[tuple[tuple[str, int], tuple[_Serving, int]]] | None:
        """Where the serving layer's published lineage (the reference data's ``predecessors``) says
        the old ward(s) went; it is the truth where it differs from the package's old-to-new table
        (13 old wards; and split wards the package gives extra receivers, e.g. Phường 6 of Mỹ Tho).
        None when a layer has no lineage for it (an imported file) or the lineage does not say."""
        unit = admin_data().new_by_code.get(codes[0]) if codes else None
        serving = stack.serving_for(unit.province_code) if unit is not None else None
        if unit is None or serving is None:
            return None
        found: dict[tuple[str, int], tuple[_Serving, int]] = {}
        for name, district in olds:
            positions = published_receivers(serving.lineage, unit.province_code, name, district)
            if positions is None:
                return None
            for i in positions:
                found[(serving.refs[i].code, id(serving))] = (serving, i)
        return sorted(found.items())

    @staticmethod
    def _ward_indices(stack: _Stack, code: str) -> list[tuple[_Serving, int]]:
        """The ward with this post-merger code in the layer serving its province; a layer
        imported with other codes is matched by the same name in the same province."""
        unit = admin_data().new_by_code.get(code)
        if unit is None:
            return []
        serving = stack.serving_for(unit.province_code)
        if serving is None:
            return []
        gen = serving.generation
        if gen.has_ward(code) and gen.wards[gen.ward_index(code)].province_code == unit.province_code:
            return [(serving, gen.ward_index(code))]
        return [(serving, i) for i in serving.by_name.get((unit.province_code, _key(unit.name)), [])]

    # -- either -------------------------------------------------------------------------------
    def locate(self, point: GeoPoint | None, address: str | None, at: datetime | None = None) -> Location:
        """The point decides when there is one; the address is the fallback."""
        if point is not None:
            return self.locate_point(point.lat, point.lon, point.accuracy_m, at)
        if address is not None and address.strip():
            return self.locate_address(address, at)
        stack, corrections = self._pick(at)
        gen = stack.top.generation
        return Location("unresolved", None, "point", gen.id, gen.source, (), corrections, "no_location")
