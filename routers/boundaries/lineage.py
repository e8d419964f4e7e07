"""Administrative units before and after the 1 July 2025 merger, from ``vietnamadminunits`` (MIT).

The package ships a SQLite table of the 3,321 post-merger wards (centroid, area, keywords), a table
of the ~10,000 pre-merger wards (geocoded point and bounding box) and ``converter_2025.json``, which maps
every old ward key ``<province>_<district>_<ward>`` either to exactly one new ward or, for the
wards that were split, to the list of new wards that received a part. We read those files
directly (read-only) rather than through ``convert_address``, which geocodes split wards over
the network and silently picks one.
"""

from __future__ import annotations

import functools
import importlib.util
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

from routers.boundaries.names import plain_key


@dataclass(frozen=True, slots=True)
class NewUnit:
    """A post-merger ward as the package describes it."""

    code: str
    name: str
    province_code: str
    province: str
    province_key: str
    ward_key: str
    lat: float
    lon: float
    area_km2: float | None


@dataclass(frozen=True, slots=True)
class OldUnit:
    """A pre-merger ward (or an island district without wards) and where it went."""

    key: str  # "<province_key>_<district_key>_<ward_key>" as in converter_2025.json
    name: str
    district: str
    province: str
    province_key: str
    code: str
    lat: float
    lon: float
    new_codes: tuple[str, ...]  # one code, or every receiving ward when the old ward was split
    default_code: str  # the receiving ward the package marks as the main one
    bounds: tuple[float, float, float, float] | None = None  # geocoder's (lon_min, lat_min, lon_max, lat_max)


@dataclass(frozen=True, slots=True)
class AdminData:
    new_units: tuple[NewUnit, ...]
    old_units: tuple[OldUnit, ...]
    new_by_code: dict[str, NewUnit]
    new_by_key: dict[tuple[str, str], NewUnit]
    old_by_key: dict[str, OldUnit]


def package_data_dir() -> Path:
    """The ``data`` folder of the installed vietnamadminunits package (read-only).

    Found without importing the package: its import parses its own parser tables (~21 MB RSS and
    ~2 s in every worker), and we only read its data files."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("vietnamadminunits is not installed (a dependency of ioc-router)")
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "data"


def _parse_bounds(text: str | None) -> tuple[float, float, float, float] | None:
    """``"lat,lon – lat,lon"`` (south-west, north-east corners) as (lon_min, lat_min, lon_max, lat_max)."""
    if not text:
        return None
    try:
        (lat0, lon0), (lat1, lon1) = (map(float, corner.split(",")) for corner in text.split("–"))
    except ValueError:
        return None
    return (min(lon0, lon1), min(lat0, lat1), max(lon0, lon1), max(lat0, lat1))


@functools.cache
def admin_data() -> AdminData:
    """Load (once per process) the pre- and post-merger units and the old-to-new mapping."""
    data_dir = package_data_dir()
    with sqlite3.connect(f"file:{data_dir / 'dataset.db'}?mode=ro", uri=True) as conn:
        new_rows = conn.execute(
            "SELECT wardCode, ward, provinceCode, province, provinceKey, wardKey, wardLat, wardLon, "
            "wardAreaKm2 FROM admin_units ORDER BY wardCode"
        ).fetchall()
        old_rows = conn.execute(
            "SELECT provinceKey, districtKey, wardKey, coalesce(ward, district), district, province, "
            "coalesce(wardCode, districtCode), coalesce(wardLat, districtLat), "
            "coalesce(wardLon, districtLon), wardBounds FROM admin_units_legacy"
        ).fetchall()
    new_units = tuple(
        NewUnit(
            code=str(code),
            name=str(name),
            province_code=str(pcode),
            province=str(province),
            province_key=str(pkey),
            ward_key=str(wkey),
            lat=float(lat),
            lon=float(lon),
            area_km2=None if area is None else float(area),
        )
        for code, name, pcode, province, pkey, wkey, lat, lon, area in new_rows
    )
    new_by_key = {(u.province_key, u.ward_key): u for u in new_units}
    converter = orjson.loads((data_dir / "converter_2025.json").read_bytes())
    targets: dict[str, tuple[tuple[str, ...], str]] = {}
    for province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, old_keys in wards.items():
            code = new_by_key[(province_key, ward_key)].code
            for old_key in old_keys:
                targets[old_key] = ((code,), code)
    for province_key, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in olds.items():
            codes = [new_by_key[(province_key, part["newWardKey"])].code for part in parts]
            default = next(
                (c for c, part in zip(codes, parts, strict=True) if part["isDefaultNewWard"]), codes[0]
            )
            targets[old_key] = (tuple(sorted(set(codes))), default)
    old_units = []
    for pkey, dkey, wkey, name, district, province, code, lat, lon, bounds in old_rows:
        key = f"{pkey}_{dkey}_{wkey or ''}"
        if key not in targets or lat is None:
            continue
        new_codes, default = targets[key]
        old_units.append(
            OldUnit(
                key=key,
                name=str(name),
                district=str(district),
                province=str(province),
                province_key=str(pkey),
                code=str(code),
                lat=float(lat),
                lon=float(lon),
                new_codes=new_codes,
                default_code=default,
                bounds=_parse_bounds(bounds),
            )
        )
    return AdminData(
        new_units=new_units,
        old_units=tuple(old_units),
        new_by_code={u.code: u for u in new_units},
        new_by_key=new_by_key,
        old_by_key={u.key: u for u in old_units},
    )


_REMAINDER = "(phần còn lại"  # "(what was left after ... went to ...)" closes an item


def _top_level_items(text: str) -> list[str]:
    """The items of a predecessor list: commas inside parentheses do not separate (a plain scan,
    linear on any input, where a look-ahead regex would backtrack)."""
    items, depth, start = [], 0, 0
    for at, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            items.append(text[start:at])
            start = at + 1
    items.append(text[start:])
    return items


def _without_remainder(item: str) -> str:
    """``item`` without a trailing "(phần còn lại ...)" note."""
    cut = item.rfind(_REMAINDER)
    if cut >= 0 and item.endswith(")") and ")" not in item[cut:-1]:
        return item[:cut].rstrip()
    return item


def _qualified(item: str) -> tuple[str, str] | None:
    """"Phường 4 (Quận 3)" -> ("Phường 4", "Quận 3"); None when no trailing parenthesis."""
    if not item.endswith(")"):
        return None
    opening = item.rfind("(")
    if opening < 0 or ")" in item[opening:-1]:
        return None
    return item[:opening].rstrip(), item[opening + 1:-1]


@functools.lru_cache(maxsize=8192)
def _predecessors(text: str) -> tuple[tuple[str, str | None], ...]:
    items: list[tuple[str, str | None]] = []
    for raw in _top_level_items(text):
        item = _without_remainder(raw.strip())
        qualified = _qualified(item)
        if qualified:
            items.append((plain_key(qualified[0]), plain_key(qualified[1])))
        else:
            items.append((plain_key(item), None))
    return tuple(items)


LineageIndex = dict[tuple[str, str], list[tuple[int, str | None]]]


def lineage_index(predecessors: list[str | None], names: list[str], provinces: list[str]) -> LineageIndex:
    """(province code, old ward name key) -> (new ward position, district key the publication
    adds or None), from each new ward's published ``predecessors`` ("Phường 4 (Quận 3), Phường Võ
    Thị Sáu"; "giữ nguyên" = the ward kept itself)."""
    index: LineageIndex = {}
    for position, (text, name, province) in enumerate(zip(predecessors, names, provinces, strict=True)):
        if not text:
            continue
        items = [(plain_key(name), None)] if plain_key(text) == "giunguyen" else _predecessors(text)
        for item, qualifier in items:
            index.setdefault((province, item), []).append((position, qualifier))
    return index


@functools.cache
def _old_names_per_province() -> dict[tuple[str, str], int]:
    """(new province code, old ward name key) -> how many old wards had that name."""
    data = admin_data()
    counts: dict[tuple[str, str], int] = {}
    for unit in data.old_units:
        new = data.new_by_code.get(unit.new_codes[0])
        if new is not None:
            key = (new.province_code, plain_key(unit.name))
            counts[key] = counts.get(key, 0) + 1
    return counts


def published_receivers(index: LineageIndex, province_code: str, name: str, district: str) -> list[int] | None:
    """The new wards (positions) whose published predecessors name the old ward ``name`` of
    ``district``: those naming it with its district when the publication adds one, else those
    naming it alone, but only when no other old ward of the province had that name. None when
    the publication does not say."""
    listed = index.get((province_code, plain_key(name)), [])
    district_key = plain_key(district)
    qualified = sorted({i for i, qualifier in listed if qualifier == district_key})
    if qualified:
        return qualified
    if _old_names_per_province().get((province_code, plain_key(name)), 0) != 1:
        return None  # namesakes: an unqualified mention may be another district's ward
    alone = sorted({i for i, qualifier in listed if qualifier is None})
    return alone or None
