"""The batched simulator producer: its pacing, and that what the broker holds at every position it
reports is the scenario's message, on the partition kafka-python would have chosen (per-key order)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from streams.simulator.batched import produce_batched
from streams.simulator.run import MAX_BURST_S, build_scenario, due_now
from streams.simulator.scenario import Message


def test_the_pace_is_kept_over_the_run_and_a_late_tick_pays_its_debt() -> None:
    assert due_now(0.0, 1000, 0) == 1
    assert due_now(0.5, 1000, 1) == 500  # 0.5 s in: 501 due, 1 out
    assert due_now(0.5, 1000, 501) == 0
    assert due_now(0.5, 1000, 600) == 0  # ahead of the pace: nothing, never negative
    assert due_now(10.0, 1000, 2000) == int(1000 * MAX_BURST_S)  # a 8 s stall: one second of traffic at once
    assert due_now(3.0, 1000, 0, count=40) == 40


def test_every_reported_position_holds_the_scenarios_message(embedded_stack, data_dir: Path, topics_ready) -> None:
    settings = dataclasses.replace(embedded_stack.settings, data_dir=data_dir)
    sim = build_scenario(settings, "hcmc", "normal", seed=21)
    sent: list[tuple[Message, int, int]] = []
    stats = produce_batched(settings, sim, rate=3000, count=900, on_sent=lambda m, p, o: sent.append((m, p, o)))
    assert stats.produced == 900 == len(sent) == sum(stats.by_topic.values())
    assert len({(m.topic, p, o) for m, p, o in sent}) == 900  # no two messages at one position

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        wanted = {(m.topic, p) for m, p, _ in sent}
        consumer.assign([TopicPartition(t, p) for t, p in wanted])
        held: dict[tuple[str, int, int], tuple[bytes, bytes]] = {}
        for tp in consumer.assignment():
            offsets = [o for m, p, o in sent if (m.topic, p) == (tp.topic, tp.partition)]
            consumer.seek(tp, min(offsets))
        for _ in range(50):
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    held[(tp.topic, tp.partition, r.offset)] = (r.key, r.value)
            if all((m.topic, p, o) in held for m, p, o in sent):
                break
    finally:
        consumer.close()
    for message, partition, offset in sent:
        assert held[(message.topic, partition, offset)] == (message.key, message.value)
    for topic in {m.topic for m, _, _ in sent}:
        n = len(consumer_partitions(settings.kafka_bootstrap or "", topic))
        for message, partition, _ in sent:
            if message.topic == topic:
                assert partition == (murmur2(message.key) & 0x7FFFFFFF) % n  # kafka-python's placement


def consumer_partitions(bootstrap: str, topic: str) -> set[int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return consumer.partitions_for_topic(topic) or set()
    finally:
        consumer.close()
