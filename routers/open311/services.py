"""The 1022 report categories as GeoReport v2 services (Vietnamese names, descriptions and groups).

``service_code`` is the category itself (``flooding``), so a service code is exactly what
``ioc.in.reports`` carries in ``category``: one vocabulary, defined in :mod:`routers.categories`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from routers.categories import REPORT_CATEGORIES
from routers.open311.errors import not_found

# family -> the group a citizen app shows the service under
GROUPS = MappingProxyType({
    "flood": "Ngập úng, thoát nước",
    "fire": "Cháy nổ, cứu hộ",
    "traffic": "Giao thông",
    "infrastructure": "Hạ tầng đô thị",
    "utilities": "Điện, nước",
    "air": "Môi trường",
    "environment": "Môi trường",
    "order": "Trật tự đô thị",
    "security": "An ninh trật tự",
    "health": "Y tế, an toàn thực phẩm",
    "other": "Khác",
})

DESCRIPTIONS = MappingProxyType({
    "flooding": "Đường, hẻm, nhà dân bị ngập; cống thoát nước bị tắc, triều cường tràn bờ.",
    "fire": "Cháy nhà, cháy xe, khói lửa, rò rỉ khí gas. Khẩn cấp: gọi ngay 114.",
    "traffic_accident": "Va chạm, tai nạn giao thông cần lực lượng chức năng đến hiện trường. Khẩn cấp: gọi 113, 115.",
    "traffic_congestion": "Kẹt xe, ùn tắc kéo dài, đèn tín hiệu giao thông hỏng.",
    "road_damage": "Ổ gà, sụt lún, nắp hố ga hư hỏng hoặc mất, mặt đường bị đào bới không hoàn trả.",
    "street_light": "Đèn đường không sáng, sáng ban ngày, trụ đèn nghiêng đổ, dây điện chiếu sáng hở.",
    "fallen_tree": "Cây xanh gãy, đổ, nghiêng nguy hiểm, nhánh cây chạm dây điện.",
    "water_supply": "Mất nước, nước yếu, nước đục, bể ống cấp nước.",
    "power_outage": "Mất điện khu vực, dây điện đứt, trạm biến áp có sự cố.",
    "pollution": "Khói bụi, mùi hôi, xả thải gây ô nhiễm không khí, nguồn nước.",
    "waste": "Rác tồn đọng, đổ rác, xà bần không đúng nơi quy định, vệ sinh công cộng.",
    "noise": "Tiếng ồn kéo dài từ công trình, karaoke, cơ sở sản xuất.",
    "urban_order": "Lấn chiếm vỉa hè, lòng đường, họp chợ tự phát, quảng cáo sai quy định.",
    "illegal_construction": "Xây dựng không phép, sai phép, lấn chiếm đất công.",
    "security": "Gây rối trật tự công cộng, trộm cắp, tụ tập đông người. Khẩn cấp: gọi 113.",
    "health": "Dịch bệnh, vệ sinh môi trường y tế, cơ sở y tế hoạt động sai quy định.",
    "food_safety": "Thực phẩm không rõ nguồn gốc, ngộ độc thực phẩm, cơ sở ăn uống mất vệ sinh.",
    "other": "Phản ánh khác về đô thị, dân sinh chưa thuộc các nhóm trên.",
})


def service(code: str) -> dict[str, Any]:
    """One entry of ``services.json``."""
    name, family = REPORT_CATEGORIES[code]
    return {
        "service_code": code,
        "service_name": name,
        "description": DESCRIPTIONS[code],
        "metadata": False,  # no extra attributes: the definition lists none
        "type": "realtime",  # a POST answers with the service_request_id at once
        "keywords": ",".join((code.replace("_", " "), family)),
        "group": GROUPS[family],
    }


def service_list() -> list[dict[str, Any]]:
    return [service(code) for code in REPORT_CATEGORIES]


def service_definition(code: str) -> dict[str, Any]:
    """``services/{code}.json``: the categories have no extra attributes (``metadata`` is false)."""
    if code not in REPORT_CATEGORIES:
        raise not_found("unknown_service_code", f"service_code {code[:64]!r} is not offered here; see services.json")
    return {"service_code": code, "attributes": []}
