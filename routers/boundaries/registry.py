"""Boundary generations on disk: compiled files plus a small registry JSON (MapIt-style, with dates).

Layout under ``<data_dir>/boundaries/``::

    registry.json          generations: id, name, valid_from/to, source, checksum, active, report
    <generation id>.npz    one compiled file per generation (see routers.boundaries.compiled)

A generation is added inactive and activated explicitly. Active generations are *layers*
(:mod:`routers.boundaries.layers`): each serves the provinces it has unless a layer above it has
them too, so importing one city's file leaves the rest of the country to the layer below.
Activating a generation deactivates only the active ones it hides completely (overlapping
validity, no province of their own left, not ranked above it). Events pick the layers valid at
their own time (``load_active(at)`` / ``Locator``). The built-in ``reference`` generation
(:mod:`routers.boundaries.reference`) is the bottom layer. Registry updates hold an exclusive lock
and replace the file atomically.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import shapely

from routers.boundaries import reference
from routers.boundaries.compiled import checksum, read_compiled, write_compiled
from routers.boundaries.generation import Generation
from routers.boundaries.index import build_index
from routers.boundaries.layers import Layers, served_provinces
from routers.boundaries.model import BoundarySource, GenerationMeta, WardSet
from routers.exceptions import BoundaryError
from routers.progress import Progress

VIETNAM_TZ = timezone(timedelta(hours=7))
MERGER_DATE = datetime(2025, 7, 1, tzinfo=VIETNAM_TZ)  # the post-merger wards took effect
DEFAULT_NAME = reference.NAME
LEGACY_DEFAULT_NAME = "vn2025-approx"  # the approximate default of earlier versions, replaced


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
            provinces=tuple(sorted({w.province_code for w in wards.wards})),
        )
        self.root.mkdir(parents=True, exist_ok=True)
        write_compiled(self.path_of(meta), wards, index)
        self._register(meta)
        return meta

    def _register(self, meta: GenerationMeta) -> None:
        gen_id = meta.id
        with self._locked():
            metas = [m for m in self._read() if m.id != gen_id]
            metas.append(meta)
            self._write(metas)

    def _provinces(self, meta: GenerationMeta) -> frozenset[str]:
        if meta.provinces is not None:
            return frozenset(meta.provinces)
        return frozenset(w.province_code for w in self.load(meta.id).wards)  # registered before layers

    def activate(self, ref: str) -> GenerationMeta:
        """Make ``ref`` active, as the top layer of its rank. Active generations it hides
        completely (overlapping validity, all their provinces in ``ref``, not ranked above it)
        are deactivated; the others stay as layers for the provinces ``ref`` lacks."""
        with self._locked():
            metas = self._read()
            target = self.get(ref)
            if not self.path_of(target).is_file():
                raise BoundaryError(f"compiled file of {target.id} is missing; re-import it")
            target = replace(target, active=True, activated_at=datetime.now(UTC))
            covered = self._provinces(target)
            updated = []
            for meta in metas:
                if meta.id == target.id:
                    meta = target
                elif (
                    meta.active
                    and _overlap(meta, target)
                    and meta.layer_rank()[0] <= target.layer_rank()[0]
                    and self._provinces(meta) <= covered
                ):
                    meta = replace(meta, active=False)
                updated.append(meta)
            self._write(updated)
        return target

    def ensure_default(self, progress: Progress | None = None) -> GenerationMeta:
        """Make sure the built-in reference generation of this version is registered.

        Added and activated (as the bottom layer) when it is missing: on a fresh machine, after an
        upgrade that ships a new snapshot (the older reference is then hidden and deactivated), or
        in a data dir from before it existed (the old approximate default is deactivated). A
        reference the user deactivated stays inactive unless nothing else is active. The compiled
        file comes from ``python -m routers.boundaries.prebuild`` (run by ``make setup``) when
        present, else it is compiled here (~10 s)."""
        metas = self._read()
        current = [m for m in metas if m.source == "reference" and m.origin == reference.ORIGIN]
        if current and self.path_of(current[-1]).is_file():
            meta = current[-1]
            if not any(m.active for m in metas):
                meta = self.activate(meta.id)
            return meta
        step = progress or _stderr_progress
        prebuilt = self._add_prebuilt()
        if prebuilt is None:
            from routers.boundaries.prebuild import compile_reference

            step("compiling the built-in reference ward polygons (once; `make setup` does it ahead)", 0)
            prebuilt = compile_reference(self, step)
        for legacy in metas:
            if legacy.active and legacy.name == LEGACY_DEFAULT_NAME and legacy.source == "approximate":
                with self._locked():
                    self._write([replace(m, active=False) if m.id == legacy.id else m for m in self._read()])
        return self.activate(prebuilt.id)

    def _add_prebuilt(self) -> GenerationMeta | None:
        """Register the compiled reference generation ``make setup`` left in the package, if any."""
        from routers.boundaries.prebuild import prebuilt

        found = prebuilt()
        if found is None:
            return None
        path, meta = found
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path_of(meta)
        if not target.is_file():
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            try:
                os.link(path, tmp)  # same file system: no copy (the file is never written in place)
            except OSError:
                shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        meta = replace(meta, created_at=datetime.now(UTC))
        self._register(meta)
        return meta

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
        generation.map_cache_dirs = [self.root]
        if meta.source == "reference":
            from routers.boundaries.prebuild import PREBUILT_DIR

            generation.map_cache_dirs.append(PREBUILT_DIR / "boundaries")  # layers `make setup` made
        self._loaded[meta.id] = generation
        return generation

    def active_layers(self, at: datetime | None = None) -> builtins.list[GenerationMeta]:
        """The active generations valid at ``at`` (default now), topmost layer first."""
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise BoundaryError("active_layers(at=...) needs an aware datetime")
        active = [m for m in self._read() if m.active]
        covering = [m for m in active if m.covers(when)]
        if not covering:
            if not active:
                raise BoundaryError(
                    f"no active boundary generation in {self.root} "
                    "(run `ioc boundaries import` then `ioc boundaries activate`, or start `ioc up`)"
                )
            raise BoundaryError(f"no active boundary generation is valid at {when.isoformat()}")
        return sorted(covering, key=lambda m: m.layer_rank(), reverse=True)

    def describe_layers(self, at: datetime | None = None) -> builtins.list[tuple[GenerationMeta, set[str]]]:
        """The active layers valid at ``at``, topmost first, each with the provinces it serves."""
        layers = self.active_layers(at)
        return list(zip(layers, served_provinces([self._provinces(m) for m in layers]), strict=True))

    def load_active(self, at: datetime | None = None) -> Layers:
        """The layers valid at ``at`` (default now) as one set of wards; BoundaryError if none."""
        return Layers([self.load(m.id) for m in self.active_layers(at)])

    def load_for_serving(self) -> builtins.list[Generation]:
        """Every active generation, so events can pick their layers by time."""
        active = sorted((m for m in self._read() if m.active), key=lambda m: m.valid_from)
        if not active:
            raise BoundaryError(f"no active boundary generation in {self.root}")
        return [self.load(m.id) for m in active]
