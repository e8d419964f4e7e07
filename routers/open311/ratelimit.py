"""A token bucket per client: ``rate`` requests per minute, bursts up to the same number."""

from __future__ import annotations

from collections import OrderedDict


class RateLimiter:
    """``allow(client, now)`` is False once a client used up its bucket; the bucket refills at
    ``per_minute / 60`` tokens a second. Only the ``max_clients`` most recent clients are kept
    (client addresses of anonymous GETs must not grow memory without bound).

    >>> limiter = RateLimiter(per_minute=2)
    >>> [limiter.allow("app", 0.0), limiter.allow("app", 0.1), limiter.allow("app", 0.2), limiter.allow("app", 30.5)]
    [True, True, False, True]
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.capacity = float(max(per_minute, 1))
        self.refill_per_s = self.capacity / 60.0
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def allow(self, client: str, now: float) -> bool:
        tokens, at = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.refill_per_s)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after_s(self, client: str) -> int:
        tokens, _ = self._buckets.get(client, (self.capacity, 0.0))
        return max(1, int((1.0 - tokens) / self.refill_per_s) + 1)
