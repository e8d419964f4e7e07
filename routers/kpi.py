"""Service-level figures of wards and cities from incident state: pure functions, no I/O.

The city ranks its wards monthly on the share of 1022 reports handled on time; the dashboard shows
the same figures per ward and per city over any period. Everything here reads plain incident JSON
(the lifecycle's ``Incident.to_json``) or the compact :class:`Fact` taken from it.

Definitions (``now`` is the caller's clock; an incident belongs to the period it was *created* in):

* **received**: incidents created in the period; **reports**: the citizen reports among their evidence;
* **acknowledge decided**: acknowledged, or its acknowledge deadline passed (not while paused);
  **on time**: acknowledged at or before ``ack_due``;
* **resolve decided**: resolved, or its resolve deadline passed while open (not while paused);
  **on time**: resolved at or before ``resolve_due``;
* decided by the timestamps and ``now`` alone, not by the breach marks the SLA timer adds a moment
  after a deadline passes: the same state gives the same figures whenever they are computed;
* **on-time rate** = on time / decided (``None`` when nothing is decided yet, never a made-up 0);
* **time to acknowledge / resolve**: from ``created_at``; median and p90 by linear interpolation
  between closest ranks (numpy's default ``percentile``, ``statistics.quantiles(method="inclusive")``);
* **overdue now**: open, not paused, past a deadline it has not met (or a breach recorded);
* the **ranking** orders wards by on-time resolve rate ("handled on time"), then on-time acknowledge
  rate, then more decided incidents, then ward code; wards with nothing decided come last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from routers.incidents.timeutil import parse_time

VIETNAM = timezone(timedelta(hours=7), "ICT")
OPEN_STATUSES = frozenset({"new", "routed", "acknowledged", "dispatched", "waiting_citizen", "reopened"})


@dataclass(frozen=True, slots=True)
class Fact:
    """What the figures need of one incident (small enough to keep for a year per incident)."""

    id: str
    ward: str
    created_at: datetime
    status: str
    reports: int = 0
    priority: str = ""
    ack_due: datetime | None = None
    resolve_due: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_since: datetime | None = None
    breaches: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        for key, value in body.items():
            if isinstance(value, datetime):
                body[key] = value.astimezone(UTC).isoformat()
        body["breaches"] = list(self.breaches)
        return body


def _time(body: Mapping[str, Any], key: str) -> datetime | None:
    raw = body.get(key)
    return None if not raw else parse_time(str(raw))


def fact_of(incident: Mapping[str, Any]) -> Fact:
    """A :class:`Fact` from an incident's JSON (``Incident.to_json``) or from ``Fact.to_json``."""
    reports = incident.get("reports")
    if reports is None:
        reports = incident.get("report_count")  # how many; an evidence change's JSON lists only the new ids
    if reports is None:
        listed = incident.get("report_ids")  # every report, also those outside the evidence window
        reports = len(listed) if isinstance(listed, list) else sum(
            1 for e in incident.get("evidence") or () if e.get("source") == "report")  # a body of an earlier version
    created = _time(incident, "created_at")
    if created is None:
        raise ValueError(f"incident {incident.get('id')!r} has no created_at")
    return Fact(
        id=str(incident["id"]), ward=str(incident["ward"]), created_at=created, status=str(incident["status"]),
        reports=int(reports), priority=str(incident.get("priority") or ""),
        ack_due=_time(incident, "ack_due"), resolve_due=_time(incident, "resolve_due"),
        acknowledged_at=_time(incident, "acknowledged_at"), resolved_at=_time(incident, "resolved_at"),
        paused_since=_time(incident, "paused_since"), breaches=tuple(incident.get("breaches") or ()),
    )


# -- one incident ---------------------------------------------------------------------------------
def ack_outcome(f: Fact, now: datetime) -> bool | None:
    """True: acknowledged on time; False: late (or still unacknowledged past the deadline); None: not decided."""
    if f.acknowledged_at is not None:
        return f.ack_due is None or f.acknowledged_at <= f.ack_due
    if f.paused_since is None and f.ack_due is not None and f.ack_due < now:
        return False
    return None


def resolve_outcome(f: Fact, now: datetime) -> bool | None:
    """As :func:`ack_outcome`, for the resolve deadline."""
    if f.resolved_at is not None:
        return f.resolve_due is None or f.resolved_at <= f.resolve_due
    if f.is_open and f.paused_since is None and f.resolve_due is not None and f.resolve_due < now:
        return False
    return None


def is_overdue(f: Fact, now: datetime) -> bool:
    if not f.is_open:
        return False
    if f.breaches:
        return True
    if f.paused_since is not None:
        return False
    if f.acknowledged_at is None and f.ack_due is not None and f.ack_due < now:
        return True
    return f.resolve_due is not None and f.resolve_due < now


def at_risk(f: Fact, now: datetime, share: float = 0.75) -> bool:
    """Open, not yet overdue, but past ``share`` of the time to its next deadline (SLA risk)."""
    if not f.is_open or f.paused_since is not None or is_overdue(f, now):
        return False
    due = f.ack_due if f.acknowledged_at is None else f.resolve_due
    if due is None or due <= f.created_at:
        return False
    return (now - f.created_at) >= (due - f.created_at) * share


def seconds_to_ack(f: Fact) -> float | None:
    return None if f.acknowledged_at is None else max((f.acknowledged_at - f.created_at).total_seconds(), 0.0)


def seconds_to_resolve(f: Fact) -> float | None:
    return None if f.resolved_at is None else max((f.resolved_at - f.created_at).total_seconds(), 0.0)


# -- many incidents ------------------------------------------------------------------------------
def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def _rate(good: int, decided: int) -> float | None:
    return None if decided == 0 else good / decided


@dataclass(frozen=True, slots=True)
class Kpis:
    scope: str  # a ward code, or "city"
    received: int = 0
    reports: int = 0
    ack_decided: int = 0
    ack_on_time: int = 0
    resolve_decided: int = 0
    resolve_on_time: int = 0
    ack_on_time_rate: float | None = None
    resolve_on_time_rate: float | None = None
    median_ack_s: float | None = None
    p90_ack_s: float | None = None
    median_resolve_s: float | None = None
    p90_resolve_s: float | None = None
    open_now: int = 0
    overdue_now: int = 0
    at_risk_now: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def kpis(scope: str, facts: Iterable[Fact], start: datetime, end: datetime, now: datetime,
         current: Iterable[Fact] = ()) -> Kpis:
    """Figures of ``facts`` created in ``[start, end)``; the "now" counts over ``current`` (the open
    incidents, whenever created)."""
    chosen = [f for f in facts if start <= f.created_at < end]
    acks = [ack_outcome(f, now) for f in chosen]
    resolves = [resolve_outcome(f, now) for f in chosen]
    ack_waits = [s for s in map(seconds_to_ack, chosen) if s is not None]
    resolve_waits = [s for s in map(seconds_to_resolve, chosen) if s is not None]
    live = [f for f in current if f.is_open]
    ack_good, ack_decided = acks.count(True), sum(1 for a in acks if a is not None)
    res_good, res_decided = resolves.count(True), sum(1 for r in resolves if r is not None)
    return Kpis(
        scope=scope, received=len(chosen), reports=sum(f.reports for f in chosen),
        ack_decided=ack_decided, ack_on_time=ack_good, resolve_decided=res_decided, resolve_on_time=res_good,
        ack_on_time_rate=_rate(ack_good, ack_decided), resolve_on_time_rate=_rate(res_good, res_decided),
        median_ack_s=quantile(ack_waits, 0.5), p90_ack_s=quantile(ack_waits, 0.9),
        median_resolve_s=quantile(resolve_waits, 0.5), p90_resolve_s=quantile(resolve_waits, 0.9),
        open_now=len(live), overdue_now=sum(1 for f in live if is_overdue(f, now)),
        at_risk_now=sum(1 for f in live if at_risk(f, now)),
    )


def kpis_by_ward(wards: Iterable[str], facts: Iterable[Fact], start: datetime, end: datetime,
                 now: datetime) -> dict[str, Kpis]:
    """:func:`kpis` for every ward of ``wards`` (wards without incidents get empty figures)."""
    grouped: dict[str, list[Fact]] = {w: [] for w in wards}
    for f in facts:
        if f.ward in grouped:
            grouped[f.ward].append(f)
    return {w: kpis(w, group, start, end, now, current=group) for w, group in grouped.items()}


def ranking(by_ward: Mapping[str, Kpis]) -> list[dict[str, Any]]:
    """Wards best first (see the module doc); each row carries its rank (ties share none: the order is total)."""
    def key(item: tuple[str, Kpis]) -> tuple[int, float, float, int, str]:
        code, k = item
        decided = k.resolve_on_time_rate is not None or k.ack_on_time_rate is not None
        return (0 if decided else 1, -(k.resolve_on_time_rate if k.resolve_on_time_rate is not None else -1.0),
                -(k.ack_on_time_rate if k.ack_on_time_rate is not None else -1.0), -k.resolve_decided, code)

    rows = []
    for rank, (code, k) in enumerate(sorted(by_ward.items(), key=key), start=1):
        rows.append({"rank": rank, "ward": code, **{n: v for n, v in k.to_json().items() if n != "scope"}})
    return rows


# -- periods ---------------------------------------------------------------------------------------
def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``"2026-12"`` -> its first instant and the next month's, Vietnam time."""
    try:
        year, number = (int(p) for p in month.split("-"))
        start = datetime(year, number, 1, tzinfo=VIETNAM)
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM") from None
    end = start.replace(year=year + 1, month=1) if number == 12 else start.replace(month=number + 1)
    return start, end


def month_of(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m")


def months_between(start: datetime, end: datetime) -> list[str]:
    """Every month (Vietnam time) that ``[start, end)`` touches, oldest first."""
    months, cursor = [], month_bounds(month_of(start))[0]
    while cursor < end:
        months.append(month_of(cursor))
        cursor = month_bounds(month_of(cursor))[1]
    return months
