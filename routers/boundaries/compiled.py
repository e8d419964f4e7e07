"""The compiled generation file: one ``.npz`` (no pickle) holding wards, WKB polygons and the index.

Arrays: ``wards`` (orjson bytes), ``wkb`` + ``wkb_offsets`` (concatenated WKB), and the
:class:`~routers.boundaries.index.IndexArrays` fields (``index_version`` for its version).
Loading is a few numpy reads and one vectorised ``shapely.from_wkb``; the index is rebuilt only
when an older builder made it (then the file is rewritten, so once per file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import shapely

from routers.boundaries.generation import Generation
from routers.boundaries.index import INDEX_VERSION, IndexArrays, build_index
from routers.boundaries.model import GenerationMeta, Ward, WardSet
from routers.exceptions import BoundaryError

FORMAT_VERSION = 1
_OLD_INDEX_VERSION = 1  # what a file without ``index_version`` holds

log = logging.getLogger(__name__)


def _wards_json(wards: list[Ward]) -> bytes:
    return orjson.dumps(
        [
            {
                "code": w.code,
                "name": w.name,
                "province_code": w.province_code,
                "province": w.province,
                "area_km2": w.area_km2,
                "population": w.population,
                "centroid": list(w.centroid),
                "predecessors": w.predecessors,
            }
            for w in wards
        ]
    )


def checksum(wards: WardSet) -> str:
    """sha256 of the ward attributes and the polygons' WKB: equal content, equal checksum."""
    digest = hashlib.sha256(_wards_json(wards.wards))
    for blob in shapely.to_wkb(wards.geoms, output_dimension=2):
        digest.update(blob)
    return digest.hexdigest()


def write_compiled(path: Path, wards: WardSet, index: IndexArrays) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file. The temp name is
    per process and thread: workers loading the same old file may each rewrite it at once."""
    blobs = shapely.to_wkb(wards.geoms, output_dimension=2)
    sizes = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                format_version=np.array([FORMAT_VERSION], dtype=np.int64),
                index_version=np.array([index.version], dtype=np.int64),
                wards=np.frombuffer(_wards_json(wards.wards), dtype=np.uint8),
                wkb=np.frombuffer(b"".join(blobs), dtype=np.uint8),
                wkb_offsets=offsets,
                params=index.params,
                slots=index.slots,
                cand_off=index.cand_off,
                cand=index.cand,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_compiled(path: Path, meta: GenerationMeta) -> Generation:
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"][0])
            if version != FORMAT_VERSION:
                raise BoundaryError(
                    f"{path}: format {version}, this version reads {FORMAT_VERSION}; re-import it"
                )
            raw_wards = orjson.loads(data["wards"].tobytes())
            wkb = data["wkb"].tobytes()
            offsets = data["wkb_offsets"]
            index_version = (
                int(data["index_version"][0]) if "index_version" in data.files else _OLD_INDEX_VERSION
            )
            index = IndexArrays(
                params=data["params"],
                slots=data["slots"],
                cand_off=data["cand_off"],
                cand=data["cand"],
                version=index_version,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise BoundaryError(f"compiled generation {meta.id} unreadable at {path}: {exc}") from exc
    blobs = [wkb[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    geoms = np.asarray(shapely.from_wkb(blobs))
    wards = [
        Ward(
            code=w["code"],
            name=w["name"],
            province_code=w["province_code"],
            province=w["province"],
            area_km2=float(w["area_km2"]),
            population=w["population"],
            centroid=(float(w["centroid"][0]), float(w["centroid"][1])),
            predecessors=w.get("predecessors"),
        )
        for w in raw_wards
    ]
    if index.version != INDEX_VERSION:
        index = _rebuild_index(path, meta, WardSet(wards, geoms), index.version)
    return Generation(meta, wards, geoms, index)


def _rebuild_index(path: Path, meta: GenerationMeta, wards: WardSet, old_version: int) -> IndexArrays:
    """The index of ``wards`` from this builder, for a file an older builder wrote; the file is
    rewritten with it so later loads are fast again. A data dir that cannot be written (a read-only
    volume) only costs the rebuild at every load."""
    started = time.perf_counter()
    index = build_index(wards.geoms, shapely.STRtree(wards.geoms))
    built_s = time.perf_counter() - started
    try:
        write_compiled(path, wards, index)
        saved = "file rewritten"
    except OSError as exc:
        saved = f"file not rewritten ({exc}); rebuilt again at the next load"
    # Builder 1's leaves could miss the ward around them (see index.INDEX_VERSION).
    log.warning(
        "boundaries: generation %s has a point index from builder %d; rebuilt with builder %d in %.1f s, %s",
        meta.id, old_version, INDEX_VERSION, built_s, saved,
    )
    return index
