"""The soak's verdict on issue 20's acceptance items, from the numbers a soak collected."""

from __future__ import annotations

from benchmarks.soak import SoakResult, WorkerMemory, acceptance


def soak(backlog: list[float], rss: list[float], **responder: object) -> SoakResult:
    result = SoakResult(minutes=10, rate=1000, produced=600_000, produced_per_s=1000.0)
    result.memory = [WorkerMemory("worker-0", start_mb=300, end_mb=rss[-1], peak_mb=max(rss))]
    # one sample every 5 s over 10 minutes; the window is the last 5 minutes
    result.samples = [{"t": 5.0 * n, "lifecycle_backlog": b, "rss_mb.worker-0": m}
                      for n, (b, m) in enumerate(zip(backlog, rss, strict=True))]
    result.responder = {"sent": {"acknowledged": 900}, "acks_applied": 900, "acks_unapplied": 0,
                        "escalated_after_ack": 0, "ack_escalations_seen": 40, "ack_delay_p50_s": 0.2,
                        "ack_delay_p99_s": 0.9, "ack_delay_max_s": 1.5} | responder
    return result


def verdicts(result: SoakResult) -> dict[str, bool | None]:
    return {c.key: c.passed for c in acceptance(result)}


FLAT = [300.0 + (n % 3) * 200 for n in range(121)]  # a batch's wobble, no trend
STEADY_RSS = [320.0 + (n % 2) for n in range(121)]


def test_a_healthy_soak_passes_every_item() -> None:
    assert verdicts(soak(FLAT, STEADY_RSS)) == {
        "rate": True, "backlog_flat": True, "acks_applied": True, "no_escalation_after_ack": True,
        "rss_flat.worker-0": True, "rss_limit.worker-0": True, "conservation": True}


def test_each_failure_is_named() -> None:
    growing = [300.0 + 200 * n for n in range(121)]  # 2,400 a minute: the lifecycle falls behind
    assert verdicts(soak(growing, STEADY_RSS))["backlog_flat"] is False
    creeping = [320.0 + 0.5 * n for n in range(121)]  # +6 MB a minute, under 400 MB
    got = verdicts(soak(FLAT, creeping))
    assert got["rss_flat.worker-0"] is False and got["rss_limit.worker-0"] is True
    assert verdicts(soak(FLAT, [390.0 + (n == 60) * 20 for n in range(121)]))["rss_limit.worker-0"] is False
    assert verdicts(soak(FLAT, STEADY_RSS, acks_unapplied=3))["acks_applied"] is False
    assert verdicts(soak(FLAT, STEADY_RSS, escalated_after_ack=1))["no_escalation_after_ack"] is False
    slow = soak(FLAT, STEADY_RSS)
    slow.produced_per_s = 900.0
    slow.lost = 1
    got = verdicts(slow)
    assert got["rate"] is False and got["conservation"] is False


def test_items_a_soak_did_not_measure_are_not_passed() -> None:
    result = soak(FLAT, STEADY_RSS)
    result.responder = None
    for sample in result.samples:
        del sample["lifecycle_backlog"]
    got = verdicts(result)
    assert got["acks_applied"] is None and got["no_escalation_after_ack"] is None and got["backlog_flat"] is None
