"""Results back to the portal: the signature a receiver checks, and when to try again.

Signature (``X-IOC-Signature``): ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``,
the timestamp inside the signed text so a captured delivery cannot be replayed later
(receivers refuse a ``t`` older than a few minutes). The ``Idempotency-Key`` header is the result's
CloudEvents ``id``: a redelivery carries the same one, so the portal stores each result once.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping

SIGNATURE_HEADER = "X-IOC-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_BACKOFF_S = 60.0
DELIVERED = frozenset({200, 201, 202, 204, 409})  # 409: the portal already has this result (same key)
RETRY_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, now: float, tolerance_s: float = 300.0) -> bool:
    """What a receiver does: the header's MAC matches and its timestamp is recent.

    >>> header = sign("s3cret", b"{}", 1_700_000_000)
    >>> verify("s3cret", b"{}", header, now=1_700_000_010), verify("other", b"{}", header, now=1_700_000_010)
    (True, False)
    """
    parts: Mapping[str, str] = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp)
    return hmac.compare_digest(expected, f"t={timestamp},v1={parts.get('v1', '')}")


def outcome(status: int) -> str:
    """``delivered``, ``retry`` or ``rejected`` (a 4xx the portal will answer again: no retry)."""
    if status in DELIVERED:
        return "delivered"
    if status >= 500 or status in RETRY_STATUSES:
        return "retry"
    return "rejected"


def backoff_s(attempt: int, base_s: float, rng: random.Random | None = None,
              retry_after_s: float | None = None) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` from 1): ``base * 2^(attempt-1)`` with
    "equal jitter" (between half and all of it), at most :data:`MAX_BACKOFF_S`; a server's
    ``Retry-After`` is honoured up to the same cap.

    >>> [round(backoff_s(n, 1.0, random.Random(0)), 2) for n in (1, 2, 3)]
    [0.92, 1.84, 3.69]
    """
    full = min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempt - 1))
    delay = full * (0.5 + 0.5 * (rng or random).random())
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(MAX_BACKOFF_S, retry_after_s))
    return delay
