"""Free-text address -> post-merger ward code(s), across the 1 July 2025 merger. It never guesses.

The address is cut into parts (commas, dashes, semicolons; within a part, before each type word:
"phường 7 quận 3 tp hcm"), abbreviations expanded (``P.``, ``F7``, ``Q3``, ``TX.``, ``TT``, ``x.``,
``tp``, ``TP.HCM``, ``BR-VT``), house numbers, streets and hamlets ("số 51", "tổ 5", "ấp 3")
set aside. Then, reading from the right:

* the last part may name a **province**, old or new ("Bình Dương" is now in Ho Chi Minh City);
* the part before it may name an old **district** ("Quận 3", "Q2" = Thành phố Thủ Đức);
* the part before that names the **ward**.

Every name is compared whole (``routers.locate.units``: the package's own keyword tables,
looked up exactly; "Phường 50" is not "Phường 5"), without accents when typed without them, by the
accents when they tell namesakes apart, and never by where a tone mark sits ("Hoà"/"Hòa"):

* old format, ward + district (+ province): the old ward of that district, mapped through the
  package's old-to-new table (``converter_2025.json``); an old ward that was **split** gives every
  receiving ward (the caller answers ``ambiguous``). A new ward named with an old district counts
  when one of its predecessors lay in that district.
* new format, ward + province: the new ward of that province (named with an old province: a new
  ward that took land from it); else an old ward of that name anywhere in the province (namesakes
  in several districts give several candidates; a bare number needs its district).
* a ward alone: a new or old ward of that name when exactly one exists in the country.

A ward, district or province that does not exist there, a district without a ward, a province
alone: ``None`` (unresolved). There is no fuzzy matching and no nearest name. Results are cached.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import re2

from routers.boundaries.lineage import OldUnit, admin_data
from routers.boundaries.names import has_accents, plain_key, tone_key
from routers.exceptions import Rejected
from routers.locate.units import Unit, UnitTables, lookup, unit_tables

MAX_ADDRESS_CHARS = 500
# Address texts resolved lately, exactly as written. A citizen's address names a house, so nearly
# every report's text is new (the simulator's reports: 2,957 distinct in 2,958) and an entry is hit
# again only by the same text soon after (a report sent twice, a portal's picked suggestion); the
# parse of a place is shared anyway, by its spelling key (SPELLING_CACHE_SIZE). So this one is kept
# small: at 65,536 entries (~300 bytes each with its text) it grew by ~2,900 entries, ~0.9 MB, a
# minute for over 20 minutes of the 1,000 events/s soak, about half the worker's RSS slope (issue 20,
# docs/performance.md).
TEXT_CACHE_SIZE = 4_096
# Places by spelling: real places and their spellings number in the thousands.
SPELLING_CACHE_SIZE = 65_536

_EXPANSIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bTP\.?\s*HCM\b|\bHCMC\b|\bTP\.?\s*H[ồo]\s*Ch[íi]\s*Minh\b", "Thành phố Hồ Chí Minh"),
        (r"\bBR\s*-?\s*VT\b", "Bà Rịa Vũng Tàu"),
        (r"\bTP\b\.?\s*", "Thành phố "),
        (r"\bTX\b\.?\s*", "Thị xã "),
        (r"\bTT\b\.?\s*", "Thị trấn "),
        (r"\b[FP](\d{1,3})\b", r"Phường \1"),
        (r"\bQ(\d{1,3})\b", r"Quận \1"),
        (r"\bQ\b\.?\s*", "Quận "),
        (r"\bP\b\.?\s*", "Phường "),
        (r"\bF\b\.?\s*(?=\d)", "Phường "),
        (r"\bH\b\.?\s*", "Huyện "),
        (r"\bX\b\.?\s*", "Xã "),
    )
)
_SEPARATORS = re.compile(r"[,;|\n]")  # parts are stripped after the split (\s* around it backtracks)
# RE2 (linear time): the alternation of optional spaces around a dash is quadratic in Python's re.
_DASHES = re2.compile(r"\s+[-–—]\s*|\s*[-–—]\s+|\s*[–—]\s*")
# Old province names people still write that the package's keywords lack (renamed in 2025).
_PROVINCE_ALIASES = {
    "thuathienhue": "thanhphohue", "tthue": "thanhphohue",
    "saigon": "thanhphohochiminh", "hochiminhcity": "thanhphohochiminh",  # as the city, last
}
MAX_FREE_CUT_WORDS = 10  # a part without separators or type words: try every cut up to this size

WardType = Literal["ward", "district", "city", "province", ""]
# Type words a unit's name starts with, accented and typed without accents.
_TYPE_WORDS: tuple[tuple[str, WardType], ...] = (
    ("thị trấn", "ward"), ("thi tran", "ward"), ("đặc khu", "ward"), ("dac khu", "ward"),
    ("phường", "ward"), ("phuong", "ward"), ("xã", "ward"), ("xa", "ward"),
    ("thị xã", "district"), ("thi xa", "district"), ("quận", "district"), ("quan", "district"),
    ("huyện", "district"), ("huyen", "district"),
    ("thành phố", "city"), ("thanh pho", "city"), ("tỉnh", "province"), ("tinh", "province"),
)
# A part starting with one of these is a house, street or hamlet, never a unit.
_NOT_A_UNIT = re.compile(
    r"^(\d|số\b|so\b|tổ\b|to\b|ấp\b|ap\b|khu phố\b|khu pho\b|kp\b|thôn\b|thon\b|xóm\b|xom\b|"
    r"đường\b|duong\b|ngõ\b|ngo\b|ngách\b|ngach\b|hẻm\b|hem\b|kiệt\b|kiet\b|khóm\b|khom\b|lô\b|"
    r"chung cư\b|tòa\b|toà\b|nhà\b|căn\b|cụm\b|bản\b|buôn\b|làng\b)",
    re.IGNORECASE,
)
_COUNTRY = frozenset({"vietnam", "vn"})
MAX_SPLITS = 9  # cut points inside one part worth trying every way of cutting at (512 ways)

@dataclass(frozen=True, slots=True)
class AddressMatch:
    """Where an address points: ``codes`` are post-merger ward codes, sorted."""

    kind: Literal["new", "legacy"]
    codes: tuple[str, ...]
    detail: str
    old: tuple[tuple[str, str], ...] = ()  # the old wards named: (ward, district), for legacy matches


def _key(text: str) -> str:
    """Accent-free, lower-case, letters and digits only (the keyword tables' form)."""
    return plain_key(text)


def normalize_address(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c)[0] == "C" and c != "\n" else c for c in text)
    for pattern, replacement in _EXPANSIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"[ \t]+", " ", text).strip(" ,")


def check_address(text: object) -> str:
    """The address as text; Rejected("invalid_address") for non-text or absurdly long input."""
    if not isinstance(text, str):
        raise Rejected("invalid_address", f"address must be text, got {type(text).__name__}")
    if len(text) > MAX_ADDRESS_CHARS:
        raise Rejected(
            "invalid_address", f"address is {len(text)} characters, the limit is {MAX_ADDRESS_CHARS}"
        )
    return text


def resolve_address(text: str) -> AddressMatch | None:
    """The ward(s) an address names, or None. ``text`` must already be checked."""
    return _resolve(text)


def clear_address_cache() -> None:
    """Forget every resolved address (benchmarks measure the cold path)."""
    _resolve.cache_clear()
    _by_spelling_key.clear()


# Reports spell one place many ways (P./Phường, TP.HCM/Thành phố Hồ Chí Minh, with or without a
# house number): after normalize_address, spellings with the same letters and the same accents on
# the names share a key, so the parse runs once per place and accent style.
_by_spelling_key: dict[str, AddressMatch | None] = {}
_TYPE_WORD = re.compile("|".join(rf"\b{w}\b" for w, _ in _TYPE_WORDS), re.IGNORECASE)


def _spelling_key(parts: list[str]) -> str:
    units = [p for p in parts if not _NOT_A_UNIT.match(p)]
    joined = ",".join(units)
    names = _TYPE_WORD.sub("", joined)
    return plain_key(joined) + "|" + (tone_key(names) if has_accents(names) else "")


@functools.lru_cache(maxsize=TEXT_CACHE_SIZE)
def _resolve(text: str) -> AddressMatch | None:
    parts = _parts(normalize_address(text))
    if not parts:
        return None
    key = _spelling_key(parts)
    if key in _by_spelling_key:
        return _by_spelling_key[key]
    if len(_by_spelling_key) >= SPELLING_CACHE_SIZE:
        _by_spelling_key.clear()  # a bound, not an eviction policy: real places number in the thousands
    found = _by_spelling_key[key] = _parse(parts)
    return found


# -- cutting the address into parts -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Part:
    text: str  # as written (normalized), type word included
    kind: WardType  # what its type word says ("" without one)
    short: str  # without the type word


def _type_of(text: str) -> tuple[WardType, str]:
    lowered = text.lower()
    for word, kind in _TYPE_WORDS:
        if lowered.startswith(word) and (len(lowered) == len(word) or not lowered[len(word)].isalnum()):
            return kind, text[len(word) :].strip(" .")
    return "", text


def _is_known(text: str, t: UnitTables) -> bool:
    key = plain_key(text)
    return key in t.all_keywords or key in _PROVINCE_ALIASES


def _parts(norm: str) -> list[str]:
    """The address cut at separators and, inside a separator-free run, before type words."""
    t = unit_tables()
    merged: list[str] = []
    for chunk in (part.strip() for part in _SEPARATORS.split(norm)):
        # "Bà Rịa - Vũng Tàu", "Văn Miếu - Quốc Tử Giám": a dash inside a name, not between parts.
        dashed: list[str] = []
        for piece in (p.strip(" .") for p in _DASHES.split(chunk)):
            if not piece:
                continue
            if dashed and _is_known(f"{dashed[-1]} {piece}", t):
                dashed[-1] = f"{dashed[-1]} - {piece}"
            else:
                dashed.append(piece)
        merged.extend(dashed)
    out: list[str] = []
    for piece in merged:
        out.extend(_cut_at_type_words(piece, t))
    return out


def _cut_at_type_words(piece: str, t: UnitTables) -> list[str]:
    words = piece.split()
    lowered = [w.lower() for w in words]
    cuts = set()
    for i in range(1, len(words)):
        for word, _kind in _TYPE_WORDS:
            n = len(word.split())
            if " ".join(lowered[i : i + n]) == word:
                cuts.add(i)
        if _is_province(" ".join(words[i:]), t):
            cuts.add(i)
    if len(words) <= MAX_FREE_CUT_WORDS and not _is_known(piece, t) and not _NOT_A_UNIT.match(piece):
        # "P17 Binh Thanh HCM": parts joined by spaces, some without a type word.
        cuts = set(range(1, len(words)))
    if not cuts:
        return [piece]
    ordered = sorted(cuts)
    if len(ordered) > MAX_SPLITS:
        return _cut(words, ordered)
    # Without accents "xa", "quan", "tinh" also occur inside names ("Phúc Xá" -> "phuc xa"): try
    # every way of cutting and keep the one whose parts are known names (fewest parts on a tie).
    best: tuple[int, int] | None = None
    chosen = [piece]
    for n in range(len(ordered) + 1):
        for subset in itertools.combinations(ordered, n):
            parts = _cut(words, list(subset))
            unknown = sum(not _is_known(p, t) for p in parts if not _NOT_A_UNIT.match(p))
            score = (unknown, len(parts))
            if best is None or score < best:
                best, chosen = score, parts
    return chosen


def _cut(words: list[str], cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(words)]
    return [" ".join(words[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


def _is_province(text: str, t: UnitTables) -> bool:
    kind, _short = _type_of(text)
    return kind in ("", "city", "province") and bool(
        lookup(t.old_provinces, text) or lookup(t.new_provinces, text) or plain_key(text) in _PROVINCE_ALIASES
    )


# -- reading the parts ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Province:
    new: str  # the new province key
    old: frozenset[str]  # old province keys its wards and districts may come from
    new_codes: frozenset[str] | None  # named by an old province: the new wards that took its land


def _province(part: _Part, t: UnitTables) -> _Province | None:
    if part.kind not in ("", "city", "province"):
        return None
    olds = lookup(t.old_provinces, part.text)
    alias = _PROVINCE_ALIASES.get(plain_key(part.text)) or _PROVINCE_ALIASES.get(plain_key(part.short))
    if alias:
        olds = [u for units in t.old_provinces.values() for u in units if u.key == alias][:1]
    news = lookup(t.new_provinces, part.text) if not alias else []
    if news:
        new = news[0].key
        old = frozenset(k for k, v in t.old_to_new_province.items() if v == new)
        return _Province(new, old, None)
    if olds:
        old_key = olds[0].key
        return _Province(
            t.old_to_new_province.get(old_key, ""), frozenset({old_key}),
            frozenset(t.new_codes_of_old_province.get(old_key, ())),
        )
    return None


def _match(
    kind: Literal["new", "legacy"], codes: Iterable[str], detail: str, olds: Iterable[OldUnit] = ()
) -> AddressMatch:
    return AddressMatch(kind, tuple(sorted(set(codes))), detail, tuple(sorted({(u.name, u.district) for u in olds})))


def _old_units(units: list[Unit]) -> list[OldUnit]:
    by_code = _old_by_code()
    return [by_code[u.key] for u in units if u.key in by_code]


@functools.cache
def _old_by_code() -> dict[str, OldUnit]:
    return {u.code: u for u in admin_data().old_units}


def _is_numbered(part: _Part) -> bool:
    return part.short.strip().isdigit()


def _parse(texts: list[str]) -> AddressMatch | None:
    t = unit_tables()
    parts = [_Part(text, *_type_of(text)) for text in texts if not _NOT_A_UNIT.match(text)]
    # Trailing words that name nothing ("Việt Nam", "ĐN", a postcode) are not the province.
    while len(parts) > 1 and parts[-1].kind == "" and (
        plain_key(parts[-1].text) in _COUNTRY or not _is_known(parts[-1].text, t)
    ):
        parts.pop()
    if not parts:
        return None
    province = _province(parts[-1], t) if len(parts) > 1 or parts[-1].kind != "ward" else None
    if province is not None:
        parts.pop()
    if not parts:
        return None  # a province alone
    olds = province.old if province else frozenset(t.districts)
    district_part = parts[-1] if parts[-1].kind in ("district", "city", "") and len(parts) > 1 else None
    if parts[-1].kind in ("district", "city") and len(parts) == 1:
        return _island_district(parts[-1], olds, t)  # else a district without a ward
    districts: list[Unit] = []
    if district_part is not None:
        districts = [d for p in sorted(olds) for d in _district(district_part, t.districts.get(p, {}))]
        if districts:
            parts.pop()
        elif district_part.kind in ("district", "city"):
            return None  # a district that is not in that province (or nowhere)
    ward = parts[-1]
    if ward.kind not in ("ward", "") or (ward.kind == "" and not districts):
        return None  # an untyped name counts as a ward only in "ward, district" form
    if districts:
        return _ward_in_districts(ward, districts, t)
    if province is not None:
        return _ward_in_province(ward, province, t)
    return _ward_anywhere(ward, t)


def _island_district(part: _Part, provinces: frozenset[str], t: UnitTables) -> AddressMatch | None:
    """Island districts had no wards (Côn Đảo, Bạch Long Vĩ): the district is the unit."""
    by_key = admin_data().old_by_key
    for province in sorted(provinces):
        for district in _district(part, t.districts.get(province, {})):
            unit = by_key.get(f"{province}_{district.key}_")
            if unit is not None:
                return _match("legacy", unit.new_codes, f"old {unit.name}", [unit])
    return None


def _district(part: _Part, index: dict[str, list[Unit]]) -> list[Unit]:
    found = lookup(index, part.text)
    if not found and part.kind and part.short:
        found = lookup(index, part.short)  # "Thị xã Dĩ An" (a city since 2020)
    return found


def _ward_in_districts(ward: _Part, districts: list[Unit], t: UnitTables) -> AddressMatch | None:
    olds = _old_units([u for d in districts for u in lookup(t.old_wards.get((d.province, d.key), {}), ward.text)])
    if olds:
        split = " (split)" if len({c for u in olds for c in u.new_codes}) > 1 else ""
        names = ", ".join(sorted({f"{u.name}, {u.district}" for u in olds}))
        return _match("legacy", (c for u in olds for c in u.new_codes), f"old {names}{split}", olds)
    if ward.kind != "ward":
        return None
    # A new ward named with its old district: one of its predecessors lay there.
    in_districts = {
        c for d in districts for idx in [t.old_wards.get((d.province, d.key), {})]
        for units in idx.values() for o in _old_units(units) for c in o.new_codes
    }
    news = {t.old_to_new_province.get(d.province, "") for d in districts}
    found = [u for p in news for u in lookup(t.new_wards.get(p, {}), ward.text) if u.key in in_districts]
    if found:
        return _match("new", (u.key for u in found), ", ".join(sorted({u.name for u in found})))
    return None


def _ward_in_province(ward: _Part, province: _Province, t: UnitTables) -> AddressMatch | None:
    news = [
        u for u in lookup(t.new_wards.get(province.new, {}), ward.text)
        if province.new_codes is None or u.key in province.new_codes
    ]
    if news:
        return _match("new", (u.key for u in news), ", ".join(sorted({u.name for u in news})))
    if _is_numbered(ward):
        return None  # "Phường 7" alone is in a dozen districts: it needs its district
    olds = _old_units([u for p in sorted(province.old) for u in lookup(t.old_wards_in_province.get(p, {}), ward.text)])
    if olds:
        names = ", ".join(sorted({f"{u.name} ({u.district})" for u in olds}))
        return _match("legacy", (c for u in olds for c in u.new_codes), f"old {names}", olds)
    # Ten communes became wards after the package's snapshot ("Phường Long Thành", Đồng Nai, is its
    # "Xã Long Thành"): the one new unit of the province with that name, whatever its type word.
    same_name = [
        u for u in lookup(t.new_wards.get(province.new, {}), ward.short)
        if plain_key(u.short) == plain_key(ward.short) and (province.new_codes is None or u.key in province.new_codes)
    ]
    if ward.kind == "ward" and len(same_name) == 1:
        return _match("new", [same_name[0].key], same_name[0].name)
    return None


def _ward_anywhere(ward: _Part, t: UnitTables) -> AddressMatch | None:
    """A ward named alone: only when exactly one unit in the country has that name."""
    if ward.kind != "ward" or _is_numbered(ward):
        return None
    news = [u for index in t.new_wards.values() for u in lookup(index, ward.text)]
    if len(news) == 1:
        return _match("new", [news[0].key], news[0].name)
    if news:
        return None
    olds = _old_units([u for index in t.old_wards_in_province.values() for u in lookup(index, ward.text)])
    if len(olds) == 1:
        split = " (split)" if len(olds[0].new_codes) > 1 else ""
        return _match("legacy", olds[0].new_codes, f"old {olds[0].name}, {olds[0].district}{split}", olds)
    return None
