"""Personal data protection (Decree 13/2023): mask phone numbers and reporter names wherever
text leaves the owning ward's topic (other topics' descriptions, dead-letter previews, logs, the
dashboard)."""

from __future__ import annotations

import re

# Vietnamese mobile/landline numbers, with or without +84, spaces, dots or dashes. Bounded: no
# nested quantifiers, so the scan is linear in the input.
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")
_NAME_FIELD = re.compile(r'("name"\s*:\s*")([^"\\]{0,200})(")')


def mask_phone(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(0)[:3] + "*" * max(len(m.group(0)) - 5, 0) + m.group(0)[-2:], text)


def mask_personal_data(text: str) -> str:
    """Phone numbers keep their first 3 and last 2 digits; JSON ``"name"`` values are hidden."""
    return _NAME_FIELD.sub(r"\1***\3", mask_phone(text))
