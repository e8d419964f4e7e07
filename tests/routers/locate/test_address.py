"""Addresses in the new and the pre-merger format, abbreviated, unaccented, from vanished provinces."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from routers.exceptions import Rejected
from routers.locate.address import MAX_ADDRESS_CHARS, check_address, normalize_address, resolve_address

XUAN_HOA, BAN_CO, SAI_GON, BINH_TRUNG, TAN_DINH, BEN_THANH = (
    "27139",
    "27154",
    "26740",
    "27097",
    "26737",
    "26743",
)

# (address, kind, expected codes). Split old wards list every receiving ward.
CASES = [
    # the wards the city's own reports name, from new and old addresses
    ("Phường Xuân Hoà, TP.HCM", "new", (XUAN_HOA,)),
    ("P.7, Q.3, TP.HCM", "legacy", (XUAN_HOA,)),  # Phường 7 -> Võ Thị Sáu (2020) -> Xuân Hoà
    ("F7, Q3, HCM", "legacy", (XUAN_HOA,)),
    ("Phuong Vo Thi Sau, Quan 3, Ho Chi Minh", "legacy", (XUAN_HOA,)),
    ("Phường Bàn Cờ, Thành phố Hồ Chí Minh", "new", (BAN_CO,)),
    ("P.1, Q.3, TP.HCM", "legacy", (BAN_CO,)),
    ("Phường 4, Quận 3, TP.HCM", "legacy", (XUAN_HOA, BAN_CO)),  # split
    ("phuong sai gon, tp hcm", "new", (SAI_GON,)),
    ("123 Lê Lợi, P. Bến Nghé, Q.1, TP.HCM", "legacy", (SAI_GON,)),
    ("Phường Bình Trưng, TP.HCM", "new", (BINH_TRUNG,)),
    ("P. Bình Trưng Tây, TP. Thủ Đức, TP.HCM", "legacy", (BINH_TRUNG,)),
    ("Phường Bình Trưng Đông, Thành phố Thủ Đức, Hồ Chí Minh", "legacy", (BINH_TRUNG,)),
    # split wards named in the issue
    ("Phường Đa Kao, Quận 1, TP.HCM", "legacy", (TAN_DINH, SAI_GON)),
    ("Phường Đa Kao, TP.HCM", "legacy", (TAN_DINH, SAI_GON)),  # without its district
    ("P. Nguyễn Thái Bình, Q.1, TP.HCM", "legacy", (SAI_GON, BEN_THANH)),
    ("Phường Cửa Đông, Quận Hoàn Kiếm, Hà Nội", "legacy", ("00004", "00070")),
    # provinces that no longer exist
    ("Phường Phú Cường, TP. Thủ Dầu Một, Bình Dương", "legacy", ("25747",)),
    ("Xã Long Sơn, TP Vũng Tàu, Bà Rịa-Vũng Tàu", "legacy", ("26545",)),
    ("Xa Long Son, BR-VT", "new", ("26545",)),  # the new Xã Long Sơn took the old one's land
    ("Phường Cẩm Phô, TP. Hội An, Quảng Nam", "legacy", ("20410",)),
    # a new ward sharing an old district's name is only that ward when named as a ward
    ("Phường Bình Thạnh, TP.HCM", "new", ("26929",)),
    ("P.7, Q.Bình Thạnh, TP.HCM", "legacy", ("26944",)),
    ("Phường Thủ Đức, TP.HCM", "new", ("26824",)),
]


@pytest.mark.parametrize(("address", "kind", "codes"), CASES)
def test_address_table(address: str, kind: str, codes: tuple[str, ...]) -> None:
    match = resolve_address(address)
    assert match is not None, address
    assert (match.kind, match.codes) == (kind, tuple(sorted(codes)))


@pytest.mark.parametrize(
    "address",
    [
        "asdf qwer", "Hà Nội", "TX. Tân Uyên, Bình Dương", "Phường Không Tồn Tại, TP.HCM", "!!!",
        # ward numbers are whole numbers, never a prefix
        "Phường 50, Quận 3, TP.HCM", "P.99, Q.4, TP.HCM", "P.7, Q42, TP.HCM",
        # a unit of another province
        "Phuong Hang Bot, Quan Dong Da, TP.HCM", "Phường Bến Thành, Hà Nội",
        # a district without a ward
        "Quận 1, TP.HCM", "Q. Ba Đình, Hà Nội",
        # a number alone needs its district
        "Phường 7, TP.HCM",
    ],
)
def test_no_fuzzy_guess(address: str) -> None:
    assert resolve_address(address) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        # the province is never read as a ward ("Long An" is not the old Xã Long An)
        ("Xã Long Thạnh, Long An", "old Xã Long Thạnh (Huyện Thủ Thừa)"),
        # ward + province with dashes, house prefixes, "tp", "x.", and parts joined by spaces
        ("tổ 5 - xã yên bình - thành phố hà nội", "old Xã Yên Bình (Huyện Thạch Thất)"),
        ("x. Yên Bình, tp Hà Nội", "old Xã Yên Bình (Huyện Thạch Thất)"),
        ("phuong 13 quan phu nhuan tphcm", "old Phường 13, Quận Phú Nhuận"),
        ("P17 Binh Thanh HCM", "old Phường 17, Quận Bình Thạnh"),
        # township abbreviations with old province names
        ("TT Dầu Tiếng, Bình Dương", "old Thị trấn Dầu Tiếng (Huyện Dầu Tiếng)"),
        # an old ward of an old province, named without its district
        ("số 51, P.An Thạnh, Bình Dương", "old Phường An Thạnh (Thành phố Thuận An)"),
        # the city by its old name or in English
        ("P. Bến Nghé, Q.1, Sài Gòn", "old Phường Bến Nghé, Quận 1"),
        ("Ward 7, District 3, Ho Chi Minh City", "old Phường Võ Thị Sáu, Quận 3"),
        ("Phường Linh Trung, Quận Thủ Đức, TP.HCM", "old Phường Linh Trung, Thành phố Thủ Đức"),
    ],
)
def test_issue_failure_classes(address: str, expected: str) -> None:
    match = resolve_address(address)
    assert match is not None and len(match.codes) == 1, (address, match)
    assert match.detail == expected


def test_a_commune_that_became_a_ward_is_found_by_its_new_type() -> None:
    commune = resolve_address("Xã Long Thành, Đồng Nai")
    assert commune is not None and resolve_address("Phường Long Thành, Đồng Nai") == commune
    assert resolve_address("Phường Hoa Sen, Đồng Nai") is None


def test_split_old_ward_named_alone_is_ambiguous() -> None:
    match = resolve_address("P. Bình Hưng Hòa A")
    assert match is not None and match.kind == "legacy" and len(match.codes) == 2


def test_tone_mark_placement_does_not_matter() -> None:
    assert resolve_address("Phường Xuân Hòa, TP.HCM") == resolve_address("Phường Xuân Hoà, TP.HCM")
    assert resolve_address("P. Bình Hưng Hoà A, Q. Bình Tân") == resolve_address("P. Bình Hưng Hòa A, Q. Bình Tân")


def test_normalize_expands_old_abbreviations() -> None:
    assert normalize_address("P.7, Q.3, TP.HCM") == "Phường 7, Quận 3, Thành phố Hồ Chí Minh"
    assert normalize_address("TT. Củ Chi, H. Củ Chi") == "Thị trấn Củ Chi, Huyện Củ Chi"
    assert normalize_address("F12,  Q10\t, TX. Dĩ An") == "Phường 12, Quận 10 , Thị xã Dĩ An"
    assert normalize_address("x. Yên Bình, tp Hà Nội") == "Xã Yên Bình, Thành phố Hà Nội"


def test_long_and_non_text_addresses_are_rejected() -> None:
    with pytest.raises(
        Rejected, match=f"invalid_address: address is 501 characters, the limit is {MAX_ADDRESS_CHARS}"
    ):
        check_address("x" * 501)
    with pytest.raises(Rejected, match="invalid_address: address must be text, got int"):
        check_address(42)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("old_name", "province_code"),
    [("Phường Đa Kao", "79"), ("Phường Nguyễn Thái Bình", "79"), ("Phường Cửa Đông", "01")],
)
def test_split_wards_match_published_lineage(
    shared_boundaries: Path, old_name: str, province_code: str
) -> None:
    """The candidates are exactly the new wards whose published predecessors name the old ward."""
    with open(shared_boundaries / "lineage-2025.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["province_code"] == province_code]
    published = {r["code"] for r in rows if old_name in r["predecessors"]}
    assert len(published) >= 2
    city = "TP.HCM" if province_code == "79" else "Hà Nội"
    match = resolve_address(f"{old_name}, {city}")
    assert match is not None and set(match.codes) == published


def test_spellings_of_one_place_are_parsed_once(monkeypatch) -> None:
    from routers.locate import address

    address.clear_address_cache()
    parsed: list[str] = []
    real_parse = address._parse
    monkeypatch.setattr(address, "_parse", lambda norm: parsed.append(norm) or real_parse(norm))
    spellings = ["Phường 7, Quận 3, TP.HCM", "P.7, Q.3, Thành phố Hồ Chí Minh", "Phuong 7, Quan 3, TP. Ho Chi Minh",
                 "F7, Q3, TPHCM"]
    answers = {address.resolve_address(text) for text in spellings}
    assert len(answers) == 1 and None not in answers
    assert len(parsed) == 1
    address.resolve_address("Phường 14, Quận 3, TP.HCM")  # another place: parsed again
    assert len(parsed) == 2
