"""Several hundred citizen-typed addresses, checked with the published lineage as the truth.

``data/heldout_addresses.txt`` was written by hand from how addresses are written in Vietnam (old
districts, P./Q./TX./TT./x. abbreviations, no diacritics, dashes, house numbers, old provinces, split
wards) and holds ~30 places that do not exist. It names, for each address, the predecessor as
``lineage-2025.csv`` writes it: the answer is whatever new wards that CSV lists it under (one:
resolved; several: a split ward, ambiguous), not anything the parser's tables say. Each address is
also tried without its diacritics, as many people type.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from unidecode import unidecode

from routers.boundaries.names import same_name
from routers.boundaries.registry import BoundaryRegistry
from routers.locate.locator import Locator

pytestmark = pytest.mark.realdata

CASES = Path(__file__).parent / "data" / "heldout_addresses.txt"
_ITEM = re.compile(r",\s*(?![^()]*\))")  # commas outside parentheses
_REMAINDER = re.compile(r"\s*\(phần còn lại[^)]*\)\s*$")


def _cases() -> list[tuple[str, str, str]]:
    rows = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            address, province, truth = (part.strip() for part in line.split("|"))
            rows.append((address, province, truth))
    return rows


def _expected(truth: str, province: str, lineage: list[dict[str, str]]) -> set[str] | None:
    """The codes the lineage gives (None: a place that does not exist)."""
    if truth == "FAKE":
        return None
    rows = [r for r in lineage if r["province_code"] == province]
    if truth.startswith("="):
        return {r["code"] for r in rows if same_name(r["name"], truth[1:])}
    return {
        r["code"]
        for r in rows
        if any(same_name(_REMAINDER.sub("", item), truth) for item in _ITEM.split(r["predecessors"]))
        or (r["predecessors"] == "giữ nguyên" and same_name(r["name"], truth))  # "kept as it was"
    }


def test_citizen_addresses_resolve_as_the_lineage_says(shared_boundaries: Path, data_dir: Path) -> None:
    with open(shared_boundaries / "lineage-2025.csv", encoding="utf-8") as handle:
        lineage = list(csv.DictReader(handle))
    locator = Locator(BoundaryRegistry(data_dir).load_for_serving())
    cases = _cases()
    bad_rows = [c for c in cases if _expected(c[2], c[1], lineage) == set()]
    assert not bad_rows, f"truth not in the lineage CSV: {bad_rows}"
    tried = right = fakes = fakes_placed = 0
    wrong: list[str] = []
    for address, province, truth in cases:
        expected = _expected(truth, province, lineage)
        for text in dict.fromkeys([address, unidecode(address)]):
            location = locator.locate_address(text)
            got = (
                {location.ward.code} if location.ward is not None else {c.code for c in location.candidates}
            )
            if expected is None:
                fakes += 1
                ok = location.status == "unresolved" and not location.candidates
                fakes_placed += not ok
            elif len(expected) == 1:
                ok = location.status == "resolved" and got == expected
            else:
                ok = location.status == "ambiguous" and got == expected
            tried += 1
            right += ok
            if not ok:
                wrong.append(f"{text!r}: {location.status} {sorted(got)}, lineage {sorted(expected or [])}")
    share = right / tried
    print(f"{right}/{tried} right ({share:.1%}), {fakes_placed}/{fakes} fake addresses placed")
    print("\n".join(wrong))
    assert tried >= 400 and fakes >= 30
    assert fakes_placed == 0, wrong
    assert share >= 0.97, wrong
