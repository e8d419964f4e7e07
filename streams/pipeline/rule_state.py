"""Rule state shared by all workers, in Redis: sensor hysteresis state (hash ``ioc:sensor-state``)
and active inhibitors (hash ``ioc:inhibitors``).

Sensors are keyed by sensor id on the intake topic, so one worker owns a sensor at a time; Redis
keeps its state across restarts and rebalances. Inhibitors are raised by whichever worker sees the
alert but must hold back reports on every worker, so each worker refreshes them every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson

from routers.rules import Inhibitor, InhibitorBoard, SensorState
from streams.redis_retry import client, retrying

SENSOR_STATE_KEY = "ioc:sensor-state"
INHIBITORS_KEY = "ioc:inhibitors"


class RuleStateStore:
    def __init__(self, redis_url: str, refresh_s: float = 2.0) -> None:
        self._client = client(redis_url)
        self.board = InhibitorBoard()
        self.refresh_s = refresh_s
        self._refreshed_at = 0.0

    async def sensor_states(self, sensor_ids: Iterable[str]) -> dict[str, SensorState]:
        ids = sorted(set(sensor_ids))
        if not ids:
            return {}
        values = await retrying(lambda: self._client.hmget(SENSOR_STATE_KEY, ids), "sensor state")
        return {sid: SensorState.from_json(orjson.loads(v)) for sid, v in zip(ids, values, strict=True) if v}

    async def save(self, sensors: dict[str, SensorState], raised: list[Inhibitor]) -> None:
        if not sensors and not raised:
            return
        if raised:
            self.board.apply(tuple(raised))

        async def write() -> None:  # HSET of the same values: safe to repeat after a failed try
            pipe = self._client.pipeline(transaction=False)
            if sensors:
                pipe.hset(SENSOR_STATE_KEY, mapping={k: orjson.dumps(v.to_json()) for k, v in sensors.items()})
            if raised:
                pipe.hset(INHIBITORS_KEY, mapping={i.key: orjson.dumps(i.to_json()) for i in raised})
            await pipe.execute()

        await retrying(write, "rule state save")

    async def inhibitors(self) -> tuple[Inhibitor, ...]:
        """The active inhibitors, re-read from Redis at most every ``refresh_s``."""
        now = time.time()
        if time.monotonic() - self._refreshed_at >= self.refresh_s:
            stored = await retrying(lambda: self._client.hgetall(INHIBITORS_KEY), "inhibitors")
            self.board.apply(tuple(Inhibitor.from_json(orjson.loads(v)) for v in stored.values()))
            expired = [k for k, v in stored.items() if not Inhibitor.from_json(orjson.loads(v)).active(now)]
            if expired:
                await retrying(lambda: self._client.hdel(INHIBITORS_KEY, *expired), "inhibitor expiry")
            self._refreshed_at = time.monotonic()
        return self.board.active(now)
