"""The compiled file is read in place: the point index is mapped from it, not copied, and answers
exactly what the index built in memory answers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import shapely

from routers.boundaries import compiled
from routers.boundaries.index import build_index
from routers.boundaries.model import Ward, WardSet
from routers.boundaries.registry import BoundaryRegistry


def _grid_wards(n: int = 6) -> WardSet:
    """n x n square wards of 0.01 degrees, with holes in every other one (wards with many leaves)."""
    wards, geoms = [], []
    for row in range(n):
        for col in range(n):
            x, y = 106.6 + col * 0.01, 10.7 + row * 0.01
            geom = shapely.box(x, y, x + 0.01, y + 0.01)
            if (row + col) % 2:
                geom = geom.difference(shapely.box(x + 0.003, y + 0.003, x + 0.006, y + 0.006))
            point = geom.representative_point()
            wards.append(Ward(f"{26700 + row * n + col}", f"Phường {row * n + col}", "79", "Thành phố Hồ Chí Minh",
                              1.0, None, (point.y, point.x)))
            geoms.append(geom)
    return WardSet(wards, np.array(geoms, dtype=object))


def _points(count: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.uniform(106.59, 106.67, count), rng.uniform(10.69, 10.77, count)


def test_the_index_is_mapped_from_the_file_and_answers_as_built(tmp_path: Path) -> None:
    wards = _grid_wards()
    registry = BoundaryRegistry(tmp_path)
    meta = registry.add(wards, name="grid")
    path = registry.path_of(meta)
    mapped = compiled._mapped_arrays(path, compiled._MAPPED)
    for name in compiled._MAPPED:
        assert isinstance(mapped[name], np.memmap), name  # read in place
        with np.load(path) as data:
            assert np.array_equal(mapped[name], data[name])
    loaded = compiled.read_compiled(path, meta)
    assert [w.code for w in loaded.wards] == [w.code for w in wards.wards]
    assert all(shapely.equals_exact(a, b, 0.0) for a, b in zip(loaded.geoms, wards.geoms, strict=True))
    built = compiled.Generation(meta, wards.wards, wards.geoms, build_index(wards.geoms, shapely.STRtree(wards.geoms)))
    xs, ys = _points()
    single = [loaded.index.ward_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    assert single == [built.index.ward_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    assert np.array_equal(loaded.index.wards_at(xs, ys), built.index.wards_at(xs, ys))
    assert len(set(single)) == len(wards.wards) + 1  # every ward and the outside were hit


def test_a_compressed_file_is_read_the_ordinary_way(tmp_path: Path) -> None:
    wards = _grid_wards()
    registry = BoundaryRegistry(tmp_path)
    meta = registry.add(wards, name="grid")
    path = registry.path_of(meta)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    squeezed = tmp_path / "squeezed.npz"
    np.savez_compressed(squeezed, **arrays)  # what another tool might write: deflated members
    with zipfile.ZipFile(squeezed) as archive:
        assert archive.getinfo("slots.npy").compress_type == zipfile.ZIP_DEFLATED
    loaded = compiled.read_compiled(squeezed, meta)
    reference = compiled.read_compiled(path, meta)
    xs, ys = _points(2_000)
    assert np.array_equal(loaded.index.wards_at(xs, ys), reference.index.wards_at(xs, ys))
    assert [loaded.index.ward_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)] == \
        [reference.index.ward_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
