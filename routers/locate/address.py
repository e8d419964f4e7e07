"""Free-text address -> post-merger ward code(s), across the 1 July 2025 merger.

Both address formats are read with ``vietnamadminunits``' parsers (accents optional):

* old format, ``ward, district, province`` ("P.7, Q.3, TP.HCM", "Phường Phú Cường, TP. Thủ Dầu
  Một, Bình Dương"): the old ward is mapped to the new ward(s) through the package's
  ``converter_2025.json``. An old ward that was split yields *every* receiving ward (the caller
  reports it ambiguous); the package's own "default" pick and its network geocoding are not used.
* new format, ``ward, province`` ("Phường Xuân Hoà, TP.HCM").
* an old ward named without its district ("Phường Đa Kao, TP.HCM") is looked up by name among the
  province's old wards; several namesakes give several candidates.

Anything else is unresolved: there is no fuzzy matching. Abbreviations the parsers miss
(``TP.``, ``TX.``, ``TT.``, ``H.``, ``F7``, ``BR-VT``) are expanded first. Results are cached.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from unidecode import unidecode
from vietnamadminunits import ParseMode, parse_address

from routers.boundaries.lineage import OldUnit, admin_data
from routers.exceptions import Rejected

MAX_ADDRESS_CHARS = 500
CACHE_SIZE = 65_536

_EXPANSIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bTP\.?\s*HCM\b|\bHCMC\b", "Thành phố Hồ Chí Minh"),
        (r"\bBR\s*-?\s*VT\b", "Bà Rịa - Vũng Tàu"),
        (r"\bTP\.\s*", "Thành phố "),
        (r"\bTX\.\s*", "Thị xã "),
        (r"\bTT\.\s*", "Thị trấn "),
        (r"\bQ\.\s*", "Quận "),
        (r"\bP\.\s*", "Phường "),
        (r"\bH\.\s*", "Huyện "),
        (r"\bX\.\s*", "Xã "),
        (r"\b[FP](\d{1,2})\b", r"Phường \1"),
        (r"\bQ(\d{1,2})\b", r"Quận \1"),
    )
)
_WARD_TYPES = ("phuong", "xa", "thitran", "dackhu")


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """Where an address points: ``codes`` are post-merger ward codes, sorted."""

    kind: Literal["new", "legacy"]
    codes: tuple[str, ...]
    detail: str


def _key(text: str) -> str:
    """Accent-free, lower-case, letters and digits only (the parsers' own key form)."""
    return re.sub(r"[^0-9a-z]", "", unidecode(text).lower())


def normalize_address(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    for pattern, replacement in _EXPANSIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip(" ,")


def check_address(text: object) -> str:
    """The address as text; Rejected("invalid_address") for non-text or absurdly long input."""
    if not isinstance(text, str):
        raise Rejected("invalid_address", f"address must be text, got {type(text).__name__}")
    if len(text) > MAX_ADDRESS_CHARS:
        raise Rejected(
            "invalid_address", f"address is {len(text)} characters, the limit is {MAX_ADDRESS_CHARS}"
        )
    return text


@functools.cache
def _old_wards_by_name() -> dict[str, dict[str, list[OldUnit]]]:
    """province key -> ward name key (with and without its type word) -> old wards of that name."""
    index: dict[str, dict[str, list[OldUnit]]] = {}
    for unit in admin_data().old_units:
        full = _key(unit.name)
        names = {full}
        for prefix in _WARD_TYPES:
            if full.startswith(prefix) and len(full) > len(prefix) and not full[len(prefix) :].isdigit():
                names.add(full[len(prefix) :])  # "Đa Kao" alone, but never a bare "7"
        for name in names:
            index.setdefault(unit.province_key, {}).setdefault(name, []).append(unit)
    return index


def _legacy_by_name(text: str, province_key: str | None) -> AddressMatch | None:
    by_name = _old_wards_by_name()
    provinces = [province_key] if province_key else list(by_name)
    for part in reversed([p for p in text.split(",") if p.strip()]):
        key = _key(part)
        found = [u for p in provinces for u in by_name.get(p, {}).get(key, [])]
        if found:
            codes = tuple(sorted({c for u in found for c in u.new_codes}))
            olds = ", ".join(sorted({f"{u.name} ({u.district})" for u in found}))
            return AddressMatch("legacy", codes, f"old {olds}")
    return None


_HOUSE_AND_STREET = re.compile(r"^\s*(?:số\s*)?\d[\w/-]{0,12}\s+[^,]{1,80},")
_UNIT_WORDS = re.compile(r"phường|xã|thị trấn|quận|huyện|\bp\.|\bq\.|\bf\d", re.IGNORECASE)


def resolve_address(text: str) -> AddressMatch | None:
    """The ward(s) an address names, or None. ``text`` must already be checked.

    A leading house number and street ("123 Lê Lợi, ...") never decides the ward, and nearly every
    report has a different one: dropping it before the cache makes repeated places hit it."""
    head = _HOUSE_AND_STREET.match(text)
    if head and not _UNIT_WORDS.search(head.group(0)):
        text = text[head.end():]
    return _resolve(text)


def clear_address_cache() -> None:
    """Forget every resolved address (benchmarks measure the cold path)."""
    _resolve.cache_clear()
    _by_spelling_key.clear()


# Reports spell one place many ways (accents or none, P./Phường, TP.HCM/Thành phố Hồ Chí Minh);
# after normalize_address they share the accent-free key both parsers match on, so the parse
# (~150 us) runs once per place instead of once per spelling.
_by_spelling_key: dict[str, AddressMatch | None] = {}


@functools.lru_cache(maxsize=CACHE_SIZE)
def _resolve(text: str) -> AddressMatch | None:
    norm = normalize_address(text)
    key = _key(norm)
    if not key:
        return None
    if key in _by_spelling_key:
        return _by_spelling_key[key]
    if len(_by_spelling_key) >= CACHE_SIZE:
        _by_spelling_key.clear()  # a bound, not an eviction policy: real places number in the thousands
    found = _by_spelling_key[key] = _parse(norm)
    return found


def _parse(norm: str) -> AddressMatch | None:
    data = admin_data()
    old = parse_address(norm, mode=ParseMode.LEGACY, keep_street=False, level=3)
    if old.district_key and old.ward_key:
        unit = data.old_by_key.get(f"{old.province_key}_{old.district_key}_{old.ward_key}")
        if unit is not None:
            split = " (split)" if len(unit.new_codes) > 1 else ""
            return AddressMatch("legacy", unit.new_codes, f"old {unit.name}, {unit.district}{split}")
    new = parse_address(norm, mode=ParseMode.FROM_2025, keep_street=False, level=2)
    if new.ward_code:
        # An old address whose ward the old parser missed must not resolve to a new ward that
        # merely shares the name of its old *district or province* ("P.7, Q. Bình Thạnh" is not
        # "Phường Bình Thạnh"; "..., Bà Rịa - Vũng Tàu" is not "Phường Vũng Tàu") unless the
        # address names that ward with its type word.
        short = _key(str(new.short_ward or ""))
        old_names = (_key(str(old.short_district or "")), _key(str(old.short_province or "")))
        clashes = any(short and short in name for name in old_names)
        if not clashes or _key(str(new.ward)) in _key(norm):
            return AddressMatch("new", (str(new.ward_code),), f"{new.ward}, {new.province}")
    return _legacy_by_name(norm, old.province_key)
