"""routers.kpi: the service figures, as tables of incidents and the answers they must give."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from routers import kpi
from routers.kpi import Fact

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=3)


def fact(n: int = 1, ward: str = "26743", created: float = 0, ack_due: float | None = 600, resolve_due: float | None = 7200,
         acked: float | None = None, resolved: float | None = None, paused: float | None = None,
         breaches: tuple[str, ...] = (), status: str | None = None, reports: int = 1) -> Fact:
    """A fact with times in seconds after T0."""
    at = lambda s: None if s is None else T0 + timedelta(seconds=s)  # noqa: E731
    if status is None:
        status = "resolved" if resolved is not None else "acknowledged" if acked is not None else "routed"
    return Fact(id=f"inc-{n}", ward=ward, created_at=at(created), status=status, reports=reports, priority="P2",
                ack_due=at(ack_due), resolve_due=at(resolve_due), acknowledged_at=at(acked), resolved_at=at(resolved),
                paused_since=at(paused), breaches=breaches)


@pytest.mark.parametrize(("case", "f", "now", "ack", "resolve", "overdue"), [
    ("nothing yet, deadlines ahead", fact(), T0 + timedelta(seconds=60), None, None, False),
    ("acknowledged in time", fact(acked=300), NOW, True, False, True),  # resolve deadline passed at 2 h
    ("acknowledged exactly at the deadline", fact(acked=600), T0 + timedelta(seconds=700), True, None, False),
    ("acknowledged late", fact(acked=601), T0 + timedelta(seconds=700), False, None, False),
    ("never acknowledged, deadline passed", fact(), T0 + timedelta(seconds=601), False, None, True),
    ("paused before the deadline: not decided, not overdue", fact(paused=100, status="waiting_citizen"),
     T0 + timedelta(seconds=900), None, None, False),
    # the timestamps decide, not the breach mark the SLA timer adds a moment later (it still counts as overdue)
    ("a breach mark alone decides nothing", fact(ack_due=600, breaches=("ack",)), T0 + timedelta(seconds=500), None, None, True),
    ("resolved in time", fact(acked=60, resolved=3600), NOW, True, True, False),
    ("resolved late", fact(acked=60, resolved=7300), NOW, True, False, False),
    ("closed after an in-time resolve", fact(acked=60, resolved=3600, status="closed"), NOW, True, True, False),
    ("no deadlines at all", fact(ack_due=None, resolve_due=None, acked=60), NOW, True, None, False),
])
def test_one_incident(case: str, f: Fact, now: datetime, ack: bool | None, resolve: bool | None, overdue: bool) -> None:
    assert kpi.ack_outcome(f, now) is ack, case
    assert kpi.resolve_outcome(f, now) is resolve, case
    assert kpi.is_overdue(f, now) is overdue, case


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 0.5, None),
    ([7.0], 0.9, 7.0),
    ([1.0, 2.0], 0.5, 1.5),
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9, 9.1),  # numpy.percentile(range(1, 11), 90)
    ([10.0, 0.0, 5.0], 0.9, 9.0),
])
def test_quantile_is_linear_between_closest_ranks(values: list[float], q: float, expected: float | None) -> None:
    assert kpi.quantile(values, q) == pytest.approx(expected) if expected is not None else kpi.quantile(values, q) is None


def test_quantile_agrees_with_the_standard_library() -> None:
    values = [3.0, 141.0, 59.0, 26.0, 5.0, 35.0, 897.0, 93.0, 23.0, 84.0, 62.0]
    assert kpi.quantile(values, 0.5) == statistics.median(values)
    assert kpi.quantile(values, 0.9) == pytest.approx(statistics.quantiles(values, n=10, method="inclusive")[8])


def test_ward_figures_over_a_period() -> None:
    facts = [
        fact(1, acked=60, resolved=1800, reports=2),      # both on time; 60 s / 1800 s
        fact(2, acked=900, resolved=9000),                # both late; 900 s / 9000 s
        fact(3, acked=300),                               # ack on time; resolve deadline passed while open
        fact(4, created=2 * 3600 + 55 * 60, ack_due=3 * 3600 + 10 * 60, resolve_due=6 * 3600),  # after the period
        fact(5, ward="26740", acked=30, resolved=60),     # another ward
        fact(6, created=10, status="routed", ack_due=20), # never acknowledged: late, overdue
    ]
    start, end = T0, T0 + timedelta(hours=2, minutes=50)
    by_ward = kpi.kpis_by_ward(["26743", "26740", "26734"], facts, start, end, NOW)
    k = by_ward["26743"]
    assert (k.received, k.reports) == (4, 5)
    assert (k.ack_on_time, k.ack_decided, k.ack_on_time_rate) == (2, 4, 0.5)
    assert (k.resolve_on_time, k.resolve_decided) == (1, 4)  # 1 on time; 2 late; 3 and 6 open past the deadline
    assert k.median_ack_s == 300.0 and k.p90_ack_s == pytest.approx(300 + 0.8 * 600)
    assert k.median_resolve_s == pytest.approx((1800 + 9000) / 2)
    assert (k.open_now, k.overdue_now) == (3, 2)  # 3 (resolve late) and 6 (ack late); 4 not yet due
    assert by_ward["26740"].resolve_on_time_rate == 1.0
    empty = by_ward["26734"]
    assert (empty.received, empty.ack_on_time_rate, empty.median_ack_s) == (0, None, None)


def test_at_risk_means_three_quarters_of_the_time_used() -> None:
    f = fact(ack_due=600)
    assert not kpi.at_risk(f, T0 + timedelta(seconds=449))
    assert kpi.at_risk(f, T0 + timedelta(seconds=450))
    assert not kpi.at_risk(f, T0 + timedelta(seconds=601))  # overdue, no longer "at risk"
    acked = fact(acked=100, resolve_due=1000)
    assert kpi.at_risk(acked, T0 + timedelta(seconds=800)) and not kpi.at_risk(acked, T0 + timedelta(seconds=700))


def test_ranking_orders_by_on_time_resolve_then_ack_then_volume() -> None:
    def k(code: str, resolve: float | None, ack: float | None, decided: int) -> kpi.Kpis:
        return kpi.Kpis(scope=code, resolve_on_time_rate=resolve, ack_on_time_rate=ack, resolve_decided=decided)

    rows = kpi.ranking({
        "00003": k("00003", 0.9, 0.5, 10), "00001": k("00001", 0.9, 0.7, 5), "00002": k("00002", 1.0, 0.1, 1),
        "00004": k("00004", None, None, 0), "00005": k("00005", 0.9, 0.7, 8), "00006": k("00006", None, 0.4, 0),
    })
    assert [r["ward"] for r in rows] == ["00002", "00005", "00001", "00003", "00006", "00004"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5, 6]


def test_fact_round_trips_and_counts_reports_from_evidence() -> None:
    body = {"id": "inc-x", "ward": "26743", "status": "acknowledged", "priority": "P1",
            "created_at": "2026-12-06T08:00:00+07:00", "ack_due": "2026-12-06T08:02:00+07:00", "resolve_due": None,
            "acknowledged_at": "2026-12-06T08:01:00+07:00", "breaches": [],
            "evidence": [{"source": "report"}, {"source": "camera"}, {"source": "report"}]}
    f = kpi.fact_of(body)
    assert f.reports == 2 and f.created_at == datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    assert kpi.fact_of(f.to_json()) == f
    assert kpi.seconds_to_ack(f) == 60.0
    # today's bodies list every report apart: the evidence is a window of the first and latest items
    windowed = {**body, "evidence": [{"source": "camera"}], "report_ids": ["r1", "r2", "r3"]}
    assert kpi.fact_of(windowed).reports == 3
    # an evidence change's JSON lists only the report ids it added, and counts them all
    compact = {**body, "evidence": [{"source": "report"}], "report_count": 40, "new_report_ids": ["r40"]}
    assert kpi.fact_of(compact).reports == 40


@pytest.mark.parametrize(("month", "start", "end"), [
    ("2026-12", datetime(2026, 11, 30, 17, tzinfo=UTC), datetime(2026, 12, 31, 17, tzinfo=UTC)),
    ("2027-02", datetime(2027, 1, 31, 17, tzinfo=UTC), datetime(2027, 2, 28, 17, tzinfo=UTC)),
])
def test_months_are_vietnam_time(month: str, start: datetime, end: datetime) -> None:
    assert kpi.month_bounds(month) == (start, end)
    assert kpi.month_of(start) == month and kpi.month_of(start - timedelta(seconds=1)) != month
    assert kpi.months_between(start - timedelta(days=1), end) == [kpi.month_of(start - timedelta(days=1)), month]


@pytest.mark.parametrize("bad", ["2026", "2026-13", "december", ""])
def test_bad_months_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        kpi.month_bounds(bad)
