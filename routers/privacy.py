"""Personal data protection (Decree 13/2023): mask phone numbers and reporter names wherever
text leaves the owning ward's topic (other topics' descriptions, dead-letter previews and errors,
logs, the dashboard).

A phone number is personal in every format people write it, so free text is searched by meaning,
with libphonenumber's matcher (the ``phonenumbers`` port), not by one pattern: Vietnamese mobiles
and landlines with any separators, ``+84``/``84``/``0`` prefixes, parentheses, slashes, dots,
full-width digits, and foreign numbers in international form.

* **Leniency POSSIBLE**, chosen on purpose: VALID and stricter levels refuse numbers outside the
  assigned ranges (old 11-digit mobiles, a mistyped digit) and numbers glued to a letter
  (``SĐT0903123456``), which would then pass in clear. POSSIBLE only asks for a possible length:
  it also masks some amounts written with dot groups (``1.500.000``); on a non-owner's copy that
  is the safe error.
* **A cheap pre-filter** keeps the hot path fast: the matcher runs only on text holding seven
  digits (any script's decimal digits) close together; most descriptions hold none.
* **A backstop** masks what the matcher refuses but is a number all the same: ``+`` and eight or
  more digits, or a run of ten or more digits (a digit too many, glued to other digits).

A masked number keeps its separators and its last two digits: ``(***) ***-**34``.

Email addresses (``reporter.email``, Open311's ``email``, and typed into descriptions) are personal
too: :func:`mask_email` finds them with one RE2 pattern (linear time whatever the input, no
backtracking), full-width ``＠``/``．`` and Vietnamese letters included, and keeps only the first
character and the top-level domain: ``b***@***.vn``. :func:`mask_contacts` masks both in free text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import re2
from phonenumbers import Leniency, PhoneNumberMatcher

REGION = "VN"  # numbers written without a country code are read as Vietnamese
LENIENCY = Leniency.POSSIBLE
KEPT_DIGITS = 2
MASK = "*"
MASKED_NAME = "***"

# Seven digits, each at most four characters from the next: no phone number is shorter (a
# Vietnamese landline without its area code has seven or eight). ``\d`` is every script's decimal
# digit, full-width ones included. Bounded repetition: linear in the input.
_MAYBE_PHONE = re.compile(r"\d(?:\D{0,4}\d){6}")
# What the matcher refuses but is a number all the same: an international number with slashes
# (``+33/6/10/00/00/00`` looks like a date to it), and ten or more digits in a row (a number with a
# digit too many, or glued to the next; also a citizen id). Separated digit groups without a ``+``
# are left to the matcher: dates and times (``01.06.2026 18:00``) stay readable.
_BACKSTOP = re.compile(r"\+[\s(]{0,3}\d(?:[\s./\-()]{0,3}\d){7,}|\d{10,}")
_DIGIT = re.compile(r"\d")
# One character for one (offsets stay valid): full-width forms to ASCII, and the separators people
# type that libphonenumber does not know as such.
_UNKNOWN_SEPARATORS = {"_": "-", "\u00b7": "-", "\u2022": "-", "|": "-"}
_SEPARATORS = str.maketrans({
    **{chr(code): _UNKNOWN_SEPARATORS.get(chr(code - 0xFEE0), chr(code - 0xFEE0)) for code in range(0xFF01, 0xFF5F)},
    "\u3000": " ", **_UNKNOWN_SEPARATORS,
})
# Shapes the matcher takes for possible numbers but nobody writes a phone number as.
_NOT_A_PHONE = re.compile(
    r"\d{1,3}\.\d{4,6}"  # a decimal fraction: a coordinate, 106.7009
    r"|(?:[12]\d{3}-[01]\d-[0-3]\d|[0-3]?\d([./-])[01]?\d\1(?:[12]\d)?\d\d)(?: [0-2]?\d)?"  # a date (and hour)
    r"|[1-9]\d{0,2}(?:\.\d{1,3}){3}"  # an IPv4 address, 10.244.1.17
)
_ALL_DIGITS = re.compile(r"\d+")
_HEX_LETTERS = frozenset("abcdefABCDEF")
_LETTER = re.compile(r"[^\W\d_]")
# local part @ domain with at least one dot; RE2: linear on any input (Python's re would be
# quadratic on a long run of letters without an @).
_EMAIL = re2.compile(r"([\p{L}\p{N}_%+\-][\p{L}\p{N}._%+\-]*)[@＠][\p{L}\p{N}\-]+(?:[.．][\p{L}\p{N}\-]+)*[.．]([\p{L}\p{N}\-]+)")
_NAME_FIELD = re.compile(r'("name"\s*:\s*")([^"\\]{0,200})(")')


def _hide_digits(text: str) -> str:
    """Every digit of ``text`` but the last :data:`KEPT_DIGITS` replaced by :data:`MASK`."""
    total = len(_DIGIT.findall(text))
    if total <= KEPT_DIGITS:
        return MASK * len(text) if total else text
    seen = 0

    def one(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match.group(0) if seen > total - KEPT_DIGITS else MASK

    return _DIGIT.sub(one, text)


def _phone_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in PhoneNumberMatcher(text, REGION, leniency=LENIENCY):
        letter = _LETTER.search(match.raw_string)
        if letter is not None:
            # the matcher reads a letter as an extension mark (``x``, ``ext``): a motorbike plate
            # ``59-X1 123.45`` would be masked. Only what comes before the letter can be a number.
            head = match.raw_string[:letter.start()]
            spans.extend(_phone_spans(head, offset + match.start) if _MAYBE_PHONE.search(head) else ())
        elif not _NOT_A_PHONE.fullmatch(match.raw_string) and not _in_hex(text, match.start, match.end):
            spans.append((offset + match.start, offset + match.end))
    return spans


def _in_hex(text: str, start: int, end: int) -> bool:
    """Bare digits glued to a hex letter are part of an id or a hash (``4c1a-123456789abc``); a
    longer number there is still caught by the backstop."""
    return bool(_ALL_DIGITS.fullmatch(text, start, end)) and (
        (start > 0 and text[start - 1] in _HEX_LETTERS) or (end < len(text) and text[end] in _HEX_LETTERS))


def _splice(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the digits of each span hidden (same length: offsets stay valid)."""
    out: list[str] = []
    last = 0
    for start, end in spans:
        out += (text[last:start], _hide_digits(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def mask_phone(text: str) -> str:
    """Free text with every phone number in it masked (see the module doc)."""
    if not text or _MAYBE_PHONE.search(text) is None:
        return text
    masked = _splice(text, _phone_spans(text.translate(_SEPARATORS)))
    return _splice(masked, [m.span() for m in _BACKSTOP.finditer(masked.translate(_SEPARATORS))])


def _masked_email(match: Any) -> str:  # an re2 match
    return f"{match.group(1)[0]}***@***.{match.group(2)}"


def mask_email(text: str) -> str:
    """Free text with every email address in it masked: ``binh.tran@gmail.com`` -> ``b***@***.com``."""
    if not text or ("@" not in text and "＠" not in text):
        return text
    return _EMAIL.sub(_masked_email, text)


def mask_email_field(email: object) -> str | None:
    """A structured email field for anyone but the owning ward; ``None`` stays ``None``."""
    if email is None:
        return None
    masked_text = mask_email(str(email))
    return masked_text if masked_text != str(email) else "***"


def mask_contacts(text: str) -> str:
    """Free text with every email address and phone number in it masked."""
    return mask_phone(mask_email(text))


def mask_phone_field(phone: object) -> str | None:
    """A structured phone field (``reporter.phone``) for anyone but the owning ward: whatever its
    format, only its last two digits stay, one ``*`` per other digit; ``None`` stays ``None``."""
    if phone is None:
        return None
    digits = [str(unicodedata.digit(c)) for c in str(phone) if c.isdecimal()]
    if len(digits) <= KEPT_DIGITS * 2:  # too short to keep anything without giving most of it away
        return MASK * max(len(digits), 3)
    return MASK * (len(digits) - KEPT_DIGITS) + "".join(digits[-KEPT_DIGITS:])


def mask_personal_data(text: str) -> str:
    """Email addresses and phone numbers masked (last two digits kept); JSON ``"name"`` values and
    Frigate's names of people and vehicles hidden."""
    return _NAME_FIELD.sub(r"\1" + MASKED_NAME + r"\3", mask_contacts(mask_frigate_names(text)))


def masked_preview(raw: bytes, chars: int = 300) -> str:
    """The first ``chars`` characters of ``raw`` as masked text. Masked before it is cut: a number
    cut in two at the end would keep too few digits for the matcher and pass in clear. Four bytes
    a character at most, so a number (32 characters) crossing the decoded window lies past the cut."""
    return mask_personal_data(raw[: chars * 4 + 128].decode("utf-8", "replace"))[:chars]


# Frigate's names of people and vehicles in raw JSON text: ``"sub_label": ["John Smith", 0.79]``,
# ``"sub_labels": ["Bob"]``, ``"recognized_license_plate": "51F-123.45"``. A value cut short by a
# preview's length limit is masked too (it may run to the end of the text).
_FRIGATE_NAMES = re.compile(
    r'("(?:sub_labels?|recognized_license_plate)"\s*:\s*)(\[[^\]]{0,2000}(?:\]|$)|"(?:[^"\\]|\\.){0,500}(?:"|$))'
)


def mask_frigate_names(text: str) -> str:
    """Frigate ``sub_label``/``sub_labels``/``recognized_license_plate`` values -> ``"***"``
    (dead-letter previews, logs). ``null`` stays: it names nobody."""
    return _FRIGATE_NAMES.sub(r'\1"***"', text)


def masked(personal: dict[str, object]) -> dict[str, str]:
    """What the non-owning copies of an event show of its personal attributes: that they exist."""
    return dict.fromkeys(personal, "***")
