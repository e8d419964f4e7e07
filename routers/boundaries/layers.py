"""Layered generations: each active generation serves the provinces it has, unless a layer above it
has them too.

A city that imports its official file gets a generation with that city's wards only; the built-in
reference generation keeps serving every other province below it. Layers are ordered by
:meth:`GenerationMeta.layer_rank` (imported above the reference, then the most recently activated
first); a province belongs to the topmost layer that has any ward in it.

:class:`Layers` shows a stack of generations as one set of wards (what ``ioc up``, the simulator,
``ioc topics`` and the dashboard need); the locator walks the same stack per lookup
(:mod:`routers.locate.locator`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import numpy as np
import shapely

from routers.boundaries.generation import Generation
from routers.boundaries.index import EMPTY
from routers.boundaries.model import Ward
from routers.exceptions import BoundaryError


def order_layers(generations: Sequence[Generation]) -> list[Generation]:
    """Topmost first."""
    return sorted(generations, key=lambda g: g.meta.layer_rank(), reverse=True)


def provinces_of(gen: Generation) -> set[str]:
    return {w.province_code for w in gen.wards}


def served_provinces(layers: Sequence[Iterable[str]]) -> list[set[str]]:
    """For each layer's provinces (topmost first), the ones it serves: those no layer above has."""
    taken: set[str] = set()
    served = []
    for provinces in layers:
        mine = set(provinces) - taken
        served.append(mine)
        taken |= mine
    return served


def served_mask(gen: Generation, provinces: set[str]) -> np.ndarray:
    """Per ward of ``gen``: does this layer answer for it?"""
    return np.fromiter((w.province_code in provinces for w in gen.wards), dtype=bool, count=len(gen.wards))


class Layers:
    """A stack of generations valid at one time, seen as one set of wards (topmost layer first)."""

    def __init__(self, generations: Sequence[Generation]) -> None:
        if not generations:
            raise BoundaryError("no active boundary generation")
        self.layers = order_layers(generations)
        self.served = served_provinces([provinces_of(g) for g in self.layers])
        self._by_province = {p: g for g, ps in zip(self.layers, self.served, strict=True) for p in ps}
        self.wards: tuple[Ward, ...] = tuple(
            sorted(
                (w for g, ps in zip(self.layers, self.served, strict=True) for w in g.wards if w.province_code in ps),
                key=lambda w: w.code,
            )
        )
        self._ward_layer = {w.code: self._by_province[w.province_code] for w in self.wards}

    @property
    def id(self) -> str:
        """The layers' ids, topmost first, joined by "+" (a single generation: its own id)."""
        return "+".join(g.id for g in self.layers if self._serves_any(g))

    @property
    def source(self) -> str:
        """The layers' sources, topmost first, joined by "+" (e.g. ``official+reference``)."""
        sources: list[str] = []
        for g in self.layers:
            if self._serves_any(g) and g.source not in sources:
                sources.append(g.source)
        return "+".join(sources)

    def _serves_any(self, gen: Generation) -> bool:
        return bool(self.served[self.layers.index(gen)])

    def generation_for(self, province_code: str) -> Generation | None:
        """The layer that serves ``province_code``, or None when no layer has it."""
        return self._by_province.get(province_code)

    def describe(self) -> list[dict[str, object]]:
        """Each layer, topmost first, with the provinces it serves (for ``ioc boundaries list``)."""
        return [
            {"generation": g.id, "source": g.source, "provinces": sorted(ps)}
            for g, ps in zip(self.layers, self.served, strict=True)
        ]

    # -- the Generation interface the callers use ---------------------------------------------
    def wards_in_province(self, province_code: str) -> list[Ward]:
        gen = self._by_province.get(province_code)
        return [] if gen is None else gen.wards_in_province(province_code)

    def has_ward(self, code: str) -> bool:
        return code in self._ward_layer

    def ward(self, code: str) -> Ward:
        gen = self._ward_layer.get(code)
        if gen is None:
            raise BoundaryError(f"ward {code!r} is not served by the active boundaries ({self.id})")
        return gen.ward(code)

    def geometry(self, code: str) -> shapely.Geometry:
        gen = self._ward_layer.get(code)
        if gen is None:
            raise BoundaryError(f"ward {code!r} is not served by the active boundaries ({self.id})")
        return gen.geometry(code)

    def ward_of(self, lat: float, lon: float) -> Ward | None:
        for gen, provinces in zip(self.layers, self.served, strict=True):
            i = gen.index.ward_at(lon, lat)
            if i != EMPTY and gen.wards[i].province_code in provinces:
                return gen.wards[i]
        return None

    def random_point_in(self, ward_code: str, rng: random.Random) -> tuple[float, float]:
        gen = self._ward_layer.get(ward_code)
        if gen is None:
            raise BoundaryError(f"ward {ward_code!r} is not served by the active boundaries ({self.id})")
        return gen.random_point_in(ward_code, rng)

    def geojson(self, province_code: str | None = None, simplify_m: float = 30.0) -> dict[str, object]:
        if province_code is not None:
            gen = self._by_province.get(province_code)
            if gen is None:
                return {"type": "FeatureCollection", "generation": self.id, "source": self.source, "features": []}
            return gen.geojson(province_code, simplify_m)
        serving = [g for g in self.layers if self._serves_any(g)]
        if len(serving) == 1:
            return serving[0].geojson(None, simplify_m)
        features: list[object] = []
        for gen, provinces in zip(self.layers, self.served, strict=True):
            for province in sorted(provinces):
                layer = gen.geojson(province, simplify_m)
                features.extend(layer["features"])  # type: ignore[arg-type]
        return {"type": "FeatureCollection", "generation": self.id, "source": self.source, "features": features}
