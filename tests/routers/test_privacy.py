from __future__ import annotations

import pytest

from routers.privacy import mask_personal_data, mask_phone


@pytest.mark.parametrize("phone", ["0903123456", "+84903123456", "84 903 123 456", "0903.123.456", "028-3829-1234"])
def test_phone_numbers_are_masked(phone: str) -> None:
    masked = mask_phone(f"gọi {phone} ngay")
    digits = "".join(ch for ch in phone if ch.isdigit())
    assert digits not in "".join(ch for ch in masked if ch.isdigit())
    assert "*" in masked


def test_names_in_json_are_masked_and_other_text_kept() -> None:
    text = '{"reporter": {"name": "Nguyễn Văn An", "phone": "0903123456"}, "category": "fire"}'
    masked = mask_personal_data(text)
    assert "Nguyễn" not in masked and "0903123456" not in masked
    assert '"category": "fire"' in masked


def test_long_input_is_handled_quickly() -> None:
    mask_personal_data("0" * 200_000 + "a" * 200_000)  # bounded pattern: no catastrophic backtracking
