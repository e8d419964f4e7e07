"""RECEIVER_WEIGHTS are what the calibration fits, and they beat each signal alone on held-out cities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import calibrate_receivers as calibrate
from routers.boundaries.approximate import RECEIVER_FEATURES, RECEIVER_WEIGHTS, split_ward_features


@pytest.fixture(scope="module")
def cases(shared_boundaries: Path) -> dict[str, list[calibrate.Case]]:
    split = split_ward_features()
    nation = calibrate.load_cases(calibrate.NATIONWIDE, split)
    return {
        "train": [case for case in nation if case.province not in calibrate.CITIES],
        "hanoi": calibrate.load_cases("vn2025-01-hanoi", split),
    }


@pytest.mark.realdata
def test_shipped_weights_are_the_calibrated_ones(cases: dict[str, list[calibrate.Case]]) -> None:
    fitted = calibrate.fit(cases["train"])
    np.testing.assert_allclose(fitted, RECEIVER_WEIGHTS, atol=0.002)


@pytest.mark.realdata
def test_the_score_beats_every_single_signal_on_held_out_hanoi(
    cases: dict[str, list[calibrate.Case]],
) -> None:
    hanoi = cases["hanoi"]
    assert len(hanoi) > 150  # Hanoi's split wards whose old centroid lies in a receiver
    shipped = calibrate.right(hanoi, np.array(RECEIVER_WEIGHTS))
    for i, name in enumerate(RECEIVER_FEATURES):
        alone = np.zeros(len(RECEIVER_FEATURES))
        alone[i] = -1.0 if "distance" in name else 1.0
        assert shipped > calibrate.right(hanoi, alone), name
    assert shipped >= 0.87 * len(hanoi)
