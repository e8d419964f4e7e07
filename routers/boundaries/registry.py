"""Boundary generations on disk: compiled files plus a small registry JSON (MapIt-style, with dates).

Layout under ``<data_dir>/boundaries/``::

    registry.json          generations: id, name, valid_from/to, source, checksum, active, report
    <generation id>.npz    one compiled file per generation (see routers.boundaries.compiled)

A generation is added inactive and activated explicitly. Activating one deactivates the other
active generations whose validity overlaps it, so for any instant at most one active generation
applies; events pick theirs by their own time (``load_active(at)`` / ``Locator``). Registry
updates hold an exclusive lock and replace the file atomically.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import shapely

from routers.boundaries.approximate import ORIGIN as APPROXIMATE_ORIGIN
from routers.boundaries.approximate import build_approximate
from routers.boundaries.compiled import checksum, read_compiled, write_compiled
from routers.boundaries.generation import Generation
from routers.boundaries.index import build_index
from routers.boundaries.model import BoundarySource, GenerationMeta, WardSet
from routers.exceptions import BoundaryError

VIETNAM_TZ = timezone(timedelta(hours=7))
MERGER_DATE = datetime(2025, 7, 1, tzinfo=VIETNAM_TZ)  # the post-merger wards took effect
DEFAULT_NAME = "vn2025-approx"

Progress = Callable[[str, int], None]


def _stderr_progress(label: str, _n: int) -> None:
    print(f"boundaries: {label}", file=sys.stderr, flush=True)


def _overlap(a: GenerationMeta, b: GenerationMeta) -> bool:
    a_end = a.valid_to or datetime.max.replace(tzinfo=UTC)
    b_end = b.valid_to or datetime.max.replace(tzinfo=UTC)
    return a.valid_from < b_end and b.valid_from < a_end


class BoundaryRegistry:
    """The generations under ``data_dir``. Cheap to construct; loads are cached per instance."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "boundaries"
        self._file = self.root / "registry.json"
        self._loaded: dict[str, Generation] = {}

    # -- registry file ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "registry.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[GenerationMeta]:
        if not self._file.is_file():
            return []
        try:
            raw = orjson.loads(self._file.read_bytes())
            return [GenerationMeta.from_json(item) for item in raw["generations"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BoundaryError(f"{self._file} is damaged ({exc}); remove it and re-import") from exc

    def _write(self, metas: list[GenerationMeta]) -> None:
        tmp = self._file.with_name("registry.json.tmp")
        body = {"generations": [m.to_json() for m in metas]}
        tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self._file)

    def path_of(self, meta: GenerationMeta) -> Path:
        return self.root / f"{meta.id}.npz"

    # -- queries ----------------------------------------------------------------------------
    def list(self) -> list[GenerationMeta]:
        return self._read()

    def get(self, ref: str) -> GenerationMeta:
        """A generation by id, or by name (the newest with that name)."""
        metas = self._read()
        for meta in metas:
            if meta.id == ref:
                return meta
        named = [m for m in metas if m.name == ref]
        if named:
            return max(named, key=lambda m: m.created_at)
        known = ", ".join(m.id for m in metas) or "none"
        raise BoundaryError(f"no boundary generation {ref!r} (known: {known})")

    # -- changes ----------------------------------------------------------------------------
    def add(
        self,
        wards: WardSet,
        *,
        name: str,
        valid_from: datetime = MERGER_DATE,
        valid_to: datetime | None = None,
        source: BoundarySource = "official",
        origin: str = "",
        report: dict[str, object] | None = None,
        progress: Progress | None = None,
    ) -> GenerationMeta:
        """Compile ``wards`` into a new, inactive generation (idempotent for identical content)."""
        if not wards.wards:
            raise BoundaryError("a generation needs at least one ward")
        if valid_from.tzinfo is None or (valid_to is not None and valid_to.tzinfo is None):
            raise BoundaryError("valid_from/valid_to must carry a time zone")
        if valid_to is not None and valid_to <= valid_from:
            raise BoundaryError(
                f"valid_to {valid_to.isoformat()} is not after valid_from {valid_from.isoformat()}"
            )
        safe_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.") or "boundaries"
        digest = checksum(wards)
        gen_id = f"{safe_name}-{digest[:8]}"
        existing = {m.id: m for m in self._read()}
        if gen_id in existing and self.path_of(existing[gen_id]).is_file():
            return existing[gen_id]
        index = build_index(wards.geoms, shapely.STRtree(wards.geoms), progress=progress)
        meta = GenerationMeta(
            id=gen_id,
            name=safe_name,
            valid_from=valid_from,
            valid_to=valid_to,
            source=source,
            checksum=digest,
            ward_count=len(wards.wards),
            created_at=datetime.now(UTC),
            active=False,
            origin=origin,
            report=report or {},
        )
        self.root.mkdir(parents=True, exist_ok=True)
        write_compiled(self.path_of(meta), wards, index)
        with self._locked():
            metas = [m for m in self._read() if m.id != gen_id]
            metas.append(meta)
            self._write(metas)
        return meta

    def activate(self, ref: str) -> GenerationMeta:
        """Make ``ref`` active; active generations overlapping its validity are deactivated."""
        with self._locked():
            metas = self._read()
            target = self.get(ref)
            if not self.path_of(target).is_file():
                raise BoundaryError(f"compiled file of {target.id} is missing; re-import it")
            updated = []
            for meta in metas:
                if meta.id == target.id:
                    meta = replace(meta, active=True)
                    target = meta
                elif meta.active and _overlap(meta, target):
                    meta = replace(meta, active=False)
                updated.append(meta)
            self._write(updated)
        return target

    def ensure_default(self, progress: Progress | None = None) -> GenerationMeta:
        """If no generation exists, build, compile and activate the approximate nationwide default.

        A default built by an earlier version of the builder (another ``origin``) that is still
        the current generation is rebuilt and replaced, so an upgrade brings the better polygons."""
        metas = self._read()
        if metas:
            active = [m for m in metas if m.active]
            current = max(active or metas, key=lambda m: m.created_at)
            is_default = current.name == DEFAULT_NAME and current.source == "approximate"
            if not is_default or current.origin == APPROXIMATE_ORIGIN:
                return current
        step = progress or _stderr_progress
        step("building approximate ward polygons from vietnamadminunits (no boundary file given)", 0)
        wards = build_approximate(step)
        meta = self.add(
            wards,
            name=DEFAULT_NAME,
            valid_from=MERGER_DATE,
            source="approximate",
            origin=APPROXIMATE_ORIGIN,
            progress=step,
        )
        return self.activate(meta.id)

    # -- loading ----------------------------------------------------------------------------
    def load(self, ref: str) -> Generation:
        meta = self.get(ref)
        cached = self._loaded.get(meta.id)
        if cached is not None:
            return cached
        path = self.path_of(meta)
        if not path.is_file():
            raise BoundaryError(f"compiled file of {meta.id} is missing at {path}; re-import it")
        generation = read_compiled(path, meta)
        self._loaded[meta.id] = generation
        return generation

    def load_active(self, at: datetime | None = None) -> Generation:
        """The active generation valid at ``at`` (default now); BoundaryError if there is none."""
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise BoundaryError("load_active(at=...) needs an aware datetime")
        active = [m for m in self._read() if m.active]
        covering = [m for m in active if m.covers(when)]
        if not covering:
            if not active:
                raise BoundaryError(
                    f"no active boundary generation in {self.root} "
                    "(run `ioc boundaries import` then `ioc boundaries activate`, or start `ioc up`)"
                )
            raise BoundaryError(f"no active boundary generation is valid at {when.isoformat()}")
        best = max(covering, key=lambda m: (m.valid_from, m.created_at))
        return self.load(best.id)

    def load_for_serving(self) -> builtins.list[Generation]:
        """Every active generation, oldest validity first, so events can pick theirs by time."""
        active = sorted((m for m in self._read() if m.active), key=lambda m: m.valid_from)
        if not active:
            raise BoundaryError(f"no active boundary generation in {self.root}")
        return [self.load(m.id) for m in active]
