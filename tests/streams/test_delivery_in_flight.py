"""forward_batches bounds what waits for broker acks: batches, and (optionally) the input events
they hold together; agents sharing a ``turn`` queue their outputs in the order they decided. No
broker: a stand-in stream and a publish whose acks the test releases."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from streams.delivery import Outgoing, forward_batches


class _Message:
    def __init__(self) -> None:
        self.pins = 0

    def incref(self) -> None:
        self.pins += 1


class _Event:
    def __init__(self) -> None:
        self.message = _Message()
        self.acked = False

    def ack(self) -> None:
        self.acked = True


class _Stream:
    app = None

    def __init__(self, sizes: Sequence[int], delay_s: float = 0.0) -> None:
        self.batches = [[_Event() for _ in range(n)] for n in sizes]
        self.delay_s = delay_s

    async def take_events(self, max_batch: int, within: float) -> Any:
        for batch in self.batches:
            await asyncio.sleep(self.delay_s)
            yield batch


def _run(sizes: Sequence[int], **bounds: Any) -> list[int]:
    """The input events of earlier batches still waiting for acks each time a batch is handed to the handler."""

    async def main() -> list[int]:
        unacked: list[asyncio.Future] = []
        waiting: list[int] = []
        stream = _Stream(sizes)

        def handle(events: Sequence[Any]) -> list[Outgoing]:
            pinned = sum(len(b) for b in stream.batches if any(e.message.pins and not e.acked for e in b))
            waiting.append(pinned - len(events))
            return [Outgoing("t", None, b"v") for _ in events]

        async def publish(messages: Sequence[Outgoing]) -> list[asyncio.Future]:
            future = asyncio.get_running_loop().create_future()
            unacked.append(future)
            return [future]

        async def broker() -> None:  # acks one publish at a time, slowly
            while True:
                await asyncio.sleep(0.01)
                for future in unacked:
                    if not future.done():
                        future.set_result(None)
                        break

        acker = asyncio.ensure_future(broker())
        try:
            await forward_batches(stream, handle, publish, **bounds)  # type: ignore[arg-type]
        finally:
            acker.cancel()
        assert all(e.acked for b in stream.batches for e in b)
        return waiting

    return asyncio.run(main())


def test_batches_in_flight_are_bounded_by_count() -> None:
    waiting = _run([100] * 10, max_in_flight=4)
    assert max(waiting) <= 4 * 100


def test_input_events_in_flight_are_bounded_too() -> None:
    # a stage behind takes full batches: only one of them waits for its acks while the next is decided
    waiting = _run([4000] * 5, max_in_flight=4, max_events_in_flight=4000)
    assert max(waiting) <= 4000
    assert max(_run([4000] * 5, max_in_flight=4)) > 4000  # without the bound, several wait


def test_small_batches_still_pipeline_under_the_event_bound() -> None:
    waiting = _run([50] * 20, max_in_flight=4, max_events_in_flight=4000)
    assert max(waiting) >= 100  # more than one small batch waited at once: the bound did not serialise them


def _two_agents_deciding(turn: asyncio.Lock | None) -> tuple[list[str], list[str]]:
    """Agent "slow" decides first but its publish waits (a busy partition draining); agent "quick"
    decides a moment later and publishes at once. Returns (decided, queued) in order."""

    async def main() -> tuple[list[str], list[str]]:
        decided: list[str] = []
        queued: list[str] = []

        def agent(name: str, drain_s: float) -> tuple[Any, Any]:
            def handle(events: Sequence[Any]) -> list[Outgoing]:
                decided.append(name)
                return [Outgoing("ioc.incidents", b"inc-1", name.encode())]

            async def publish(messages: Sequence[Outgoing]) -> list[asyncio.Future]:
                await asyncio.sleep(drain_s)
                queued.extend(m.value.decode() for m in messages)
                done = asyncio.get_running_loop().create_future()
                done.set_result(None)
                return [done]
            return handle, publish

        slow_handle, slow_publish = agent("slow", 0.05)
        quick_handle, quick_publish = agent("quick", 0.0)
        await asyncio.gather(
            forward_batches(_Stream([1]), slow_handle, slow_publish, turn=turn),  # type: ignore[arg-type]
            forward_batches(_Stream([1], delay_s=0.01), quick_handle, quick_publish, turn=turn),  # type: ignore[arg-type]
        )
        return decided, queued

    return asyncio.run(main())


def test_agents_sharing_a_turn_queue_outputs_in_the_order_they_decided() -> None:
    decided, queued = _two_agents_deciding(asyncio.Lock())
    assert decided == queued == ["slow", "quick"]


def test_without_a_turn_a_later_decision_can_overtake() -> None:
    # what the turn is for: the lifecycle's two agents once published an incident's versions out of order
    decided, queued = _two_agents_deciding(None)
    assert (decided, queued) == (["slow", "quick"], ["quick", "slow"])
