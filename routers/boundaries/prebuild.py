"""Compile the built-in reference generation ahead of first use: ``python -m routers.boundaries.prebuild``.

``make setup`` runs it, so ``ioc up`` on a fresh machine copies a ready file (~0.1 s) instead of
compiling ~1.1 million vertices (~8-10 s on 2 cores). The result lives beside the package data in
``reference_data/compiled/`` (not in git), as a one-generation registry; a registry whose
reference is missing takes it from there (``BoundaryRegistry.ensure_default``). Without it (an
install that skipped the step, a read-only package) ``ensure_default`` compiles in the data dir.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from routers.boundaries import reference
from routers.boundaries.model import GenerationMeta

if TYPE_CHECKING:
    from routers.boundaries.registry import BoundaryRegistry
    from routers.progress import Progress

PREBUILT_DIR = reference.DATA_DIR / "compiled"


def compile_reference(registry: BoundaryRegistry, progress: Progress) -> GenerationMeta:
    """Build the reference wards and add them to ``registry`` (inactive)."""
    from routers.boundaries.registry import MERGER_DATE

    wards = reference.build_reference(progress)
    return registry.add(
        wards,
        name=reference.NAME,
        valid_from=MERGER_DATE,
        source="reference",
        origin=reference.ORIGIN,
        report={"attribution": reference.ATTRIBUTION},
        progress=progress,
    )


def prebuilt(root: Path = PREBUILT_DIR) -> tuple[Path, GenerationMeta] | None:
    """The compiled file and its metadata, when a prebuild of this version is present."""
    from routers.boundaries.registry import BoundaryRegistry

    registry = BoundaryRegistry(root)
    try:
        metas = [m for m in registry.list() if m.origin == reference.ORIGIN]
    except Exception:  # noqa: BLE001 - a damaged prebuild only means compiling at first use
        return None
    if not metas or not registry.path_of(metas[-1]).is_file():
        return None
    return registry.path_of(metas[-1]), metas[-1]


def main() -> int:
    from routers.boundaries.registry import BoundaryRegistry

    if prebuilt() is not None:
        print(f"boundaries: built-in reference already compiled in {PREBUILT_DIR}")
        return 0
    started = time.perf_counter()
    meta = compile_reference(BoundaryRegistry(PREBUILT_DIR), lambda label, _n: print(f"boundaries: {label}"))
    print(f"boundaries: compiled {meta.id} ({meta.ward_count} wards) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
