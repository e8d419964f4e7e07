"""Every name a citizen may use for a province, district or ward, before and after the merger.

Read from ``vietnamadminunits``' own parser tables (``parser_legacy.json``, ``parser_from_2025.json``,
MIT): each unit comes with the keywords the package recognises, accent-free and without spaces,
including the names units had before earlier reorganisations ("phuong7" of old Quận 3 is Phường Võ
Thị Sáu since 2020, "quan2"/"q2" is Thành phố Thủ Đức since 2021) and the short forms ("p7", "f7",
"q3", "hcm"). We look keywords up by *exact* equality (the package's own parser matches by
prefix and fuzzily, which turns "Phường 50" into Phường 5), and tell apart units whose accent-free
names collide by their accented names (compared by :func:`~routers.boundaries.names.tone_key`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from routers.boundaries.lineage import admin_data, package_data_dir
from routers.boundaries.names import has_accents, plain_key, tone_key


@dataclass(frozen=True, slots=True)
class Unit:
    """One named unit: an old or new province, an old district, an old or new ward."""

    key: str  # province key, district key, or ward code
    name: str  # full accented name ("Phường Bến Nghé")
    short: str  # without its type word ("Bến Nghé")
    province: str  # the province key it belongs to (old for old units, new for new ones)
    district: str = ""  # the old district key (old wards)

    def spelled(self, text: str) -> bool:
        """Does accented ``text`` spell this unit's name or short name (tone placement aside)?"""
        key = tone_key(text)
        return key in (tone_key(self.name), tone_key(self.short))


Index = dict[str, list[Unit]]


def _add(index: Index, keywords: Iterable[str], unit: Unit) -> None:
    for keyword in {plain_key(k) for k in keywords} | {plain_key(unit.name), plain_key(unit.short)}:
        if keyword and unit not in index.setdefault(keyword, []):
            index[keyword].append(unit)


@dataclass
class UnitTables:
    old_provinces: Index = field(default_factory=dict)
    new_provinces: Index = field(default_factory=dict)
    new_province_code: dict[str, str] = field(default_factory=dict)  # new province key -> code
    old_to_new_province: dict[str, str] = field(default_factory=dict)  # old key -> new key
    districts: dict[str, Index] = field(default_factory=dict)  # old province -> keyword -> districts
    old_wards: dict[tuple[str, str], Index] = field(default_factory=dict)  # (province, district) ->
    old_wards_in_province: dict[str, Index] = field(default_factory=dict)
    new_wards: dict[str, Index] = field(default_factory=dict)  # new province -> keyword -> wards
    new_codes_of_old_province: dict[str, set[str]] = field(default_factory=dict)
    all_keywords: set[str] = field(default_factory=set)  # every keyword of every table above


def _entries(tables: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for province, units in tables.items():
        for key, value in units.items():
            yield province, key, value


@functools.cache
def unit_tables() -> UnitTables:
    data_dir = package_data_dir()
    # The package writes NaN for island districts without wards: the standard library reads it.
    legacy = json.loads((data_dir / "parser_legacy.json").read_text(encoding="utf-8"))
    modern = json.loads((data_dir / "parser_from_2025.json").read_text(encoding="utf-8"))
    admin = admin_data()
    t = UnitTables()

    for key, p in legacy["DICT_PROVINCE"].items():
        _add(t.old_provinces, p["provinceKeywords"], Unit(key, p["province"], p["provinceShort"], key))
    for key, p in modern["DICT_PROVINCE"].items():
        _add(t.new_provinces, p["provinceKeywords"], Unit(key, p["province"], p["provinceShort"], key))
        t.new_province_code[key] = str(p["provinceCode"])
    code_to_new_key = {code: key for key, code in t.new_province_code.items()}

    for province, key, d in _entries(legacy["DICT_PROVINCE_DISTRICT"]):
        _add(t.districts.setdefault(province, {}), d["districtKeywords"],
             Unit(key, d["district"], d["districtShort"], province))
    names = {(p, k): u for p, idx in t.districts.items() for us in idx.values() for u in us for k in [u.key]}
    for province, _key, divided in _entries(legacy["DICT_PROVINCE_DISTRICT_DIVIDED"]):
        # A district divided before the merger (Huế into Phú Xuân and Thuận Hóa): its old name
        # names every part; the ward decides which.
        for district in divided["districts"]:
            unit = names.get((province, district))
            if unit is not None:
                _add(t.districts.setdefault(province, {}), divided["dividedDistrictKeywords"], unit)

    old_by_code = {u.code: u for u in admin.old_units}
    for table in ("DICT_PROVINCE_DISTRICT_WARD_NO_ACCENTED", "DICT_PROVINCE_DISTRICT_WARD_ACCENTED"):
        for province, districts in legacy[table].items():
            for district, wards in districts.items():
                for w in wards.values():
                    if not isinstance(w.get("ward"), str):
                        continue  # an island district without wards (NaN in the package)
                    code = str(w["wardCode"])
                    if code not in old_by_code:
                        continue  # not in the old-to-new mapping
                    unit = Unit(code, w["ward"], w["wardShort"], province, district)
                    _add(t.old_wards.setdefault((province, district), {}), w["wardKeywords"], unit)
                    _add(t.old_wards_in_province.setdefault(province, {}), [], unit)

    for table in ("DICT_PROVINCE_WARD_NO_ACCENTED", "DICT_PROVINCE_WARD_ACCENTED"):
        for province, _key, w in _entries(modern[table]):
            unit = Unit(str(w["wardCode"]), w["ward"], w["wardShort"], province)
            _add(t.new_wards.setdefault(province, {}), w["wardKeywords"], unit)

    for old in admin.old_units:
        codes = t.new_codes_of_old_province.setdefault(old.province_key, set())
        codes.update(old.new_codes)
        new = admin.new_by_code.get(old.new_codes[0])
        if new is not None:
            t.old_to_new_province[old.province_key] = code_to_new_key.get(new.province_code, "")
    for index in (t.old_provinces, t.new_provinces, *t.districts.values(), *t.old_wards_in_province.values(),
                  *t.new_wards.values()):
        t.all_keywords.update(index)
    return t


def lookup(index: Index, text: str) -> list[Unit]:
    """Units named exactly by ``text`` ("Phường Bến Nghé", "Bến Nghé", "P7"; the type word is part
    of the keyword, so "Xã Long Thạnh" is not "Phường Long Thạnh"). Accented text picks, among
    units whose accent-free names collide, the ones it spells."""
    found = index.get(plain_key(text), [])
    if len(found) > 1 and has_accents(text):
        spelled = [u for u in found if u.spelled(text)]
        if spelled:
            return spelled
    return found
