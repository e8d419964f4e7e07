"""Simulated ward desks: the officers who acknowledge and resolve incidents during ``ioc up``.

Without them no incident of a simulated evening is ever acknowledged, and the dashboard's
service figures (time to acknowledge, on-time rates, the monthly ranking) stay empty. Each ward
desk reads new incidents from ``ioc.incidents`` (from the latest offsets, no consumer group) and
answers on ``ioc.status`` exactly as a ward system would (``streams/contracts/status.schema.json``):

* how fast is drawn per incident, deterministically from the seed and the incident id
  (:func:`plan`): desks differ (a ward's own pace factor between 0.5 and 2), most acknowledge within
  a few minutes, a share never does (so SLA breaches and escalations happen), and resolution
  follows some minutes later;
* evening time is compressed: officers answer in minutes, whatever the SLA says, so a 10-minute
  run yields real acknowledge/resolve times and both on-time and late answers (P1's 2-minute
  acknowledge deadline is missed often, a 4-hour one rarely).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from routers import topics
from streams import kafka_clients
from streams.settings import Settings

log = logging.getLogger(__name__)

ACK_MEAN_S = 150.0
RESOLVE_MEAN_S = 240.0
NEVER_ACK = 0.08  # share of incidents no desk acknowledges in the run
NEVER_RESOLVE = 0.15  # share of acknowledged incidents left open


@dataclass(frozen=True, slots=True)
class Response:
    ack_after_s: float | None
    resolve_after_s: float | None  # after the acknowledgement


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("|".join((str(seed), *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def ward_pace(seed: int, ward: str) -> float:
    """A ward desk's pace factor (0.5 fast .. 2.0 slow), the same for every run with ``seed``."""
    return 2 ** _rng(seed, "ward", ward).uniform(-1.0, 1.0)


def plan(seed: int, incident_id: str, ward: str) -> Response:
    """When this incident's desk acknowledges and resolves it (seconds), or never (``None``)."""
    rng = _rng(seed, "incident", incident_id)
    pace = ward_pace(seed, ward)
    if rng.random() < NEVER_ACK * pace:
        return Response(None, None)
    ack = rng.expovariate(1.0 / (ACK_MEAN_S * pace)) + 5.0
    if rng.random() < NEVER_RESOLVE:
        return Response(ack, None)
    return Response(ack, rng.expovariate(1.0 / (RESOLVE_MEAN_S * pace)) + 10.0)


def status_update(incident_id: str, ward: str, status: str, n: int) -> dict[str, Any]:
    update: dict[str, Any] = {"update_id": f"sim-{incident_id}-{status}-{n}", "incident_id": incident_id,
                              "ward": ward, "status": status, "actor": f"sim-desk-{ward}"}
    if status == "resolved":
        update["result"] = {"outcome": "fixed", "summary": "Đã xử lý xong (mô phỏng)"}
    return update


class WardDesks:
    """A thread that answers the city's new incidents; ``stop`` ends it."""

    def __init__(self, settings: Settings, seed: int, wards: frozenset[str]) -> None:
        self.settings = settings
        self.seed = seed
        self.wards = wards
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: list[tuple[float, int, dict[str, Any]]] = []
        self._order = itertools.count()
        self._seen: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ward-desks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def take(self, incident: dict[str, Any], now: float) -> None:
        """Schedule the answers to a newly opened incident of the city."""
        incident_id, ward = str(incident.get("id")), str(incident.get("ward"))
        if incident_id in self._seen or ward not in self.wards or incident.get("status") != "routed":
            return
        self._seen.add(incident_id)
        response = plan(self.seed, incident_id, ward)
        if response.ack_after_s is None:
            return
        ack_at = now + response.ack_after_s
        heapq.heappush(self._queue, (ack_at, next(self._order), status_update(incident_id, ward, "acknowledged", 1)))
        if response.resolve_after_s is not None:
            heapq.heappush(self._queue, (ack_at + response.resolve_after_s, next(self._order),
                                         status_update(incident_id, ward, "resolved", 1)))

    def due(self, now: float) -> list[dict[str, Any]]:
        out = []
        while self._queue and self._queue[0][0] <= now:
            out.append(heapq.heappop(self._queue)[2])
        return out

    def _run(self) -> None:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition

        consumer = KafkaConsumer(**kafka_clients.kafka_python(
            self.settings, group_id=None, enable_auto_commit=False, client_id="ioc-ward-desks"))
        producer = KafkaProducer(**kafka_clients.kafka_python(self.settings, acks=1, client_id="ioc-ward-desks"))
        try:
            partitions = [TopicPartition(topics.INCIDENTS, p) for p in consumer.partitions_for_topic(topics.INCIDENTS) or ()]
            consumer.assign(partitions)
            consumer.seek_to_end(*partitions)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        try:
                            body = orjson.loads(record.value)
                        except orjson.JSONDecodeError:
                            continue
                        if isinstance(body, dict) and isinstance(body.get("data"), dict):
                            self.take(body["data"], time.monotonic())
                for update in self.due(time.monotonic()):
                    producer.send(topics.STATUS, key=update["ward"].encode(), value=orjson.dumps(update))
                    self.sent += 1
        except Exception as exc:  # the desks are a demo aid: say why they stopped, never take `ioc up` down
            log.warning("ward desks stopped: %s", exc)
        finally:
            producer.close(timeout=5)
            consumer.close()
