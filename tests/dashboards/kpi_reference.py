"""An independent reference for the dashboard's service figures: read ``ioc.incidents`` (the
lifecycle's compacted audit topic, the latest state per incident) with a plain kafka-python
consumer and compute the figures with numpy, following the definitions in docs/dashboard.md.
It shares no code with ``routers.kpi`` or the Redis index on purpose.

    python -m tests.dashboards.kpi_reference --bootstrap 127.0.0.1:9092 --from 2026-12-06T00:00:00+07:00
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from kafka import KafkaConsumer, TopicPartition

from tests.support import end_offsets

OPEN = {"new", "routed", "acknowledged", "dispatched", "waiting_citizen", "reopened"}


def latest_incidents(bootstrap: str, topic: str = "ioc.incidents", timeout_s: float = 60.0) -> dict[str, dict[str, Any]]:
    """Incident id -> its latest state on the topic (the highest version wins)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        known = end_offsets(bootstrap, topic)  # not consumer.end_offsets: Tansu answers short, see tests.support
        ends = {tp: known.get(tp, 0) for tp in partitions}
        latest: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.value is None:
                        continue
                    data = json.loads(record.value).get("data") or {}
                    if "id" not in data:
                        continue
                    known = latest.get(data["id"])
                    if known is None or data.get("version", 0) >= known.get("version", 0):
                        latest[data["id"]] = data
        return latest
    finally:
        consumer.close()


def _t(value: str | None) -> float | None:
    return None if not value else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def figures(incidents: list[dict[str, Any]], start: float, end: float, now: float) -> dict[str, Any]:
    chosen = [i for i in incidents if start <= _t(i["created_at"]) < end]  # type: ignore[operator]
    ack_ok = ack_n = res_ok = res_n = 0
    ack_waits, res_waits = [], []
    for i in chosen:
        created, acked, resolved = _t(i["created_at"]), _t(i.get("acknowledged_at")), _t(i.get("resolved_at"))
        ack_due, resolve_due = _t(i.get("ack_due")), _t(i.get("resolve_due"))
        paused = i.get("paused_since") is not None
        if acked is not None:
            ack_n += 1
            ack_ok += ack_due is None or acked <= ack_due
            ack_waits.append(max(acked - created, 0.0))
        elif not paused and ack_due is not None and ack_due < now:
            ack_n += 1
        if resolved is not None:
            res_n += 1
            res_ok += resolve_due is None or resolved <= resolve_due
            res_waits.append(max(resolved - created, 0.0))
        elif i["status"] in OPEN and not paused and resolve_due is not None and resolve_due < now:
            res_n += 1

    def pct(values: list[float], q: float) -> float | None:
        return None if not values else float(np.percentile(values, q))

    return {
        "received": len(chosen),
        # report_count (an evidence change lists only its new ids), else report_ids (the evidence is a window)
        "reports": sum(i["report_count"] if "report_count" in i else len(i["report_ids"]) if "report_ids" in i else
                       sum(1 for e in i.get("evidence") or () if e.get("source") == "report") for i in chosen),
        "ack_on_time": ack_ok, "ack_decided": ack_n, "resolve_on_time": res_ok, "resolve_decided": res_n,
        "ack_on_time_rate": ack_ok / ack_n if ack_n else None, "resolve_on_time_rate": res_ok / res_n if res_n else None,
        "median_ack_s": pct(ack_waits, 50), "p90_ack_s": pct(ack_waits, 90),
        "median_resolve_s": pct(res_waits, 50), "p90_resolve_s": pct(res_waits, 90),
    }


def by_ward(incidents: dict[str, dict[str, Any]], wards: set[str], start: float, end: float, now: float) -> dict[str, Any]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for incident in incidents.values():
        if incident["ward"] in wards:
            grouped.setdefault(incident["ward"], []).append(incident)
    return {ward: figures(items, start, end, now) for ward, items in grouped.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--from", dest="start", required=True)
    parser.add_argument("--to", dest="end")
    args = parser.parse_args()
    now = datetime.now(UTC).timestamp()
    incidents = latest_incidents(args.bootstrap)
    start = _t(args.start) or 0.0
    end = _t(args.end) or now + 1
    print(json.dumps({"city": figures(list(incidents.values()), start, end, now)}, indent=2))


if __name__ == "__main__":
    main()
