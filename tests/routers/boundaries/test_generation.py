"""Generation helpers the dashboard and the simulator use; diffs between generations."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from routers.boundaries.diff import diff_generations
from routers.boundaries.registry import BoundaryRegistry
from routers.exceptions import BoundaryError


def test_geojson_for_the_map_is_small_and_labelled(default_data_dir: Path) -> None:
    gen = BoundaryRegistry(default_data_dir).load_active()
    collection = gen.geojson(province_code="79", simplify_m=30)
    features = collection["features"]
    assert isinstance(features, list) and len(features) == 168
    assert collection["source"] == "reference" and collection["generation"] == gen.id
    assert {f["properties"]["source"] for f in features} == {"reference"}
    assert len(orjson.dumps(collection)) < 3_000_000
    assert gen.geojson(province_code="79", simplify_m=30) is collection  # cached


def test_random_point_is_inside_the_ward(default_data_dir: Path) -> None:
    gen = BoundaryRegistry(default_data_dir).load_active()
    rng = random.Random(5)
    for ward in gen.wards_in_province("48")[:30]:
        lat, lon = gen.random_point_in(ward.code, rng)
        assert gen.ward_of(lat, lon) == ward
    with pytest.raises(BoundaryError, match="ward '99999' is not served by the active boundaries"):
        gen.random_point_in("99999", rng)


@pytest.mark.realdata
def test_diff_official_against_reference(default_data_dir: Path, official_data_dir: Path) -> None:
    builtin = BoundaryRegistry(default_data_dir).load_active()
    hcmc = BoundaryRegistry(official_data_dir).load("vn2025-79-hcmc")
    result = diff_generations(builtin, hcmc)
    assert result.added == []
    assert len(result.removed) == 3321 - 168
    assert len(result.moved) + result.unchanged == 168 and result.renamed == []
    assert all(float(str(m["lost_km2"])) >= 0 and float(str(m["gained_km2"])) >= 0 for m in result.moved)
    same = diff_generations(hcmc, hcmc)
    assert (same.added, same.removed, same.moved, same.unchanged) == ([], [], [], 168)


def test_the_national_map_layer_is_kept_between_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import shapely

    from routers.boundaries.model import Ward, WardSet

    geoms = [shapely.box(106.60, 10.70, 106.65, 10.75), shapely.box(106.65, 10.70, 106.70, 10.75)]
    wards = [Ward(c, f"Ward {c}", "79", "HCMC", 1.0, None, (10.72, 106.62 + i * 0.05))
             for i, c in enumerate(("26734", "26737"))]
    registry = BoundaryRegistry(tmp_path)
    meta = registry.add(WardSet(wards, np.array(geoms, dtype=object)), name="two")
    first = registry.load(meta.id).geojson(None, 150.0)
    assert list((tmp_path / "boundaries").glob("*.map-all-150m.json.gz"))

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("simplified again")

    monkeypatch.setattr(shapely, "coverage_simplify", never)
    again = BoundaryRegistry(tmp_path).load(meta.id).geojson(None, 150.0)  # a new process: from disk
    assert again == orjson.loads(orjson.dumps(first))
