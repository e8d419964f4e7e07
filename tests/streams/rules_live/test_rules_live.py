"""Hot reload on the real embedded broker: catch-up from the beginning, atomic switches, invalid
versions refused while the running version stays; ``ioc rules apply`` and ``ioc record``."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from cli import main
from routers import topics
from routers.rules import default_rules_text, default_ruleset, load_ruleset
from streams import metrics
from streams.rules_live.active import ActiveRules
from streams.rules_live.follow import RulesFollower
from streams.rules_live.publish import publish_rules

pytestmark = pytest.mark.integration


def make_topic(bootstrap: str, name: str, compact: bool = True) -> str:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="rules-live-test")
    try:
        configs = {"cleanup.policy": "compact"} if compact else {}
        admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)])
    finally:
        admin.close()
    return name


def version_text(version: str) -> str:
    return default_rules_text().replace('version: "2026-11-22.1"', f'version: "{version}"')


def rejected() -> float:
    return metrics.REGISTRY.get_sample_value("ioc_rules_rejected_total") or 0.0


def info_version() -> str | None:
    for family in metrics.REGISTRY.collect():
        if family.name == "ioc_rules":
            for sample in family.samples:
                return sample.labels.get("version")
    return None


async def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


def test_follower_catches_up_switches_and_refuses_invalid(kafka_bootstrap: str) -> None:
    topic = make_topic(kafka_bootstrap, f"test.rules.{uuid.uuid4().hex[:8]}")
    v1 = load_ruleset(version_text("live-1"), "v1.yaml")
    publish_rules(kafka_bootstrap, v1, "alice@ops", topic=topic)
    # an invalid version published straight to the topic (bypassing `ioc rules apply`)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, key=b"active", value=b"version: broken\nroute: [", headers=[("applied-by", b"mallory")])
    producer.flush()
    before_rejected = rejected()

    async def scenario() -> None:
        rules = ActiveRules(default_ruleset())
        follower = RulesFollower(rules, kafka_bootstrap, topic=topic)
        task = asyncio.create_task(follower.run())
        try:
            await asyncio.wait_for(follower.caught_up.wait(), 30)
            # catch-up: the newest *valid* version wins; the newer invalid one is counted
            assert rules.current().version == v1.version and rules.applied_by == "alice@ops"
            assert rejected() == before_rejected + 1
            assert info_version() == v1.version

            held = rules.current()  # a batch in flight keeps its object while we switch
            v2 = load_ruleset(version_text("live-2"), "v2.yaml")
            await asyncio.to_thread(publish_rules, kafka_bootstrap, v2, "bob@ops", topic=topic)
            await wait_for(lambda: rules.current().version == v2.version)
            assert held.version == v1.version and info_version() == v2.version

            bad = default_rules_text().replace("match: {category: fire}", "match: {category: fier}")
            await asyncio.to_thread(lambda: (producer.send(topic, key=b"active", value=bad.encode()), producer.flush()))
            await wait_for(lambda: rejected() == before_rejected + 2)
            assert rules.current().version == v2.version  # the running version stays
        finally:
            follower.stop()
            await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
    finally:
        producer.close()


def test_restarted_follower_gets_the_latest_applied_version(kafka_bootstrap: str) -> None:
    topic = make_topic(kafka_bootstrap, f"test.rules.{uuid.uuid4().hex[:8]}")
    for n in (1, 2, 3):
        publish_rules(kafka_bootstrap, load_ruleset(version_text(f"restart-{n}")), "ops", topic=topic)

    async def start_once() -> str:
        rules = ActiveRules(default_ruleset())
        follower = RulesFollower(rules, kafka_bootstrap, topic=topic)
        task = asyncio.create_task(follower.run())
        await asyncio.wait_for(follower.caught_up.wait(), 30)
        follower.stop()
        await asyncio.wait_for(task, 10)
        return rules.current().declared_version

    assert asyncio.run(start_once()) == "restart-3"


def test_apply_publishes_and_rules_test_uses_the_applied_version(kafka_bootstrap: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.admin import create_topics
    from streams.settings import Settings

    create_topics(Settings(kafka_bootstrap=kafka_bootstrap, partitions=1))
    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.delenv("IOC_RULES_FILE", raising=False)
    rules = tmp_path / "cli.yaml"
    rules.write_text(version_text(f"cli-{uuid.uuid4().hex[:6]}"))
    runner = CliRunner()
    applied = runner.invoke(main, ["rules", "apply", str(rules), "--by", "carol@ops", "--json"])
    assert applied.exit_code == 0, applied.output
    answer = orjson.loads(applied.stdout)
    assert answer["topic"] == topics.CONFIG_RULES and answer["applied_by"] == "carol@ops"

    shown = orjson.loads(runner.invoke(main, ["rules", "show", "--json"]).stdout)
    assert shown["version"] == answer["version"] and shown["origin"] == "applied on ioc.config.rules by carol@ops"

    bad = tmp_path / "bad.yaml"
    bad.write_text(rules.read_text().replace("priority: P1", "priority: P9", 1))
    refused = runner.invoke(main, ["rules", "apply", str(bad)])
    assert refused.exit_code == 1 and "is not one of P1, P2, P3, P4" in refused.output
    again = orjson.loads(runner.invoke(main, ["rules", "show", "--json"]).stdout)
    assert again["version"] == answer["version"]  # nothing was published


def test_record_then_replay_from_the_topic(kafka_bootstrap: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    topic = make_topic(kafka_bootstrap, f"test.routed.{uuid.uuid4().hex[:8]}", compact=False)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for n in range(5):
        envelope = {"data": {
            "event": {"id": f"e{n}", "source": "report", "kind": "waste", "occurred_at": "2026-11-22T10:00:00Z"},
            "location": {"status": "resolved", "ward": {"code": "27139", "name": "", "province_code": "79"},
                         "candidates": [], "method": "point", "generation": "g", "source": "approximate"}}}
        producer.send(topic, key=f"e{n}".encode(), value=orjson.dumps(envelope))
    producer.send(topic, key=b"raw", value=b"not json at all")
    producer.flush()
    producer.close()
    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", kafka_bootstrap)
    runner = CliRunner()
    out = tmp_path / "rec.jsonl"
    recorded = runner.invoke(main, ["record", "--topic", topic, "--since", "10m", "--out", str(out), "--json"])
    assert recorded.exit_code == 0, recorded.output
    assert orjson.loads(recorded.stdout)["messages"] == 6
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert lines[0]["topic"] == topic and lines[0]["value"]["data"]["event"]["id"] == "e0"
    assert "value_base64" in lines[-1]

    new = tmp_path / "new.yaml"
    new.write_text(default_rules_text().replace(
        "match: {category: waste}\n          targets: [ward, agency:environment]",
        "match: {category: waste}\n          targets: [ward]"))
    against = tmp_path / "current.yaml"
    against.write_text(default_rules_text())
    from_file = orjson.loads(runner.invoke(main, ["rules", "replay", "--rules", str(new), "--against", str(against),
                                                  "--events", str(out), "--json"]).stdout)
    live = orjson.loads(runner.invoke(main, ["rules", "replay", "--rules", str(new), "--against", str(against),
                                             "--topic", topic, "--since", "10m", "--json"]).stdout)
    for report in (from_file, live):
        assert report["events"] == 5 and report["changed"]["targets"] == 5 and report["skipped"] == 1
        assert report["load_shift"] == {"agency:environment": {"before": 5, "after": 0, "delta": -5}}
