"""Point-to-ward cost and approximate-default quality, on the real polygons in ../shared/boundaries.

``python -m benchmarks locate`` (part of ``make bench``). Prints:

* compile time and load time of the official HCMC generation (full precision, ~217k vertices),
  the nationwide simplified generation (3,321 wards) and the built-in reference default (the
  nationwide file with full-precision HCMC, Hanoi and Da Nang: what ``make setup`` precompiles),
  and what first use costs when that precompiled file is there;
* single lookups/s (``index.ward_at`` and the full ``Locator.locate_point``) and batched
  lookups/s (``index.wards_at``) on one core, for HCMC and nationwide, on the *same* points
  (uniform over HCMC's land), hence the nationwide/HCMC cost ratio;
* RSS added by loading each generation, measured in a fresh subprocess;
* agreement of the built-in default with the real polygons where people live: wards drawn by
  population, points uniform inside the real full-precision ward (HCMC, Hanoi, Da Nang), and
  its equality with the nationwide file outside the three cities;
* address lookups/s, uncached and cached.

Figures are medians of ``REPEATS`` runs. Targets: >= 200k single lookups/s for HCMC,
nationwide/HCMC <= 1.5, nationwide index <= 300 MB RSS.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from routers.boundaries import prebuild
from routers.boundaries.diff import population_points
from routers.boundaries.generation import Generation
from routers.boundaries.importer import validate_features
from routers.boundaries.registry import BoundaryRegistry
from routers.boundaries.sources import read_features
from routers.locate.address import clear_address_cache, resolve_address
from routers.locate.locator import Locator
from routers.locate.units import unit_tables
from routers.progress import quiet

SHARED = Path(
    os.environ.get(
        "IOC_SHARED_BOUNDARIES", Path(__file__).resolve().parent.parent.parent / "shared" / "boundaries"
    )
)
REPEATS = 5
POINTS = 100_000
CITIES = {"79": "vn2025-79-hcmc", "01": "vn2025-01-hanoi", "48": "vn2025-48-danang"}
TARGET_SINGLE = 200_000
TARGET_RATIO = 1.5
TARGET_RSS_MB = 300.0

_RSS_PROBE = """
import sys, time
from pathlib import Path
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
import numpy, shapely, orjson
from routers.boundaries.registry import BoundaryRegistry
from routers.locate.locator import Locator
registry = BoundaryRegistry(Path(sys.argv[1]))
before = rss()
gen = registry.load(sys.argv[2])
locator = Locator([gen])
locator.locate_point(gen.wards[0].centroid[0], gen.wards[0].centroid[1])
print(f"{rss() - before:.1f}")
"""


def _median_rate(run: object, count: int) -> float:
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def _land_points(gen: Generation, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over the generation's land (rejection sampling on its main bounding box)."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = shapely.total_bounds(gen.geoms)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    while got < count:
        x = rng.uniform(xmin, xmax, count * 4)
        y = rng.uniform(ymin, ymax, count * 4)
        inside = gen.index.wards_at(x, y) >= 0
        xs.append(x[inside])
        ys.append(y[inside])
        got += int(inside.sum())
    return np.concatenate(xs)[:count], np.concatenate(ys)[:count]


def _import(registry: BoundaryRegistry, name: str) -> tuple[str, float]:
    started = time.perf_counter()
    wards, report = validate_features(read_features(str(SHARED / f"{name}.geojson.gz")), check_topology=False)
    if not report.ok:
        raise RuntimeError(f"{name}: {report.errors[:3]}")
    meta = registry.add(wards, name=name, source="official", origin=name)
    return meta.id, time.perf_counter() - started


def _rss_mb(data_dir: Path, gen_id: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(data_dir), gen_id],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    print("locate: point-to-ward on real polygons")
    if not (SHARED / "vn2025-79-hcmc.geojson.gz").is_file():
        print(f"  SKIPPED: real boundary data not found at {SHARED} (set IOC_SHARED_BOUNDARIES)")
        return
    with tempfile.TemporaryDirectory(prefix="ioc-locate-bench-") as tmp:
        data_dir = Path(tmp)
        registry = BoundaryRegistry(data_dir)
        ids: dict[str, str] = {}
        print("  compile (validate + index, no topology report):")
        started = time.perf_counter()
        default_meta = prebuild.compile_reference(registry, lambda _label, _n: None)
        print(f"    {'built-in reference':<24} {time.perf_counter() - started:6.1f} s (build + compile: make setup)")
        if prebuild.prebuilt() is not None:
            fresh = BoundaryRegistry(data_dir / "fresh")
            started = time.perf_counter()
            fresh.ensure_default(progress=quiet)
            fresh.load_active()
            print(f"    {'first use, precompiled':<24} {time.perf_counter() - started:6.1f} s (register + load)")
        for name in ("vn2025-79-hcmc", "vn2025-all-simplified", "vn2025-01-hanoi", "vn2025-48-danang"):
            ids[name], seconds = _import(registry, name)
            print(f"    {name:<24} {seconds:6.1f} s")

        print("  load compiled generation (fresh registry):")
        loaded: dict[str, Generation] = {}
        ids["built-in reference"] = default_meta.id
        for name in ("vn2025-79-hcmc", "vn2025-all-simplified", "built-in reference"):
            started = time.perf_counter()
            loaded[name] = BoundaryRegistry(data_dir).load(ids[name])
            print(f"    {name:<24} {time.perf_counter() - started:6.2f} s")
        hcmc, nation, builtin = loaded["vn2025-79-hcmc"], loaded["vn2025-all-simplified"], loaded["built-in reference"]
        n_vertices = int(shapely.get_num_coordinates(hcmc.geoms).sum())
        n_nation = int(shapely.get_num_coordinates(nation.geoms).sum())
        print(
            f"    HCMC {len(hcmc.wards)} wards / {n_vertices:,} vertices; nationwide {len(nation.wards)} wards / {n_nation:,} vertices"
        )

        xs, ys = _land_points(hcmc, POINTS, seed=1)
        pairs = list(zip(xs.tolist(), ys.tolist(), strict=True))
        print(f"  lookups on {POINTS:,} points uniform over HCMC land, one core, median of {REPEATS}:")
        results: dict[str, dict[str, float]] = {}
        for label, gen in (("HCMC official", hcmc), ("nationwide", nation), ("built-in", builtin)):
            index = gen.index
            locator = Locator([gen])
            single = _median_rate(lambda index=index: [index.ward_at(x, y) for x, y in pairs], POINTS)
            full = _median_rate(
                lambda locator=locator: [locator.locate_point(y, x) for x, y in pairs], POINTS
            )
            batch = _median_rate(lambda index=index: index.wards_at(xs, ys), POINTS)
            results[label] = {"single": single, "full": full, "batch": batch}
            print(
                f"    {label:<14} single index.ward_at {single:>12,.0f}/s   "
                f"Locator.locate_point {full:>10,.0f}/s   batched wards_at {batch:>12,.0f}/s"
            )
        ratio = results["HCMC official"]["single"] / results["nationwide"]["single"]
        ratio_full = results["HCMC official"]["full"] / results["nationwide"]["full"]
        ratio_builtin = results["HCMC official"]["single"] / results["built-in"]["single"]
        ok_single = "OK" if results["HCMC official"]["single"] >= TARGET_SINGLE else "MISSED"
        ok_ratio = "OK" if ratio <= TARGET_RATIO else "MISSED"
        print(f"    target >= {TARGET_SINGLE:,} single/s for HCMC: {ok_single}")
        print(
            f"    nationwide/HCMC cost ratio: {ratio:.2f} (index), {ratio_full:.2f} (locate_point); target <= {TARGET_RATIO}: {ok_ratio}"
        )
        print(f"    built-in/HCMC cost ratio: {ratio_builtin:.2f} (index)")

        nx, ny = _land_points(nation, POINTS, seed=2)
        nation_pairs = list(zip(nx.tolist(), ny.tolist(), strict=True))
        uniform_nation = _median_rate(lambda: [nation.index.ward_at(x, y) for x, y in nation_pairs], POINTS)
        print(f"    nationwide on points uniform over all of Vietnam's land: {uniform_nation:,.0f} single/s")

        print("  memory: RSS added by loading the generation + a Locator (fresh subprocess):")
        for name in ("vn2025-79-hcmc", "vn2025-all-simplified", "built-in reference"):
            mb = _rss_mb(data_dir, ids[name])
            verdict = (
                f"; target <= {TARGET_RSS_MB:.0f} MB: {'OK' if mb <= TARGET_RSS_MB else 'MISSED'}"
                if name != "vn2025-79-hcmc"
                else ""
            )
            print(f"    {name:<24} {mb:7.1f} MB{verdict}")

        print("  built-in default vs the real polygons (share of points given the real ward):")
        locator = Locator([builtin])
        for province, name in CITIES.items():
            official = registry.load(ids[name])
            px, py, drawn = population_points(
                official.geoms, [float(w.population or 0) for w in official.wards], 100_000,
                np.random.default_rng(int(province)),
            )
            got = [locator.locate_point(y, x) for x, y in zip(px.tolist(), py.tolist(), strict=True)]
            right = sum(
                loc.ward is not None and loc.ward.code == official.wards[i].code for loc, i in zip(got, drawn, strict=True)
            )
            print(f"    {name:<18} where people live (100k points, population-weighted) {right / len(got):8.3%}; target >= 99.9%")
        others = np.array([w.province_code not in CITIES for w in nation.wards])
        truth = nation.index.wards_at(nx, ny)
        outside = (truth >= 0) & others[np.maximum(truth, 0)]
        got_wards = builtin.index.wards_at(nx[outside], ny[outside])
        same = np.mean(
            [builtin.wards[g].code == nation.wards[t].code if g >= 0 else False
             for g, t in zip(got_wards, truth[outside], strict=True)]
        )
        print(f"    {'nationwide':<18} outside the three cities, same ward as the nationwide file: {same:8.3%} of {outside.sum():,} land points")

        addresses = [
            "P.7, Q.3, TP.HCM",
            "Phường Xuân Hoà, TP.HCM",
            "Phường Đa Kao, Quận 1, TP.HCM",
            "123 Lê Lợi, P. Bến Nghé, Q.1, TP.HCM",
            "Phường Phú Cường, TP. Thủ Dầu Một, Bình Dương",
            "Phường Cửa Đông, Quận Hoàn Kiếm, Hà Nội",
            "phuong 13 quan phu nhuan tphcm",
            "tổ 5 - xã yên bình - thành phố hà nội",
        ]
        unit_tables()  # the name tables load once per process (~1 s): not part of a lookup
        clear_address_cache()
        started = time.perf_counter()
        for text in addresses:
            resolve_address(text)
        cold = len(addresses) / (time.perf_counter() - started)
        cached = _median_rate(lambda: [resolve_address(t) for t in addresses * 1000], len(addresses) * 1000)
        print(f"  addresses: uncached {cold:,.0f}/s, cached {cached:,.0f}/s")


if __name__ == "__main__":
    main()
