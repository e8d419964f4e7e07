"""Decree 13/2023: a planted phone number, email address and reporter name travel only to the owning ward.

A real worker (log level info) and a real dashboard run on the session broker and Redis, both with
the operator token, the dashboard with two ward viewers (the owning ward's and another ward's).
One valid report and one invalid report carry a unique phone, email (in the reporter and in the
description) and name; then every phone format of
the held-out list (``tests/data/phone_formats.txt``) is planted in a report's phone field and in
its description. Then every place the data could leak is searched from outside: every topic on
the broker (read from the beginning), the dead-letter envelopes, every Redis key, the worker's
log, its /metrics and /api/incidents, and the dashboard's API answers and live feed as the
operator, as the other ward's viewer and without a token. Only the owning ward's topic and the
owning ward's viewer may show them in clear.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from dashboards.access import token_hash
from routers import topics
from routers.boundaries.registry import BoundaryRegistry
from streams.embedded.process import ManagedProcess, free_port
from tests.routers.test_privacy import held_out_formats
from tests.support import stack_env

pytestmark = pytest.mark.integration

RNG = random.Random()
PHONE = f"09{RNG.randrange(10**8):08d}"
NAME = f"Trần Thị Kiểm Tra {RNG.randrange(10**6):06d}"
EMAIL = f"kiem.tra.{RNG.randrange(10**9):09d}@example.vn"


def _forms(text: str) -> list[bytes]:
    """The ways a string can appear in bytes: UTF-8 and JSON with escaped non-ASCII."""
    return [text.encode(), json.dumps(text)[1:-1].encode()]


NEEDLES = {"phone": _forms(PHONE), "name": _forms(NAME), "email": _forms(EMAIL)}
OPERATOR_TOKEN = f"operator-{RNG.randrange(10**12)}"
OWNER_TOKEN = f"owner-ward-{RNG.randrange(10**12)}"
OTHER_TOKEN = f"other-ward-{RNG.randrange(10**12)}"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _found(blob: bytes) -> list[str]:
    return [what for what, forms in NEEDLES.items() if any(form in blob for form in forms)]


@pytest.fixture(scope="module")
def wards(data_dir: Path) -> tuple[Any, Any, Any]:
    """The active generation, the ward that owns the planted reports and another ward of HCMC."""
    generation = BoundaryRegistry(data_dir).load_active()
    city = generation.wards_in_province("79")
    return generation, city[3], city[7]


@pytest.fixture(scope="module")
def privacy_run(embedded_stack, data_dir: Path, topics_ready, wards, tmp_path_factory: pytest.TempPathFactory):
    """A worker with its own consumer group and an info-level log, plus a dashboard, both with the
    operator token (from a file) and the dashboard with two ward viewers; both stopped after."""
    logs = tmp_path_factory.mktemp("privacy")
    _generation, owner, other = wards
    token_file = logs / "token"
    token_file.write_text(OPERATOR_TOKEN + "\n", encoding="utf-8")
    viewers = logs / "viewers.yaml"
    viewers.write_text(f"""viewers:
  - name: owner-duty
    token_sha256: {token_hash(OWNER_TOKEN)}
    wards: ["{owner.code}"]
  - name: other-duty
    token_sha256: {token_hash(OTHER_TOKEN)}
    wards: ["{other.code}"]
""", encoding="utf-8")
    worker_port = free_port()
    worker = ManagedProcess(
        "privacy-worker", [sys.executable, "-m", "cli", "worker", "--web-port", str(worker_port)], worker_port,
        logs / "worker.log", ready_timeout_s=120,
        env=stack_env(embedded_stack, data_dir, IOC_APP_ID=f"ioc-privacy-{RNG.randrange(10**6)}", IOC_LOG_LEVEL="info",
                      IOC_DASHBOARD_TOKEN_FILE=str(token_file), IOC_DASHBOARD_VIEWERS=str(viewers)),
    )
    dashboard_port = free_port()
    try:
        dashboard = ManagedProcess(
            "privacy-dashboard",
            [sys.executable, "-m", "cli", "dashboard", "--port", str(dashboard_port), "--city", "hcmc"],
            dashboard_port, logs / "dashboard.log", ready_timeout_s=60,
            env=stack_env(embedded_stack, data_dir, IOC_WORKER_METRICS_URLS=f"http://127.0.0.1:{worker_port}/metrics",
                          IOC_DASHBOARD_TOKEN_FILE=str(token_file), IOC_DASHBOARD_VIEWERS=str(viewers)),
        )
    except Exception:
        worker.stop()
        raise
    try:
        yield {"worker": worker, "worker_port": worker_port, "dashboard": dashboard, "dashboard_port": dashboard_port}
    finally:
        dashboard.stop(timeout_s=10)
        worker.stop(timeout_s=20)


class FeedRecorder:
    """The dashboard's live feed (server-sent events) as one viewer (``token``) sees it, recorded in
    the background from ``start()`` until ``stop()``: the raw HTTP bytes (chunk framing included; the
    searches only look for substrings). Watching from before the report is sent means the test does
    not depend on the report still being in the hub's short backlog when a screen connects."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.chunks: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._record, name="feed-recorder", daemon=True)

    def _record(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /api/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                         b"Authorization: Bearer " + self.token.encode() + b"\r\n\r\n")
            sock.settimeout(0.5)
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                self.chunks.append(chunk)

    def start(self) -> FeedRecorder:
        self._thread.start()
        return self

    def seen(self) -> bytes:
        return b"".join(self.chunks)

    def wait_for(self, needle: bytes, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while needle not in self.seen() and time.monotonic() < deadline:
            time.sleep(0.2)
        return needle in self.seen()

    def wait_until_live(self, seconds: float = 60.0) -> bool:
        """Until the dashboard reads the ward topics. Its feed starts at the end of each topic once
        it has them, so a report routed before then never shows: the first status it sends
        ("connecting") is not enough on a slow machine."""
        return self.wait_for(b'"state":"live"', seconds)

    def stop(self) -> bytes:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.seen()


def _get(url: str, headers: dict[str, str] | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        return response.read()


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _all_topics(bootstrap: str) -> dict[str, list[bytes]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-privacy-admin")
    names = sorted(admin.list_topics())
    admin.close()
    return _read_topics(bootstrap, names, idle_ms=4000)


def _read_topics(bootstrap: str, names: list[str], idle_ms: int = 1000) -> dict[str, list[bytes]]:
    """Every message of ``names`` as ``key NUL value``; the read ends after ``idle_ms`` without a message.
    (While waiting for the planted reports, only the topics waited on are read: reading every
    topic each time made the wait, not the checks, the slowest part of these tests.)"""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=idle_ms, client_id="ioc-privacy-reader",
                             max_partition_fetch_bytes=4 * 1024 * 1024)
    try:
        out: dict[str, list[bytes]] = {n: [] for n in names}
        assigned = [TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())]
        if not assigned:  # not created yet: nothing arrived
            return out
        consumer.assign(assigned)
        consumer.seek_to_beginning()
        for message in consumer:
            out[message.topic].append((message.key or b"") + b"\x00" + (message.value or b""))
        return out
    finally:
        consumer.close()


def _redis_values(url: str) -> bytes:
    client = redis.Redis.from_url(url)
    try:
        parts: list[bytes] = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"string":
                parts.append(client.get(key) or b"")
            elif kind == b"hash":
                parts.extend(k + b"=" + v for k, v in client.hgetall(key).items())
            elif kind == b"zset":
                parts.extend(m for m, _s in client.zrange(key, 0, -1, withscores=True))
            elif kind == b"set":
                parts.extend(client.smembers(key))
            elif kind == b"list":
                parts.extend(client.lrange(key, 0, -1))
            parts.append(key)
        return b"\n".join(parts)
    finally:
        client.close()


def test_a_planted_phone_email_and_name_reach_only_the_owning_ward(embedded_stack, data_dir: Path, privacy_run,
                                                             wards) -> None:
    bootstrap = embedded_stack.settings.kafka_bootstrap
    generation, ward, _other = wards
    lat, lon = generation.random_point_in(ward.code, random.Random(5))
    report_id = f"privacy-{RNG.randrange(10**9)}"
    good = {"id": report_id, "channel": "hotline", "category": "flooding",
            "description": f"Nước ngập sâu 50cm, trả lời qua {EMAIL}",
            "location": {"lat": lat, "lon": lon}, "reported_at": "2026-06-01T18:00:00+07:00",
            "reporter": {"name": NAME, "phone": PHONE, "email": EMAIL}}
    bad = {**good, "id": f"{report_id}-bad", "category": "ufo_sighting"}  # rejected: goes to dead-letter
    feed = FeedRecorder(privacy_run["dashboard_port"], OPERATOR_TOKEN).start()
    assert feed.wait_until_live(), "the dashboard feed did not start reading the ward topics"

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(topics.REPORTS, key=report_id.encode(), value=orjson.dumps(good)).get(timeout=10)
    producer.send(topics.REPORTS, key=report_id.encode(), value=orjson.dumps(bad)).get(timeout=10)
    producer.close()

    owner_topic = topics.ward_topic(ward.code)
    deadline = time.monotonic() + 120
    seen: dict[str, list[bytes]] = {}
    while time.monotonic() < deadline:
        seen = _read_topics(bootstrap, [owner_topic, topics.DEADLETTER])
        routed_here = any(report_id.encode() in m for m in seen.get(owner_topic, []))
        dead = any(f"{report_id}-bad".encode() in base64.b64decode(orjson.loads(m.split(b"\x00", 1)[1])["data"].get(
            "original_base64", "")) for m in seen.get(topics.DEADLETTER, []) if b"original_base64" in m)
        if routed_here and dead:
            break
        time.sleep(2)
    else:
        pytest.fail(f"the planted reports did not reach {owner_topic} and {topics.DEADLETTER} in time")
    time.sleep(5)  # let the lifecycle publish its incident notices and the serving index
    seen = _all_topics(bootstrap)

    # 1. topics: the owning ward's topic carries it; the intake topic is where it came from
    allowed = {owner_topic, topics.REPORTS}
    leaks = {name: _found(b"\n".join(messages)) for name, messages in seen.items() if name not in allowed}
    assert owner_topic in seen and _found(b"\n".join(seen[owner_topic])) == ["phone", "name", "email"]
    reached = [name for name, messages in seen.items() if any(report_id.encode() in m for m in messages)]
    assert any(name.startswith("ioc.agency.") or name == topics.CITY_IOC for name in reached), \
        f"the test needs a non-owner target to prove anything; the report reached only {reached}"
    # dead-letter: the preview is masked; the original bytes are kept for replay, base64-encoded (documented)
    dead_letters = [orjson.loads(m.split(b"\x00", 1)[1]) for m in seen[topics.DEADLETTER]]
    # (found by the original bytes: the preview masks the id too, its nine digits could be a phone number)
    mine = [d for d in dead_letters if f"{report_id}-bad".encode() in base64.b64decode(d["data"].get("original_base64", ""))]
    assert mine, "the rejected report's dead-letter was not found"
    for body in mine:
        visible = orjson.dumps({**body, "data": {**body["data"], "original_base64": ""}})
        assert _found(visible) == [], f"personal data in a dead-letter outside original_base64: {body}"
        assert _found(base64.b64decode(body["data"]["original_base64"])) == ["phone", "name", "email"]
    leaks[topics.DEADLETTER] = []  # checked above, field by field
    assert {name: found for name, found in leaks.items() if found} == {}

    # 2. Redis: device registry, rule state, the serving index of incidents
    assert _found(_redis_values(embedded_stack.settings.redis_url)) == []

    # 3. the worker's log (info level) and /metrics
    log_text = privacy_run["worker"].log_path.read_bytes()
    assert _found(log_text) == []
    assert _found(_get(f"http://127.0.0.1:{privacy_run['worker_port']}/metrics")) == []

    # 4. the dashboard: every JSON endpoint, and the live feed as the operator (no personal data) sees it
    port = privacy_run["dashboard_port"]
    for path in ("/api/overview", "/api/map", "/api/labels", "/api/incidents", "/metrics"):
        assert _found(_get(f"http://127.0.0.1:{port}{path}", OPERATOR)) == [], path
    assert feed.wait_for(report_id.encode(), 10.0), "the planted report is not in the dashboard feed (nothing was checked)"
    assert _found(feed.stop()) == []
    assert _found(privacy_run["dashboard"].log_path.read_bytes()) == []


# -- the held-out phone formats -------------------------------------------------------------------
HELD_OUT = held_out_formats()
RUN = f"privacy-held-out-{RNG.randrange(10**9)}"


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdecimal())


def _in_clear(strings: list[str]) -> set[str]:
    """The held-out numbers readable in any of ``strings``: as written, or as their digits (but the
    last two, which masking keeps) in a row."""
    found: set[str] = set()
    for text in strings:
        digits = _digits(text)
        if len(digits) < 7:
            continue
        found.update(phone for phone in HELD_OUT if phone in text or _digits(phone)[:-2] in digits)
    return found


def _strings(node: Any, skip: frozenset[str] = frozenset()) -> list[str]:
    """Every string in a JSON document (keys too), but the values of keys in ``skip``."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in skip for s in [k, *_strings(v, skip)]]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item, skip)]
    return []


def _json_strings(raw: bytes) -> list[str]:
    try:
        return _strings(orjson.loads(raw), frozenset({"original_base64"}))  # dead letters keep it (documented)
    except orjson.JSONDecodeError:
        return [raw.decode("utf-8", "replace")]


def test_held_out_phone_formats_are_in_clear_only_for_the_owning_ward(embedded_stack, privacy_run, wards) -> None:
    bootstrap = embedded_stack.settings.kafka_bootstrap
    generation, owner, other = wards
    rng = random.Random(21)
    reports = []
    for n, phone in enumerate(HELD_OUT):
        lat, lon = generation.random_point_in(owner.code, rng)
        reports.append({"id": f"{RUN}-{n}", "channel": "app", "category": "flooding",
                        "description": f"Nước ngập sâu 40cm trước nhà, gọi {phone} giúp tôi",
                        "location": {"lat": lat, "lon": lon}, "reported_at": "2026-06-01T18:00:00+07:00",
                        "reporter": {"name": f"Người báo {n}", "phone": phone}})
    port = privacy_run["dashboard_port"]
    feeds = {who: FeedRecorder(port, token).start()
             for who, token in (("operator", OPERATOR_TOKEN), ("owner", OWNER_TOKEN), ("other", OTHER_TOKEN))}
    for recorder in feeds.values():
        assert recorder.wait_until_live(), "the dashboard feed did not start reading the ward topics"

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for report in reports:
        producer.send(topics.REPORTS, key=report["id"].encode(), value=orjson.dumps(report))
    producer.flush(timeout=30)
    producer.close()

    owner_topic = topics.ward_topic(owner.code)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        seen = _read_topics(bootstrap, [owner_topic])
        arrived = {r["id"] for r in reports if any(r["id"].encode() + b'"' in m for m in seen.get(owner_topic, []))}
        if len(arrived) == len(reports):
            break
        time.sleep(2)
    else:
        pytest.fail(f"only {len(arrived)} of {len(reports)} planted reports reached {owner_topic}")
    time.sleep(5)  # the lifecycle's notices and the serving index
    seen = _all_topics(bootstrap)

    # 1. topics: every message about these reports, on every topic but the owning ward's and the intake
    mine = {name: [m for m in messages if RUN.encode() in m] for name, messages in seen.items()}
    assert _in_clear([s for m in mine[owner_topic] for s in _json_strings(m.split(b"\x00", 1)[1])]) == set(HELD_OUT)
    reached = sorted(name for name, messages in mine.items() if messages)
    assert any(n.startswith("ioc.agency.") or n == topics.CITY_IOC for n in reached), reached
    leaks = {name: sorted(_in_clear([s for m in messages for s in _json_strings(m.split(b"\x00", 1)[1])]))
             for name, messages in mine.items() if name not in (owner_topic, topics.REPORTS)}
    assert {name: found for name, found in leaks.items() if found} == {}

    # 2. Redis: the serving index and everything else
    assert _in_clear(_redis_values(embedded_stack.settings.redis_url).decode("utf-8", "replace").splitlines()) == set()

    # 3. the worker: its API closed without the token, no personal data with it; /metrics; its log
    worker = f"http://127.0.0.1:{privacy_run['worker_port']}"
    assert _status(f"{worker}/api/incidents") == 401
    assert _status(f"{worker}/api/incidents", {"Authorization": "Bearer wrong"}) == 401
    listed = _get(f"{worker}/api/incidents?ward={owner.code}", OPERATOR)
    assert RUN.encode() in listed, "the planted reports are not in the worker's incidents (nothing was checked)"
    assert _in_clear(_strings(orjson.loads(listed))) == set()
    # ward viewers' tokens open the worker too, for their own wards only
    owner_auth, other_auth = ({"Authorization": f"Bearer {t}"} for t in (OWNER_TOKEN, OTHER_TOKEN))
    assert RUN.encode() in _get(f"{worker}/api/incidents?limit=1000", owner_auth)
    assert _status(f"{worker}/api/incidents?ward={owner.code}", other_auth) == 403
    theirs = orjson.loads(_get(f"{worker}/api/incidents?limit=1000", other_auth))["incidents"]
    assert RUN not in orjson.dumps(theirs).decode() and {i["ward"] for i in theirs} <= {other.code}
    one = next(i["id"] for i in orjson.loads(listed)["incidents"] if RUN in orjson.dumps(i).decode())
    assert _status(f"{worker}/api/incidents/{one}", owner_auth) == 200
    assert _status(f"{worker}/api/incidents/{one}", other_auth) == 404
    assert _in_clear(_get(f"{worker}/metrics").decode().splitlines()) == set()
    _send_over_long_requests(privacy_run["worker_port"])
    assert _in_clear(privacy_run["worker"].log_path.read_text("utf-8", "replace").splitlines()) == set()

    # 4. the dashboard: closed without a token; every answer to the operator and the other ward's viewer
    dashboard = f"http://127.0.0.1:{port}"
    for path in ("/", "/api/overview", "/api/incidents", "/api/feed"):
        assert _status(f"{dashboard}{path}") == 401, path
    for token in (OPERATOR_TOKEN, OTHER_TOKEN, OWNER_TOKEN):
        auth = {"Authorization": f"Bearer {token}"}
        for path in ("/api/overview", "/api/map", "/api/labels", f"/api/incidents?ward={owner.code}", "/api/incidents",
                     "/metrics"):
            answer = _get(f"{dashboard}{path}", auth) if _status(f"{dashboard}{path}", auth) == 200 else b"{}"
            assert _in_clear(_strings(orjson.loads(answer)) if path != "/metrics" else answer.decode().splitlines()) \
                == set(), (token, path)
    recorded = {who: recorder.stop().decode("utf-8", "replace") for who, recorder in feeds.items()}
    assert all(r["id"] in recorded["owner"] for r in reports), "the owning ward's viewer did not get every report"
    assert _in_clear(recorded["owner"].splitlines()) == set(HELD_OUT)  # in clear for the owning ward only
    assert all(r["id"] in recorded["operator"] for r in reports)
    assert _in_clear(recorded["operator"].splitlines()) == set()
    assert RUN not in recorded["other"] and _in_clear(recorded["other"].splitlines()) == set()
    _send_over_long_requests(port)
    time.sleep(1)
    assert _in_clear(privacy_run["dashboard"].log_path.read_text("utf-8", "replace").splitlines()) == set()

    # 5. no token in either log, though over-long requests made aiohttp log what it refused
    for process in (privacy_run["worker"], privacy_run["dashboard"]):
        text = process.log_path.read_text("utf-8", "replace")
        assert "refused a malformed or over-long HTTP request" in text, process.log_path
        assert OPERATOR_TOKEN not in text and OWNER_TOKEN not in text, process.log_path


def _send_over_long_requests(port: int) -> None:
    """A request line and a header over aiohttp's 8 KiB limits, each carrying a token in its first
    100 bytes (what aiohttp's error log quotes)."""
    pad = "a" * 9000
    for request in (f"GET /?token={OPERATOR_TOKEN}&pad={pad} HTTP/1.1\r\nHost: x\r\n\r\n",
                    f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OWNER_TOKEN}{pad}\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request.encode())
            assert sock.recv(65536).split(b" ")[1] == b"400"
