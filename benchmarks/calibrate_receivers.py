"""Calibrate ``approximate.RECEIVER_WEIGHTS`` on real polygons: ``python -m benchmarks.calibrate_receivers``.

A split pre-merger ward's old centroid lies in one of its receiving new wards; the approximate
builder scores each receiver from ``RECEIVER_FEATURES`` and gives the old centre to the best.
This fits those weights as a conditional logit (softmax over each old ward's receivers, L2
penalty on standardised features) on the split wards of every province except Hanoi, HCMC and
Da Nang, with the truth read off the simplified nationwide polygons. The three cities stay held
out: the agreement benchmark (``python -m benchmarks locate``) measures them on their
full-precision polygons. Prints the fitted weights (paste them into ``RECEIVER_WEIGHTS`` and
bump ``ORIGIN``) and how often the shipped and the refitted weights pick the right receiver.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import shapely

from benchmarks.locate_bench import CITIES, SHARED
from routers.boundaries.approximate import RECEIVER_FEATURES, RECEIVER_WEIGHTS, split_ward_features
from routers.boundaries.importer import validate_features
from routers.boundaries.lineage import OldUnit, admin_data
from routers.boundaries.sources import read_features

NATIONWIDE = "vn2025-all-simplified"


class Case:
    """One split old ward: its receivers' features and which receiver holds the old centroid."""

    def __init__(self, old: OldUnit, features: dict[str, tuple[float, ...]], truth: str) -> None:
        self.old = old
        self.province = admin_data().new_by_code[old.new_codes[0]].province_code
        self.codes = list(old.new_codes)
        self.matrix = np.array([features[code] for code in self.codes])
        self.truth = self.codes.index(truth)


Split = list[tuple[OldUnit, dict[str, tuple[float, ...]]]]


def load_cases(name: str, split: Split) -> list[Case]:
    """The split wards whose old centroid lies in one of their receivers in the polygons of ``name``."""
    wards, report = validate_features(read_features(str(SHARED / f"{name}.geojson.gz")), check_topology=False)
    if not report.ok:
        raise RuntimeError(f"{name}: {report.errors[:3]}")
    tree = shapely.STRtree(wards.geoms)
    cases = []
    for old, features in split:
        hits = tree.query(shapely.Point(old.lon, old.lat), predicate="within")
        holder = wards.wards[int(hits[0])].code if len(hits) else None
        if holder in old.new_codes:
            cases.append(Case(old, features, holder))
    return cases


def fit(cases: list[Case], l2: float = 0.01, rounds: int = 2000, step: float = 0.2) -> np.ndarray:
    """Weights on the raw features (the logit is fitted on standardised ones, then scaled back)."""
    stacked = np.vstack([case.matrix for case in cases])
    scale = stacked.std(axis=0) + 1e-9
    mats = [case.matrix / scale for case in cases]
    weights = np.zeros(stacked.shape[1])
    for _ in range(rounds):
        grad = l2 * weights
        for mat, case in zip(mats, cases, strict=True):
            score = mat @ weights
            p = np.exp(score - score.max())
            grad = grad + (mat.T @ (p / p.sum()) - mat[case.truth]) / len(cases)
        weights = weights - step * grad
    return np.asarray(weights / scale)


def right(cases: list[Case], weights: np.ndarray) -> int:
    return sum(int(np.argmax(case.matrix @ weights) == case.truth) for case in cases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--l2", type=float, default=0.01, help="L2 penalty on standardised weights")
    args = parser.parse_args(argv)
    if not (SHARED / f"{NATIONWIDE}.geojson.gz").is_file():
        print(f"SKIPPED: real boundary data not found at {SHARED} (set IOC_SHARED_BOUNDARIES)")
        return 0
    print("building the approximate sites and reading the nationwide polygons ...", flush=True)
    split = split_ward_features()
    train = [case for case in load_cases(NATIONWIDE, split) if case.province not in CITIES]
    print(f"fitting on {len(train)} split wards outside Hanoi, HCMC and Da Nang ...", flush=True)
    fitted = fit(train, l2=args.l2)
    shipped = np.array(RECEIVER_WEIGHTS)
    print("\nweights (raw features):")
    for name, new, old in zip(RECEIVER_FEATURES, fitted, shipped, strict=True):
        print(f"  {name:<24} fitted {new:7.3f}   shipped {old:7.3f}")
    print(f"  RECEIVER_WEIGHTS = ({', '.join(f'{w:.3f}' for w in fitted)})")
    print("\nright receiver for the old centroid (shipped / refitted weights):")
    print(f"  {'training provinces':<22} {right(train, shipped)} / {right(train, fitted)} of {len(train)}")
    for name in CITIES.values():
        cases = load_cases(name, split)
        print(f"  {name:<22} {right(cases, shipped)} / {right(cases, fitted)} of {len(cases)} (held out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
