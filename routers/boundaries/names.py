"""Comparing Vietnamese unit names: tone-mark placement and accents.

Vietnamese has two conventions for where a tone mark sits in a syllable with two vowels: "Hoà"
(old style, the mark on the ``a``) and "Hòa" (new style, on the ``o``); "Thuỵ"/"Thụy",
"Khoẻ"/"Khỏe". The same ward is written both ways (the official lists are not
consistent), so names compare by :func:`tone_key`, which keeps every letter, every vowel mark
(â, ă, ê, ô, ơ, ư, đ) and the tone of each syllable, but not the tone's position in it.
:func:`plain_key` drops every accent (addresses typed without diacritics).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from unidecode import unidecode

# Combining marks that carry a syllable's tone (huyền, sắc, hỏi, ngã, nặng).
_TONES = frozenset("\u0300\u0301\u0309\u0303\u0323")


def tone_key(text: str) -> str:
    """The letters without tones (spaces and punctuation dropped), then the tones in order: a
    syllable has one tone, so its position inside the syllable no longer matters
    (``tone_key("Phường Xuân Hoà") == tone_key("phường xuân hòa")``), with or without spaces."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    base = "".join(c for c in decomposed if c not in _TONES and (c.isalnum() or unicodedata.combining(c)))
    return unicodedata.normalize("NFC", base) + "|" + "".join(c for c in decomposed if c in _TONES)


_NOT_KEY = re.compile(r"[^0-9a-z]")
_D = str.maketrans({"đ": "d", "Đ": "d"})


@functools.lru_cache(maxsize=65_536)
def plain_key(text: str) -> str:
    """Accent-free, lower-case, letters and digits only: ``plain_key("Phường Đa Kao") == "phuongdakao"``."""
    if not text.isascii():
        stripped = "".join(c for c in unicodedata.normalize("NFD", text.translate(_D)) if not unicodedata.combining(c))
        text = stripped if stripped.isascii() else unidecode(stripped)
    return _NOT_KEY.sub("", text.lower())


def has_accents(text: str) -> bool:
    return any(ord(c) > 127 and c.isalpha() for c in text)


def same_name(a: str, b: str) -> bool:
    return tone_key(a) == tone_key(b)
