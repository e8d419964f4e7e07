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
