"""Staged table writes: reads see them, flush applies them once per key and returns changelog
records serialized as Faust's own send_changelog would (a real Faust table, no broker)."""

from __future__ import annotations

import faust
import orjson

from streams.lifecycle.staged import StagedTable


def table() -> faust.Table:
    app = faust.App("test-staged", broker="kafka://127.0.0.1:9", store="memory://")
    return app.Table("lifecycle-test", default=None)


def test_reads_see_staged_writes_and_flush_applies_the_last_value_per_key() -> None:
    real = table()
    real.data["kept"] = {"v": 0}
    real.data["gone"] = [1, 2]
    staged = StagedTable(real)
    staged["a"] = {"v": 1}
    staged["a"] = {"v": 2}
    del staged["gone"]
    assert staged.get("a") == {"v": 2} and "gone" not in staged and staged.get("gone") is None
    assert sorted(staged) == ["a", "kept"] and len(staged) == 2
    assert "a" not in real.data  # nothing reaches the table before flush
    records = staged.flush(3)
    assert real.data["a"] == {"v": 2} and "gone" not in real.data and real.data["kept"] == {"v": 0}
    topic = real.changelog_topic.get_topic_name()
    assert [(r.topic, r.partition) for r in records] == [(topic, 3), (topic, 3)]
    # keys as Faust's own changelog send would serialize them (staging order: "a", then "gone")
    assert [r.key for r in records] == [real.changelog_topic.prepare_key(k, real.key_serializer)[0] for k in ("a", "gone")]
    by_key = {orjson.loads(r.key): r.value for r in records}
    # the bytes Faust's own changelog send would carry (json key and value serializers)
    assert by_key == {"a": real.changelog_topic.prepare_value({"v": 2}, real.value_serializer)[0], "gone": None}
    assert orjson.loads(by_key["a"]) == {"v": 2}
    assert staged.flush(3) == []


def test_discard_forgets_staged_writes() -> None:
    real = table()
    staged = StagedTable(real)
    staged["a"] = 1
    staged.discard()
    assert "a" not in staged and staged.flush(0) == [] and "a" not in real.data


def test_changelog_records_hold_bytes_their_own_length() -> None:
    """Faust's json codec is orjson's, whose results keep a 4 KiB buffer at least: a batch's
    ~10,000 records would hold ~40 MB for ~2 MB of JSON until the producer copies them."""
    import tracemalloc

    real = table()
    staged = StagedTable(real)
    values = {f"ward-{n}/inc-{n}": {"id": f"inc-{n}", "status": "routed", "version": n} for n in range(200)}
    for key, value in values.items():
        staged[key] = value
    tracemalloc.start()
    try:
        records = staged.flush(0)
        with_records = tracemalloc.get_traced_memory()[0]
        content = sum(len(r.key) + len(r.value) for r in records)
        del records
        freed = with_records - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert freed / len(values) < content / len(values) + 200  # the record's tuple and two bytes headers
