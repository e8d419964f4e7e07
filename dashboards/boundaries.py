"""The active boundary generation as the dashboard needs it: ward names, the city's wards, and the
map layers (built once per generation and view, in a thread, then served from memory)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from dashboards.mapdata import SIMPLIFY_M, EncodedLayer, Scope, encode, map_layer
from routers.exceptions import BoundaryError

log = logging.getLogger(__name__)

RELOAD_MIN_INTERVAL_S = 30.0


class WardLike(Protocol):
    code: str
    name: str
    province_code: str


class GenerationLike(Protocol):
    """What the dashboard uses of ``routers.boundaries.generation.Generation``."""

    @property
    def id(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def wards(self) -> tuple[Any, ...]: ...

    def wards_in_province(self, province_code: str) -> list[Any]: ...

    def geojson(self, province_code: str | None = None, simplify_m: float = 30.0) -> dict[str, object]: ...


def registry_loader(data_dir: Path) -> Callable[[], GenerationLike]:
    """Load the active generation from the registry in ``data_dir`` (building the default one if none)."""

    def load() -> GenerationLike:
        from routers.boundaries.registry import BoundaryRegistry

        registry = BoundaryRegistry(data_dir)
        registry.ensure_default()
        return registry.load_active()  # type: ignore[no-any-return]

    return load


class BoundaryView:
    def __init__(self, load: Callable[[], GenerationLike], province_code: str) -> None:
        self._load = load
        self.province_code = province_code
        self.generation: GenerationLike | None = None
        self.error: str | None = None
        self._layers: dict[tuple[str, Scope, str | None], EncodedLayer] = {}
        self._building: dict[tuple[str, Scope, str | None], asyncio.Task[EncodedLayer]] = {}
        self._names: dict[str, str] = {}
        self._city_codes: tuple[str, ...] = ()
        self._last_reload = 0.0

    async def start(self) -> None:
        await self.reload()
        if self.generation is not None:
            # warm both views now, so the first visitor does not wait for simplification
            asyncio.get_running_loop().create_task(self._prewarm())

    async def _prewarm(self) -> None:
        for scope in ("city", "national"):
            try:
                await self.layer(scope)  # type: ignore[arg-type]
            except BoundaryError as exc:
                log.warning("map layer %s not built: %s", scope, exc)

    async def reload(self) -> None:
        self._last_reload = time.monotonic()
        try:
            generation = await asyncio.to_thread(self._load)
        except (BoundaryError, OSError, ValueError) as exc:
            self.error = f"no boundary generation could be loaded: {exc}"
            log.warning(self.error)
            return
        self.generation = generation
        self.error = None
        self._names = {w.code: w.name for w in generation.wards}
        self._city_codes = tuple(sorted(w.code for w in generation.wards_in_province(self.province_code)))
        if not self._city_codes:
            self.error = f"generation {generation.id} has no ward in province {self.province_code}"

    def maybe_stale(self, worker_generations: list[dict[str, str]]) -> None:
        """Workers route with a generation we do not show: reload (at most every 30 s)."""
        ids = {g.get("generation") for g in worker_generations}
        current = None if self.generation is None else self.generation.id
        if ids and current not in ids and time.monotonic() - self._last_reload > RELOAD_MIN_INTERVAL_S:
            asyncio.get_running_loop().create_task(self.reload())

    @property
    def city_codes(self) -> tuple[str, ...]:
        return self._city_codes

    def name_of(self, code: str) -> str:
        return self._names.get(code, "")

    def info(self) -> dict[str, Any]:
        g = self.generation
        if g is None:
            return {"state": "missing", "message": self.error or "boundaries are loading"}
        return {
            "state": "ok" if self.error is None else "error",
            "message": self.error,
            "generation": g.id,
            "source": g.source,
            "approximate": "approximate" in g.source.split("+"),
            "reference": "reference" in g.source.split("+"),
            "ward_count": len(g.wards),
            "city_ward_count": len(self._city_codes),
            "province_code": self.province_code,
        }

    def province_codes(self) -> set[str]:
        return set() if self.generation is None else {w.province_code for w in self.generation.wards}

    async def layer(self, scope: Scope, province: str | None = None) -> EncodedLayer:
        """``city``: the dashboard's city; ``national``: every ward; ``province``: ``province`` in detail."""
        g = self.generation
        if g is None:
            raise BoundaryError(self.error or "boundaries are not loaded yet")
        if scope == "province" and province not in self.province_codes():
            raise BoundaryError(f"no province {province!r} in generation {g.id}")
        chosen = self.province_code if scope == "city" else province if scope == "province" else None
        key = (g.id, scope, chosen)
        ready = self._layers.get(key)
        if ready is not None:
            return ready
        task = self._building.get(key)
        if task is None:  # one build per generation and view, however many screens ask at once
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._build, g, scope, chosen))
            self._building[key] = task
        try:
            layer = await asyncio.shield(task)
        finally:
            if task.done():
                self._building.pop(key, None)
        self._layers = {k: v for k, v in self._layers.items() if k[0] == g.id}  # drop old generations
        self._layers[key] = layer
        return layer

    def _build(self, generation: GenerationLike, scope: Scope, province: str | None) -> EncodedLayer:
        collection = generation.geojson(province_code=province, simplify_m=SIMPLIFY_M[scope])
        return encode(map_layer(collection, scope, province))
