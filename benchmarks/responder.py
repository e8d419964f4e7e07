"""A ward system stand-in for the soak: it acknowledges, resolves and closes the incidents the
lifecycle opens, so incidents close and leave the worker's memory as they do in operation.

It reads ``ioc.incidents`` (every incident's state, keyed by id) and answers on ``ioc.status``
exactly as the contract says (``streams/contracts/status.schema.json``, checked locally with the
parser the worker uses, keyed by the sending ward), as ``ioc incidents ack/resolve`` does.

What it does with a newly routed incident, timed on the worker's clock (the clock the SLAs run on;
the soak can run it fast), from the moment the incident was routed to the ward:

* ``unattended`` share: nothing (it stays open and escalates, as an incident nobody works on does);
* ``reassigned`` share: "not ours" to another ward after 2-10 min; the new ward's copy is then
  handled like any other incident;
* the rest: acknowledged after 20-110 % of the incident's acknowledge SLA but within 2-12 min
  (so about one in ten short-SLA incidents escalates), resolved 10-40 min after that, and
  ``closed`` (the citizen or the ward confirms) 5-20 min after resolving for half of them.

Everything is answered within about an hour of worker time, so with the soak's fast clock the
lifecycle reaches its steady state (open + closed-and-kept incidents) within minutes.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from routers import topics
from routers.incidents.timeutil import parse_time
from streams import kafka_clients
from streams.lifecycle.clock import Clock
from streams.lifecycle.contract import parse_status_update
from streams.settings import Settings

CLOSE_SHARE = 0.5
_WARDS_REMEMBERED = 200  # candidate wards for reassignment
_EXAMPLES = 5  # rejected updates reported with the worker's detail


@dataclass
class ResponderStats:
    incidents: int = 0  # distinct (ward, incident) copies seen routed
    unattended: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # status -> updates sent
    pending: int = 0  # actions planned but not yet due at the end
    withdrawn: int = 0  # planned actions dropped because their copy had left the ward (moved) before they were due
    send_failed: int = 0
    acks_applied: int = 0  # acknowledgements whose incident copy showed them on ioc.incidents
    acks_unapplied: int = 0  # ... and those that did not by the end
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> its updates dead-lettered by the worker
    rejected_examples: list[str] = field(default_factory=list)  # the first few, with the worker's detail
    escalated_after_ack: int = 0  # ack escalations of a copy whose acknowledgement was on the broker before the deadline
    escalations_seen: int = 0  # ack escalations read on ioc.escalations (distinct copies)
    repeated_states: int = 0  # states of an incident seen again (same version: a redelivery), ignored
    out_of_order_states: int = 0  # states older than one already seen of their incident, ignored
    unread_at_end: int | None = None  # ioc.incidents + ioc.escalations messages not read when it stopped
    ack_delays_s: list[float] = field(default_factory=list)  # wall seconds, sent -> state showing it

    def to_json(self) -> dict[str, object]:
        delays = sorted(self.ack_delays_s)

        def q(p: float) -> float | None:
            return round(delays[min(len(delays) - 1, int(p * len(delays)))], 3) if delays else None

        return {"incidents": self.incidents, "unattended": self.unattended, "sent": dict(sorted(self.sent.items())),
                "pending": self.pending, "withdrawn": self.withdrawn, "send_failed": self.send_failed, "acks_applied": self.acks_applied,
                "acks_unapplied": self.acks_unapplied, "rejected": dict(sorted(self.rejected.items())),
                "rejected_examples": self.rejected_examples, "escalated_after_ack": self.escalated_after_ack,
                "ack_escalations_seen": self.escalations_seen, "repeated_states": self.repeated_states,
                "out_of_order_states": self.out_of_order_states, "unread_at_end": self.unread_at_end,
                "ack_delay_p50_s": q(0.5), "ack_delay_p99_s": q(0.99), "ack_delay_max_s": round(delays[-1], 3) if delays else None}


@dataclass(order=True)
class _Action:
    due: datetime
    seq: int
    ward: str = field(compare=False)
    incident: str = field(compare=False)
    status: str = field(compare=False)
    copy: int = field(compare=False)  # which copy of (ward, incident) it was planned for
    extra: dict[str, Any] = field(compare=False, default_factory=dict)


def escalated_after_ack(acks_on_broker: Mapping[tuple[str, str], datetime],
                        ack_escalations: Mapping[tuple[str, str], datetime]) -> list[tuple[str, str]]:
    """The copies escalated for a missed acknowledgement although their acknowledgement was on the
    broker before the deadline the escalation names (``due``): what issue 20 calls an escalation of
    an incident acknowledged in time. ``acks_on_broker``: copy -> when the broker had its
    acknowledgement; ``ack_escalations``: copy -> the earliest ack deadline it escalated for.
    An acknowledgement exactly at the deadline counts as late (the lifecycle escalates at ``due``)."""
    return sorted(key for key, due in ack_escalations.items() if key in acks_on_broker and acks_on_broker[key] < due)


class WardResponder:
    """Runs in a background thread between :meth:`start` and :meth:`stop`."""

    def __init__(self, settings: Settings, clock: Clock, unattended: float = 0.02, reassigned: float = 0.03,
                 seed: int = 7) -> None:
        self.settings = settings
        self.clock = clock
        self.unattended = unattended
        self.reassigned = reassigned
        self.stats = ResponderStats()
        self.error: BaseException | None = None
        self._rng = random.Random(seed)
        self._queue: list[_Action] = []
        self._seq = 0
        self._planned: set[tuple[str, str]] = set()  # copies with a plan, until they are done
        # (ward, incident) -> how many times a copy of it left that ward: an action planned for an
        # earlier copy is withdrawn, as a ward system drops what is no longer its incident
        self._departures: dict[tuple[str, str], int] = {}
        self._wards: list[str] = []
        # (ward, incident) -> (worker-clock time, wall time) an acknowledgement was sent; applied ones leave
        self._acked: dict[tuple[str, str], tuple[datetime, float]] = {}
        # every acknowledgement the broker acknowledged: the worker-clock time it was there by
        self._ack_on_broker: dict[tuple[str, str], datetime] = {}
        self._ack_escalations: dict[tuple[str, str], datetime] = {}  # copy -> the ack deadline it escalated for
        self._updates: dict[str, tuple[str, tuple[str, str]]] = {}  # update id sent -> (status, copy), until judged
        self._versions: dict[str, int] = {}  # incident -> the newest version of its state seen
        self._stop = threading.Event()
        self._holding = threading.Event()  # see hold()
        self._thread = threading.Thread(target=self._run, name="ward-responder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.stats.pending = len(self._queue)
        self.stats.acks_unapplied = len(self._acked)
        self.stats.escalated_after_ack = len(escalated_after_ack(self._ack_on_broker, self._ack_escalations))
        self.stats.escalations_seen = len(self._ack_escalations)

    def hold(self) -> None:
        """Send nothing more but keep reading: at the end of a soak the acknowledgements already sent
        get the drain's time to show, and none is sent in the last instant before :meth:`stop` (one
        would count as never applied although the lifecycle had no time to apply it)."""
        self._holding.set()

    def unapplied_acks(self) -> int:
        return len(self._acked)

    def observe_verdict(self, dead_letter: dict[str, Any]) -> None:
        """One ``ioc.deadletter`` message: if it is one of this responder's updates, the worker's
        verdict on it, found by its ``iocupdate`` id (as ``ioc incidents`` finds its own)."""
        update_id = dead_letter.get("iocupdate")
        sent = self._updates.pop(update_id, None) if isinstance(update_id, str) else None
        if sent is None:
            return
        status, key = sent
        data = dead_letter.get("data")
        data = data if isinstance(data, dict) else {}
        reason, detail = str(data.get("reason")), str(data.get("error"))
        self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1
        if len(self.stats.rejected_examples) < _EXAMPLES:
            self.stats.rejected_examples.append(f"{status} by {key[0]} of {key[1]}: {reason}: {detail}")

    def observe_escalation(self, escalation: dict[str, Any]) -> None:
        """One ``ioc.escalations`` message: remember which copies escalated for a missed acknowledgement."""
        if escalation.get("missed") == "ack":
            key = (escalation["ward"], escalation["incident_id"])
            due = parse_time(escalation["due"])
            self._ack_escalations[key] = min(due, self._ack_escalations.get(key, due))

    # -- planning ---------------------------------------------------------------------------------
    def _after(self, at: datetime, low_min: float, high_min: float) -> datetime:
        return at + timedelta(minutes=self._rng.uniform(low_min, high_min))

    def _plan(self, ward: str, incident: str, status: str, due: datetime, **extra: Any) -> None:
        self._seq += 1
        copy = self._departures.get((ward, incident), 0)
        heapq.heappush(self._queue, _Action(due, self._seq, ward, incident, status, copy, extra))

    def observe(self, state: dict[str, Any]) -> None:
        """One ``ioc.incidents`` state: plan the ward's answers to a newly routed copy."""
        ward, incident, status = state["ward"], state["id"], state["status"]
        key = (ward, incident)
        # A ward system dedupes on the version (it runs on across an incident's copies: a hand-over
        # is the moved copy's version + 1), so a redelivered or stale state says nothing new.
        version, newest = int(state.get("version") or 0), self._versions.get(incident, -1)
        if version <= newest:
            if version == newest:
                self.stats.repeated_states += 1
            else:
                self.stats.out_of_order_states += 1
            return
        self._versions[incident] = version
        if state.get("acknowledged_at") and key in self._acked:
            _sent, wall = self._acked.pop(key)
            self.stats.acks_applied += 1
            self.stats.ack_delays_s.append(max(time.monotonic() - wall, 0.0))
        if state.get("moved_to") is not None:
            if key in self._planned:  # this copy left the ward: what was planned for it is void
                self._departures[key] = self._departures.get(key, 0) + 1
            self._planned.discard(key)
            return
        if status in ("resolved", "closed"):
            self._planned.discard(key)  # done: no later state of this copy is routed again
            return
        if status != "routed" or key in self._planned:
            return
        self._planned.add(key)
        self.stats.incidents += 1
        if ward not in self._wards:
            self._wards.append(ward)
            del self._wards[:-_WARDS_REMEMBERED]
        routed_at = parse_time(state["updated_at"] or state["created_at"])
        fate = self._rng.random()
        others = [w for w in self._wards if w != ward]
        if fate < self.unattended:
            self.stats.unattended += 1
        elif fate < self.unattended + self.reassigned and others:
            self._plan(ward, incident, "reassigned", self._after(routed_at, 2, 10), to_ward=self._rng.choice(others),
                       note="soak: not ours")
        else:
            ack_s = float((state.get("sla") or {}).get("ack_s") or 3600)
            acknowledged = routed_at + timedelta(seconds=min(self._rng.uniform(0.2, 1.1) * ack_s,
                                                             self._rng.uniform(120, 720)))
            self._plan(ward, incident, "acknowledged", acknowledged)
            resolved = self._after(acknowledged, 10, 40)
            self._plan(ward, incident, "resolved", resolved,
                       result={"outcome": "fixed", "summary": "soak: handled by the ward"})
            if self._rng.random() < CLOSE_SHARE:
                self._plan(ward, incident, "closed", self._after(resolved, 5, 20))

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """The status updates due at ``now`` (worker clock), in due order, as contract messages."""
        out: list[dict[str, Any]] = []
        while self._queue and self._queue[0].due <= now and not self._holding.is_set():
            action = heapq.heappop(self._queue)
            key = (action.ward, action.incident)
            if action.copy != self._departures.get(key, 0):
                self.stats.withdrawn += 1
                continue
            if action.status == "reassigned":  # it leaves this ward now: nothing more is done with this copy
                self._departures[key] = self._departures.get(key, 0) + 1
                self._planned.discard(key)
            out.append({"update_id": f"soak-{uuid.uuid4()}", "incident_id": action.incident, "ward": action.ward,
                        "status": action.status, "actor": "soak-responder", **action.extra})
        return out

    # -- the thread -------------------------------------------------------------------------------
    @staticmethod
    def _unread(consumer: KafkaConsumer) -> int | None:
        """Messages on its topics the responder had not read when it stopped: more than a poll's
        worth means it fell behind the lifecycle, and its delays count its own lag too."""
        try:
            ends = consumer.end_offsets(list(consumer.assignment()))
            return sum(max(end - consumer.position(tp), 0) for tp, end in ends.items())
        except Exception:  # informative only
            return None

    def _failed(self, exc: BaseException) -> None:
        self.stats.send_failed += 1

    def _ack_landed(self, key: tuple[str, str]) -> Callable[[object], None]:
        def landed(_metadata: object) -> None:
            # read the clock when the broker answered, not when the message was handed to the client:
            # an acknowledgement still in the client at the deadline was not given in time
            self._ack_on_broker[key] = self.clock.now()
        return landed

    def _run(self) -> None:
        try:
            consumer = KafkaConsumer(**kafka_clients.kafka_python(
                self.settings, enable_auto_commit=False, auto_offset_reset="earliest", client_id="ioc-soak-responder"))
            producer = KafkaProducer(**kafka_clients.kafka_python(
                self.settings, linger_ms=20, acks=1, client_id="ioc-soak-responder"))
            try:
                read = (topics.INCIDENTS, topics.ESCALATIONS, topics.DEADLETTER)
                consumer.assign([TopicPartition(name, p) for name in read
                                 for p in sorted(consumer.partitions_for_topic(name) or ())])
                while not self._stop.is_set():
                    for tp, records in consumer.poll(timeout_ms=200, max_records=2000).items():
                        for record in records:
                            if not record.value:
                                continue
                            if tp.topic == topics.DEADLETTER:
                                if b'"iocupdate"' in record.value:  # the intake's dead letters are not ours
                                    self.observe_verdict(orjson.loads(record.value))
                            elif tp.topic == topics.ESCALATIONS:
                                self.observe_escalation(orjson.loads(record.value)["data"])
                            else:
                                self.observe(orjson.loads(record.value)["data"])
                    now = self.clock.now()
                    for update in self.due(now):
                        raw = orjson.dumps(update)
                        parse_status_update(raw)  # what the worker would dead-letter for its shape never leaves
                        future = producer.send(topics.STATUS, key=update["ward"].encode(), value=raw)
                        future.add_errback(self._failed)
                        self.stats.sent[update["status"]] = self.stats.sent.get(update["status"], 0) + 1
                        self._updates[update["update_id"]] = (update["status"], (update["ward"], update["incident_id"]))
                        if update["status"] == "acknowledged":
                            key = (update["ward"], update["incident_id"])
                            self._acked[key] = (now, time.monotonic())
                            future.add_callback(self._ack_landed(key))
                producer.flush(timeout=30)
                self.stats.unread_at_end = self._unread(consumer)
            finally:
                consumer.close()
                producer.close(timeout=10)
        except BaseException as exc:  # reported by the soak, not swallowed
            self.error = exc
