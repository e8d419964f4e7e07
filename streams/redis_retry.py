"""Redis calls on the routing path wait out an outage instead of failing the batch.

Why wait instead of failing: the intake agent consumes with Faust's ``take_events``, which acks a
batch's offsets when the loop body is left, also by an exception. A Redis error escaping
``handle_batch`` would therefore commit events that were never published (and Faust then stops
the crashed agent). So the worker holds the batch and retries: it stops consuming while Redis is
down (backpressure: the intake lag grows, nothing is lost, nothing is dead-lettered) and carries
on when Redis answers again.

The wait between tries is bounded (exponential from 0.1 s, capped at 2 s) and the sockets have
timeouts, so a *frozen* Redis (SIGSTOP, a network partition) turns into timeouts and retries, not
a hang. How long an outage may last is left to operations: the consumer-lag alert fires while
the worker waits, and the log says so every ``LOG_EVERY_S`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
import redis.exceptions

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)  # BusyLoading is a ConnectionError
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 2.0
LOG_EVERY_S = 10.0
SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0


def client(redis_url: str) -> aioredis.Redis:
    """An asyncio client whose calls time out (a silent server must not hang the agent forever)."""
    return aioredis.Redis.from_url(redis_url, socket_timeout=SOCKET_TIMEOUT_S,
                                   socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=30)


async def retrying(call: Callable[[], Awaitable[T]], what: str, max_delay_s: float = MAX_DELAY_S) -> T:
    """``await call()`` until it succeeds; connection errors and timeouts are retried with backoff.

    ``call`` must be safe to repeat (reads, ``HSET`` of the same values, ``HDEL``). Other
    exceptions (a bad reply, a bug) propagate at once.
    """
    delay = FIRST_DELAY_S
    started = time.monotonic()
    logged_at = 0.0
    while True:
        try:
            result = await call()
        except RETRYABLE as exc:
            now = time.monotonic()
            if now - logged_at >= LOG_EVERY_S:
                log.warning("redis unavailable for %s (%.0fs so far, retrying): %s", what, now - started, exc)
                logged_at = now
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        if logged_at:
            log.warning("redis back for %s after %.1fs", what, time.monotonic() - started)
        return result
