"""Vietnamese report descriptions, by category (what 1022 callers actually say, shortened)."""

from __future__ import annotations

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "flooding": (
        "Nước ngập sâu khoảng 40cm, xe máy chết máy hàng loạt.",
        "Mưa lớn, đường ngập nặng, nước tràn vào nhà dân.",
        "Cống thoát nước bị nghẹt, nước ngập cả đoạn đường.",
    ),
    "fire": ("Có khói đen bốc lên từ dãy nhà trọ.", "Cháy tủ điện trên cột, có tiếng nổ lớn."),
    "traffic_accident": ("Va chạm giữa xe máy và ô tô, có người bị thương.", "Tai nạn liên hoàn ở giao lộ."),
    "traffic_congestion": ("Kẹt xe kéo dài hơn 1km, đèn tín hiệu không hoạt động.",),
    "road_damage": ("Ổ gà lớn giữa đường rất nguy hiểm cho xe máy.", "Nắp hố ga bị mất."),
    "street_light": ("Cả đoạn đường không có đèn chiếu sáng.",),
    "fallen_tree": ("Cây xanh bật gốc chắn ngang đường.", "Nhánh cây lớn gãy đè lên dây điện."),
    "water_supply": ("Mất nước sinh hoạt từ sáng đến giờ.", "Vỡ đường ống nước, nước chảy tràn."),
    "power_outage": ("Mất điện cả khu phố hơn 3 tiếng.",),
    "pollution": ("Khói bụi từ công trình gây ô nhiễm, khó thở.", "Mùi hôi thối từ kênh rạch."),
    "waste": ("Rác thải tồn đọng nhiều ngày chưa được thu gom.", "Đổ trộm xà bần ra lề đường."),
    "noise": ("Hát karaoke quá 22 giờ gây ồn ào.", "Công trình thi công ban đêm gây tiếng ồn."),
    "urban_order": ("Lấn chiếm vỉa hè để buôn bán.", "Đậu xe trái phép trước cổng trường."),
    "illegal_construction": ("Xây dựng sai phép, lấn ra hành lang an toàn.",),
    "security": ("Nhóm thanh niên tụ tập đánh nhau.", "Trộm xe máy trong hẻm."),
    "health": ("Có người ngất xỉu trên đường, cần cấp cứu.",),
    "food_safety": ("Quán ăn mất vệ sinh, nghi ngộ độc thực phẩm.",),
    "other": ("Kiến nghị khác của người dân.",),
}

FAMILY_NAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ")
GIVEN_NAMES = ("Văn An", "Thị Bình", "Minh Châu", "Quốc Dũng", "Thị Hoa", "Thanh Hùng", "Ngọc Lan", "Gia Huy")
