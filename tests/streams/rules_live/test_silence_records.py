"""Records of ioc.config.silences as a worker applies them: latest version wins, tombstones
forget, records that are not valid silences are counted and skipped (no broker needed)."""

from __future__ import annotations

import orjson

from routers.rules.silences import SilenceBook, new_silence
from streams import metrics
from streams.rules_live.follow import RulesRecord
from streams.rules_live.silences import apply_to


def record(offset: int, key: str, value: bytes | None) -> RulesRecord:
    return RulesRecord(offset, key.encode(), value)


def test_latest_version_wins_tombstones_forget_and_bad_records_are_counted() -> None:
    silence = new_silence(["device=cam-1"], starts_at=100, ends_at=200, created_by="an", comment="repair",
                          silence_id="s1")
    book = SilenceBook()
    apply_to(book, record(0, "s1", orjson.dumps(silence.to_json())))
    apply_to(book, record(1, "s1", orjson.dumps(silence.expired_at(150).to_json())))
    assert book.get("s1").ends_at == 150
    apply_to(book, record(2, "s1", orjson.dumps(silence.to_json())))  # an older version replayed: ignored
    assert book.get("s1").ends_at == 150

    rejected = metrics.REGISTRY.get_sample_value("ioc_silences_rejected_total") or 0.0
    bad = {**silence.to_json(), "id": "s2", "match": ["category=fier"]}
    apply_to(book, record(3, "s2", orjson.dumps(bad)))
    apply_to(book, record(4, "s3", b"not json"))
    assert book.get("s2") is None and book.get("s3") is None
    assert metrics.REGISTRY.get_sample_value("ioc_silences_rejected_total") == rejected + 2

    apply_to(book, record(5, "s1", None))
    assert book.get("s1") is None
