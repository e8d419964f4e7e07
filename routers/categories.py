"""The vocabulary of intake events: 1022 report categories, camera labels, sensor kinds,
and the family each belongs to (correlation groups reports, detections and readings by family).
"""

from __future__ import annotations

from types import MappingProxyType

# 1022 portal/hotline categories -> (Vietnamese label, family)
REPORT_CATEGORIES = MappingProxyType({
    "flooding": ("Ngập nước", "flood"),
    "fire": ("Cháy nổ", "fire"),
    "traffic_accident": ("Tai nạn giao thông", "traffic"),
    "traffic_congestion": ("Ùn tắc giao thông", "traffic"),
    "road_damage": ("Hư hỏng mặt đường", "infrastructure"),
    "street_light": ("Chiếu sáng công cộng", "infrastructure"),
    "fallen_tree": ("Cây xanh gãy đổ", "infrastructure"),
    "water_supply": ("Cấp nước", "utilities"),
    "power_outage": ("Mất điện", "utilities"),
    "pollution": ("Ô nhiễm môi trường", "air"),
    "waste": ("Rác thải, vệ sinh", "environment"),
    "noise": ("Tiếng ồn", "order"),
    "urban_order": ("Trật tự đô thị, lấn chiếm vỉa hè", "order"),
    "illegal_construction": ("Xây dựng trái phép", "order"),
    "security": ("An ninh trật tự", "security"),
    "health": ("Y tế", "health"),
    "food_safety": ("An toàn thực phẩm", "health"),
    "other": ("Khác", "other"),
})

CAMERA_LABELS = MappingProxyType({
    "flooding": "flood",
    "fire_smoke": "fire",
    "accident": "traffic",
    "congestion": "traffic",
    "illegal_parking": "order",
    "crowd": "security",
})

# sensor kind -> (canonical unit, family, accepted units with their factor to the canonical unit)
SENSOR_KINDS = MappingProxyType({
    "water_level": ("m", "flood", {"m": 1.0, "cm": 0.01, "mm": 0.001}),
    "rainfall": ("mm/h", "flood", {"mm/h": 1.0, "mm": 1.0}),
    "tide": ("m", "flood", {"m": 1.0, "cm": 0.01}),
    "pm25": ("ug/m3", "air", {"ug/m3": 1.0, "µg/m3": 1.0, "μg/m3": 1.0}),
})


def family_of(source: str, kind: str) -> str:
    """The correlation family of an event kind (``flood``, ``fire``, ``traffic``, ...)."""
    if source == "report":
        return REPORT_CATEGORIES.get(kind, ("", "other"))[1]
    if source == "camera":
        return CAMERA_LABELS.get(kind, "other")
    return SENSOR_KINDS[kind][1] if kind in SENSOR_KINDS else "other"
