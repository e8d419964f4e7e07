"""End to end, as `make run` does it: `ioc up --duration` on embedded defaults, with a ward system
reading its topic through a plain kafka-python consumer while the run is on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ioc_up_routes_a_simulated_evening(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("IOC_KAFKA_BOOTSTRAP", "IOC_REDIS_URL")}
    env["IOC_DATA_DIR"] = str(data_dir)
    env["IOC_DASHBOARD_PORT"] = "0"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "up", "--duration", "25", "--rate", "80", "--json", "--no-dashboard"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    assert process.stderr is not None and process.stdout is not None
    lines: list[str] = []
    bootstrap: list[str] = []
    api: list[str] = []
    api_key: list[str] = []
    ready = threading.Event()

    def read_stderr() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            match = re.match(r"kafka\s+(127\.0\.0\.1:\d+)", line)
            if match:
                bootstrap.append(match.group(1))
            match = re.match(r"open311\s+(http://127\.0\.0\.1:\d+/open311/v2/)$", line.strip())
            if match:
                api.append(match.group(1))
            match = re.match(r"api_key (\S+) \(client demo", line.strip())
            if match:
                api_key.append(match.group(1))
            if line.startswith("running"):
                ready.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    assert ready.wait(180), "ioc up did not start:\n" + "".join(lines)

    # The Open311 API runs, at the base URL printed on a line of its own, and takes a report with the demo key
    assert api and api_key, "".join(lines)
    with urllib.request.urlopen(f"{api[0]}services.json", timeout=10) as response:
        assert len(orjson.loads(response.read())) == 18
    form = urllib.parse.urlencode({"api_key": api_key[0], "service_code": "flooding", "address_string": "P.7, Q.3"})
    with urllib.request.urlopen(urllib.request.Request(f"{api[0]}requests.json", data=form.encode()), timeout=10) as response:
        assert orjson.loads(response.read())[0]["service_request_id"]

    # A ward system subscribes to the busiest HCMC ward topic it can find while the run goes on.
    received: list[dict] = []
    deadline = time.monotonic() + 20
    consumer = KafkaConsumer(bootstrap_servers=bootstrap[0], auto_offset_reset="earliest", consumer_timeout_ms=2000)
    ward_topics = [t for t in consumer.topics() if t.startswith("ioc.ward.")]
    assert len(ward_topics) >= 168
    consumer.assign([TopicPartition(t, 0) for t in ward_topics])
    while time.monotonic() < deadline and not any(e["type"] == "vn.ioc.event.routed" for e in received):
        for records in consumer.poll(timeout_ms=1000).values():
            received.extend(orjson.loads(r.value) for r in records)
    consumer.close()
    out, _ = process.communicate(timeout=180)
    assert process.returncode == 0, "".join(lines)
    summary = orjson.loads(out.strip().splitlines()[-1])
    for key in ("ingested", "routed", "unroutable", "deadletter"):
        assert key in summary
    bridge = summary["bridge"]  # the cameras publish Frigate messages over MQTT, through the bridge
    assert bridge["received"] > 50 and bridge["forwarded"] > 0 and bridge["filtered"] > 0
    assert bridge["forwarded"] + bridge["filtered"] + bridge["deadletter"] == bridge["received"]
    # the simulator's events (some ended at the bridge) and the report posted above
    assert summary["ingested"] + bridge["filtered"] + bridge["deadletter"] >= summary["produced"] > 500
    assert summary["routed"] + summary["unroutable"] + summary["deadletter"] + summary["filtered"] == summary["ingested"]
    assert summary["deadletter"] > 0 and summary["routed"] > 0.7 * summary["ingested"]
    assert summary["top_wards"] and summary["top_wards"][0]["name"].startswith(("Phường", "Xã", "Đặc khu"))
    assert summary["first_routed_after_s"] is not None and summary["first_routed_after_s"] < 60
    # a ward topic carries the routed events and, from the lifecycle, the notices of its incidents
    assert any(e["type"] == "vn.ioc.event.routed" for e in received)
    assert all(e["type"] == "vn.ioc.event.routed" or e["type"].startswith("vn.ioc.incident.") for e in received)
    assert not any("Traceback" in line for line in lines), "".join(lines)
