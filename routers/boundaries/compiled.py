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
import zipfile
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


_MAPPED = ("wkb", "slots", "cand_off", "cand")  # polygons and point index: read in place, never copied
_WKB_CHUNK = 64  # polygons parsed per call: the WKB copies live briefly and reuse the same memory


def _mapped_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The ``.npy`` members ``names`` of the uncompressed ``.npz`` at ``path`` as read-only memory
    maps of the file itself (``np.savez`` stores members uncompressed, each at a fixed offset).

    Why: the point index is ~45 MB nationwide and a worker touches only the cells its traffic
    falls in; mapped, the kernel keeps just those pages resident, and the pages are shared by every
    worker on the host (page cache) instead of copied into each one's heap. The file is never
    written in place (``write_compiled`` renames a new file over it), so a mapping stays valid.
    A member that is compressed (a file written by other tools) is read the ordinary way."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        for name in names:
            info = archive.getinfo(f"{name}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with archive.open(info) as member:
                    out[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            raw.seek(info.header_offset)
            local = raw.read(30)  # the local file header: its name and extra field lengths at 26..30
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            raw.seek(start)
            major, _minor = np.lib.format.read_magic(raw)
            header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = header(raw)
            if fortran or dtype.hasobject:
                raise ValueError(f"{name}: unexpected array layout")
            out[name] = np.memmap(path, dtype=dtype, mode="r", offset=raw.tell(), shape=shape)
    return out


def read_compiled(path: Path, meta: GenerationMeta) -> Generation:
    try:
        mapped = _mapped_arrays(path, _MAPPED)
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"][0])
            if version != FORMAT_VERSION:
                raise BoundaryError(
                    f"{path}: format {version}, this version reads {FORMAT_VERSION}; re-import it"
                )
            raw_wards = orjson.loads(data["wards"].tobytes())
            wkb = mapped["wkb"]
            offsets = data["wkb_offsets"]
            index_version = (
                int(data["index_version"][0]) if "index_version" in data.files else _OLD_INDEX_VERSION
            )
            index = IndexArrays(
                params=data["params"],
                slots=mapped["slots"],
                cand_off=mapped["cand_off"],
                cand=mapped["cand"],
                version=index_version,
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise BoundaryError(f"compiled generation {meta.id} unreadable at {path}: {exc}") from exc
    # Chunk by chunk from the mapped file: copying all WKB at once (20 MB nationwide) left that much
    # freed but fragmented heap behind the polygons, which the process kept.
    geoms = np.empty(len(offsets) - 1, dtype=object)
    for first in range(0, len(geoms), _WKB_CHUNK):
        last = min(first + _WKB_CHUNK, len(geoms))
        geoms[first:last] = shapely.from_wkb([wkb[offsets[i] : offsets[i + 1]].tobytes() for i in range(first, last)])
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
