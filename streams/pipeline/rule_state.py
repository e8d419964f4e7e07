"""Rule state shared by all workers of one app, in Redis: sensor hysteresis state (hash
``<app id>:sensor-state``) and active inhibitors (hash ``<app id>:inhibitors``). Two apps on one
Redis keep their own (each consumes the intake on its own, so each must see every reading itself).

Sensors are keyed by sensor id on the intake topic, so one worker owns a sensor at a time; Redis
keeps its state across restarts and rebalances. Inhibitors are raised by whichever worker sees the
alert but must hold back reports on every worker, so each worker refreshes them every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
import redis.asyncio as aioredis

from routers.rules import Inhibitor, InhibitorBoard, SensorState
from streams.redis_retry import retrying


class RuleStateStore:
    """``client``: the worker's one asyncio Redis client (:func:`streams.redis_retry.client`),
    owned and closed by the worker's services."""

    def __init__(self, client: aioredis.Redis, app_id: str, refresh_s: float = 2.0) -> None:
        self._client = client
        self.sensor_state_key = f"{app_id}:sensor-state"
        self.inhibitors_key = f"{app_id}:inhibitors"
        self.board = InhibitorBoard()
        self.refresh_s = refresh_s
        self._refreshed_at = 0.0

    async def sensor_states(self, sensor_ids: Iterable[str]) -> dict[str, SensorState]:
        ids = sorted(set(sensor_ids))
        if not ids:
            return {}
        values = await retrying(lambda: self._client.hmget(self.sensor_state_key, ids), "sensor state")
        return {sid: SensorState.from_json(orjson.loads(v)) for sid, v in zip(ids, values, strict=True) if v}

    async def save(self, sensors: dict[str, SensorState], raised: list[Inhibitor]) -> None:
        if not sensors and not raised:
            return
        if raised:
            self.board.apply(tuple(raised))

        async def write() -> None:  # HSET of the same values: safe to repeat after a failed try
            pipe = self._client.pipeline(transaction=False)
            if sensors:
                pipe.hset(self.sensor_state_key, mapping={k: orjson.dumps(v.to_json()) for k, v in sensors.items()})
            if raised:
                pipe.hset(self.inhibitors_key, mapping={i.key: orjson.dumps(i.to_json()) for i in raised})
            await pipe.execute()

        await retrying(write, "rule state save")

    async def inhibitors(self) -> tuple[Inhibitor, ...]:
        """The active inhibitors, re-read from Redis at most every ``refresh_s``."""
        now = time.time()
        if time.monotonic() - self._refreshed_at >= self.refresh_s:
            stored = await retrying(lambda: self._client.hgetall(self.inhibitors_key), "inhibitors")
            self.board.apply(tuple(Inhibitor.from_json(orjson.loads(v)) for v in stored.values()))
            expired = [k for k, v in stored.items() if not Inhibitor.from_json(orjson.loads(v)).active(now)]
            if expired:
                await retrying(lambda: self._client.hdel(self.inhibitors_key, *expired), "inhibitor expiry")
            self._refreshed_at = time.monotonic()
        return self.board.active(now)
