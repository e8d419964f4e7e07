"""The simulator's producer in a process of its own, for benchmarks that drive a design rate.

At 1,000 events/s a producer thread shares the harness's interpreter (and its GIL) with the
outcome reader, the ward responder and the samplers: on a 2-core machine it fell to ~400/s and
the soak measured a rate nobody asked for. A child process has its own interpreter; it writes the
position of every message the broker acknowledged (``topic/partition/offset``, one per line) to a
file the harness reads as it grows. It sends in record batches (:mod:`streams.simulator.batched`):
kafka-python's message-by-message ``send`` cost more CPU than generating the message, and with the
worker, broker and Redis on the same 2 cores the child reached only 660-900 of 1,000/s.

    producer = ProducerProcess(settings, rate=1000, duration_s=600, origins_path=run_dir / "origins")
    producer.start()
    ...
    producer.origins()   # every acknowledged position so far
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from streams.settings import Settings

FLUSH_EVERY_S = 0.5


def _produce(settings: Settings, city: str, scenario: str, seed: int, rate: float, duration_s: float,
             origins_path: Path) -> None:
    from streams.simulator.batched import produce_batched
    from streams.simulator.run import build_scenario

    sim = build_scenario(settings, city, scenario, seed=seed)
    sim.pace(rate)  # event times follow the wall clock, as a city's would (a soak runs the real-time clock)
    pending: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def sent(message: object, partition: int, offset: int) -> None:
        with lock:
            pending.append(f"{message.topic}/{partition}/{offset}\n")  # type: ignore[attr-defined]

    def flush() -> None:
        with lock:
            lines, pending[:] = list(pending), []
        if lines:
            with origins_path.open("a", encoding="utf-8") as handle:
                handle.writelines(lines)

    def flush_periodically() -> None:
        while not done.wait(FLUSH_EVERY_S):
            flush()

    flusher = threading.Thread(target=flush_periodically, name="origins-flush", daemon=True)
    flusher.start()
    started = time.monotonic()
    try:
        stats = produce_batched(settings, sim, rate=rate, duration_s=duration_s, on_sent=sent)
        # the rate over the producing time only (the child first loads the boundaries for the scenario)
        _rate_path(origins_path).write_text(f"{stats.produced / max(time.monotonic() - started, 1e-9):.1f}\n")
    finally:
        done.set()
        flusher.join()
        flush()


def _rate_path(origins_path: Path) -> Path:
    return origins_path.with_name(origins_path.name + ".rate")


class ProducerProcess:
    """``produce`` of :mod:`streams.simulator.run` in a spawned child; positions land in ``origins_path``."""

    def __init__(self, settings: Settings, rate: float, duration_s: float, origins_path: Path,
                 city: str = "hcmc", scenario: str = "normal", seed: int = 3) -> None:
        origins_path.write_text("", encoding="utf-8")
        self.origins_path = origins_path
        self._read: list[str] = []
        self._offset = 0
        context = multiprocessing.get_context("spawn")  # the harness runs threads: never fork it
        self._process = context.Process(
            target=_produce, name="soak-producer", daemon=True,
            args=(settings, city, scenario, seed, rate, duration_s, origins_path))

    def start(self) -> None:
        self._process.start()

    def is_alive(self) -> bool:
        return self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def origins(self) -> list[str]:
        """Every position the child wrote so far (complete lines only), in order."""
        with self.origins_path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk.rfind(b"\n") + 1
        self._offset += complete
        self._read.extend(chunk[:complete].decode("utf-8").splitlines())
        return self._read

    def achieved_rate(self) -> float | None:
        """Messages per second the child sent while producing; None before it finished."""
        path = _rate_path(self.origins_path)
        return float(path.read_text()) if path.exists() else None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout_s)
