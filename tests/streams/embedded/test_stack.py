"""The embedded servers start on free loopback ports, serve real clients, and leave nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from streams.embedded.mqtt import mosquitto_binary
from streams.embedded.stack import EmbeddedStack
from streams.settings import Settings


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stack_serves_kafka_and_redis_then_stops_cleanly(tmp_path: Path) -> None:
    with EmbeddedStack(Settings(data_dir=tmp_path), run_dir=tmp_path) as stack:
        assert stack.kafka is not None and stack.redis is not None
        kafka_port, redis_port = stack.kafka.port, stack.redis.port
        pids = [stack.kafka.pid, stack.redis.pid]
        bootstrap = stack.settings.kafka_bootstrap
        assert bootstrap == f"127.0.0.1:{kafka_port}"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic("probe", 1, 1)])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        producer.send("probe", b"hello").get(timeout=10)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000)
        consumer.assign([TopicPartition("probe", 0)])
        assert [m.value for m in consumer] == [b"hello"]
        consumer.close()
        client = redis.Redis.from_url(stack.settings.redis_url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
    assert not _listening(kafka_port) and not _listening(redis_port)
    assert not any(_alive(pid) for pid in pids)


def test_configured_servers_are_not_started(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    with EmbeddedStack(settings, run_dir=tmp_path) as stack:
        assert stack.kafka is None and stack.redis is None
        assert stack.settings == settings


def _outliving_a_killed_parent(script: str) -> list[int]:
    """Run ``script`` (it prints the pids of the servers it started), SIGKILL it, and return the
    pids still alive 10 s later (after stopping them)."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert pids and all(_alive(pid) for pid in pids)
    time.sleep(0.5)  # past the servers' start-up (mosquitto would change its user there)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGTERM)
    return alive


def test_servers_die_with_a_killed_parent(tmp_path: Path) -> None:
    alive = _outliving_a_killed_parent(f"""
        import sys, time
        from pathlib import Path
        from streams.embedded.stack import EmbeddedStack
        from streams.settings import Settings
        stack = EmbeddedStack(Settings(data_dir=Path({str(tmp_path)!r})), run_dir=Path({str(tmp_path)!r})).start()
        print(stack.kafka.pid, stack.redis.pid, flush=True)
        time.sleep(60)
    """)
    assert not alive, "an embedded server outlived its parent"


@pytest.mark.skipif(mosquitto_binary() is None, reason="Debian's mosquitto is not installed (apt-get install mosquitto)")
def test_mosquitto_dies_with_a_killed_parent(tmp_path: Path) -> None:
    # Run as root, mosquitto switched to its own user by default, and a change of user clears the
    # parent-death signal: after `kill -9` of `ioc up` it lived on.
    alive = _outliving_a_killed_parent(f"""
        import time
        from pathlib import Path
        from streams.embedded.mqtt import start_mqtt
        broker = start_mqtt(Path({str(tmp_path)!r}))
        print(broker.pid, flush=True)
        time.sleep(60)
    """)
    assert not alive, "mosquitto outlived its parent"
