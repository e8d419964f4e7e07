"""streams.faust_ext.worker: the Worker keeps the root logger at the level asked for."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref

import faust
import pytest

from streams.faust_ext.worker import Worker, collect_periodically


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


@pytest.mark.parametrize(
    ("worker_class", "debug_records_built"),
    [(faust.Worker, True), (Worker, False)],
    ids=["faust.Worker sets the root logger to DEBUG", "faust_ext.worker.Worker keeps WARN"],
)
def test_worker_logging_level(worker_class: type[faust.Worker], debug_records_built: bool, restore_logging,
                              offline_app) -> None:
    worker = worker_class(offline_app(), loglevel="warn", quiet=True)
    worker._setup_logging()
    assert logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG) is debug_records_built


def test_collect_periodically_frees_cycles_the_generations_left() -> None:
    # With the young generation collected rarely, a cycle promoted before it became garbage waits
    # for an old-generation collection; the periodic full collection frees it.
    class Node:
        pass

    async def run() -> bool:
        node = Node()
        node.me = node  # type: ignore[attr-defined]
        gone = weakref.ref(node)
        del node
        task = asyncio.ensure_future(collect_periodically(0.01))
        try:
            for _ in range(200):
                if gone() is None:
                    return True
                await asyncio.sleep(0.01)
            return False
        finally:
            task.cancel()

    was_enabled = gc.isenabled()
    gc.disable()  # only the periodic collection may free it
    try:
        assert asyncio.run(run())
    finally:
        if was_enabled:
            gc.enable()
