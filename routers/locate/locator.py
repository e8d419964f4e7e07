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

Generations: the one whose validity covers the event time (``at``; None = now); among several,
the latest ``valid_from``. An event older than every generation uses the earliest one and says
so with the correction ``"no_generation_for_time"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from routers.boundaries.generation import Generation, degrees_for
from routers.boundaries.index import EMPTY
from routers.boundaries.lineage import admin_data
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

    __slots__ = ("generation", "refs", "plain", "by_name")

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


class Locator:
    def __init__(self, generations: Sequence[Generation], nearest_max_m: float = 300.0) -> None:
        if not generations:
            raise BoundaryError("Locator needs at least one boundary generation")
        if not math.isfinite(nearest_max_m) or nearest_max_m < 0:
            raise ValueError(f"nearest_max_m must be >= 0, got {nearest_max_m}")
        ordered = sorted(generations, key=lambda g: (g.valid_from, g.meta.created_at))
        self._serving = [_Serving(g) for g in ordered]
        self.nearest_max_m = nearest_max_m
        self._current: _Serving | None = None
        self._current_until_ts = -math.inf
        self._current_corrections: tuple[str, ...] = ()

    @property
    def generations(self) -> list[Generation]:
        return [s.generation for s in self._serving]

    # -- generation by time ---------------------------------------------------------------
    def _pick(self, at: datetime | None) -> tuple[_Serving, tuple[str, ...]]:
        if at is None:
            serving = self._pick_now()
            return serving, self._current_corrections
        if at.tzinfo is None:
            raise Rejected("invalid_time", f"event time {at.isoformat()} has no time zone")
        chosen = None
        for serving in self._serving:  # ascending valid_from: the last covering one wins
            if serving.generation.meta.covers(at):
                chosen = serving
        if chosen is not None:
            return chosen, ()
        later = [s for s in self._serving if s.generation.valid_from > at]
        if later:
            return later[0], (NO_GENERATION_FOR_TIME,)
        return self._serving[-1], (NO_GENERATION_FOR_TIME,)

    def _pick_now(self) -> _Serving:
        # The hot path: compare a float clock with the instant the choice may change, instead of
        # building a datetime per event.
        if self._current is not None and time.time() < self._current_until_ts:
            return self._current
        now = datetime.now(UTC)
        serving, corrections = self._pick(now)
        self._current_corrections = corrections
        changes = [g.valid_from for g in self.generations if g.valid_from > now]
        if serving.generation.valid_to is not None:
            changes.append(serving.generation.valid_to)
        self._current = serving
        self._current_until_ts = min(changes).timestamp() if changes else math.inf
        return serving

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
            serving, picked = self._pick(at)
            if not picked:
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
                        others = self._as_candidates(serving, near)
                        return Location("resolved", serving.refs[i], "point", gen.id, gen.source, others)
        y, x, corrections = check_coordinates(lat, lon)
        radius = check_accuracy(accuracy_m)
        serving, picked = self._pick(at)
        corrections += picked
        gen = serving.generation
        i = gen.index.ward_at(x, y)
        if i != EMPTY:
            if not radius and not corrections:
                return serving.plain[i]
            others = () if not radius else self._candidates(serving, y, x, radius, exclude=i)
            return Location("resolved", serving.refs[i], "point", gen.id, gen.source, others, corrections)
        near = gen.wards_within(y, x, max(self.nearest_max_m, radius or 0.0))
        in_reach = [(w, d) for w, d in near if d <= self.nearest_max_m]
        if not in_reach:
            return Location(
                "unresolved",
                None,
                "point",
                gen.id,
                gen.source,
                self._as_candidates(serving, near),
                corrections,
                reason="outside_boundaries",
            )
        best = in_reach[0][0]
        return Location(
            "resolved",
            serving.refs[best],
            "nearest",
            gen.id,
            gen.source,
            self._as_candidates(serving, near),
            corrections,
        )

    def _candidates(
        self, serving: _Serving, lat: float, lon: float, radius: float, exclude: int
    ) -> tuple[Candidate, ...]:
        near = serving.generation.wards_within(lat, lon, radius)
        return self._as_candidates(serving, [(w, d) for w, d in near if w != exclude])

    @staticmethod
    def _as_candidates(serving: _Serving, near: list[tuple[int, float]]) -> tuple[Candidate, ...]:
        return tuple(Candidate(serving.refs[w].code, serving.refs[w].name, d) for w, d in near)

    # -- addresses --------------------------------------------------------------------------
    def locate_address(self, text: str, at: datetime | None = None) -> Location:
        check_address(text)
        serving, corrections = self._pick(at)
        gen = serving.generation
        if not text.strip():
            return Location("unresolved", None, "address", gen.id, gen.source, (), corrections, "no_location")
        match = resolve_address(text)
        if match is None:
            return Location(
                "unresolved", None, "address", gen.id, gen.source, (), corrections, "address_unresolved"
            )
        method: Method = "legacy_address" if match.kind == "legacy" else "address"
        found = sorted({i for code in match.codes for i in self._ward_indices(serving, code)})
        if not found:
            return Location(
                "unresolved", None, method, gen.id, gen.source, (), corrections, "address_unresolved"
            )
        if len(found) == 1:
            return Location("resolved", serving.refs[found[0]], method, gen.id, gen.source, (), corrections)
        candidates = tuple(Candidate(serving.refs[i].code, serving.refs[i].name, None) for i in found)
        return Location(
            "ambiguous", None, method, gen.id, gen.source, candidates, corrections, "ambiguous_address"
        )

    @staticmethod
    def _ward_indices(serving: _Serving, code: str) -> list[int]:
        gen = serving.generation
        if gen.has_ward(code):
            return [gen.ward_index(code)]
        # A generation imported with other codes: fall back to the same name in the same province.
        unit = admin_data().new_by_code.get(code)
        if unit is None:
            return []
        return serving.by_name.get((unit.province_code, _key(unit.name)), [])

    # -- either -------------------------------------------------------------------------------
    def locate(self, point: GeoPoint | None, address: str | None, at: datetime | None = None) -> Location:
        """The point decides when there is one; the address is the fallback."""
        if point is not None:
            return self.locate_point(point.lat, point.lon, point.accuracy_m, at)
        if address is not None and address.strip():
            return self.locate_address(address, at)
        serving, corrections = self._pick(at)
        gen = serving.generation
        return Location("unresolved", None, "point", gen.id, gen.source, (), corrections, "no_location")
