"""Where simulated events happen: real wards of the active generation, weighted by population,
and the pre-merger ward names that old-format addresses still use."""

from __future__ import annotations

import json
import math
import random
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

CITIES = {"hcmc": "79", "hanoi": "01", "danang": "48"}
_LEGACY_PROVINCE_KEYS = {"79": "thanhphohochiminh", "01": "thanhphohanoi", "48": "thanhphodanang"}
_CITY_SHORT = {"79": ("TP.HCM", "TP. Hồ Chí Minh", "Thành phố Hồ Chí Minh", "TPHCM"),
               "01": ("Hà Nội", "TP. Hà Nội", "Thành phố Hà Nội", "HN"),
               "48": ("Đà Nẵng", "TP. Đà Nẵng", "Thành phố Đà Nẵng", "DN")}
# Wards the city's own flood reports keep naming; used to cluster the rainstorm when present.
LOW_LYING_NAMES = ("Xuân Hoà", "Bình Trưng", "Thủ Đức", "An Khánh", "Bình Thạnh", "Chánh Hưng", "Phú Định",
                   "Tân Thuận", "Nhà Bè", "Hoà Xuân", "Hoàng Mai", "Thanh Xuân", "Long Biên")


@dataclass(frozen=True, slots=True)
class LegacyWard:
    name: str
    district: str
    lat: float
    lon: float


@cache
def legacy_wards(province_code: str) -> tuple[LegacyWard, ...]:
    """Pre-merger wards of a province (from vietnamadminunits' legacy parser data)."""
    text = resources.files("vietnamadminunits").joinpath("data/parser_legacy.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    key = _LEGACY_PROVINCE_KEYS[province_code]
    districts = data["DICT_PROVINCE_DISTRICT"][key]
    wards = []
    for district_key, by_ward in data["DICT_PROVINCE_DISTRICT_WARD_NO_ACCENTED"][key].items():
        district = districts[district_key]["district"]
        for ward in by_ward.values():
            # island districts without wards (Hoàng Sa in Da Nang, Côn Đảo, ...) have a NaN placeholder
            if not isinstance(ward["ward"], str) or not math.isfinite(float(ward["wardLat"])):
                continue
            wards.append(LegacyWard(ward["ward"], district, float(ward["wardLat"]), float(ward["wardLon"])))
    return tuple(sorted(wards, key=lambda w: (w.district, w.name)))


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def old_address(ward: LegacyWard, province_code: str, rng: random.Random) -> str:
    """An address as people still write it after the merger: old ward and district, abbreviated or not."""
    city = rng.choice(_CITY_SHORT[province_code])
    street = f"{rng.randint(1, 400)} {rng.choice(('Lê Lợi', 'Nguyễn Trãi', 'Trần Hưng Đạo', 'Hai Bà Trưng', 'Lý Thường Kiệt'))}"
    ward_name, district = ward.name, ward.district
    style = rng.random()
    if style < 0.35:
        ward_name = ward_name.replace("Phường ", "P.").replace("Xã ", "X.").replace("Thị trấn ", "TT.")
        district = district.replace("Quận ", "Q.").replace("Huyện ", "H.").replace("Thị xã ", "TX.")
        district = district.replace("Thành phố ", "TP.")
    text = f"{street}, {ward_name}, {district}, {city}"
    if rng.random() < 0.25:
        text = strip_accents(text)
    return text
