"""A small portal receiver for the delivery tests: a real HTTP server on 127.0.0.1 that refuses
some requests (503 on the first try of every result, optionally more) and keeps what it accepted."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class PortalReceiver:
    fail_first: int = 1  # answers 503 to the first N tries of each Idempotency-Key
    always_fail: bool = False
    fail_status: int = 503
    accepted: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                item = Received(body, {k: v for k, v in self.headers.items()}, time.monotonic())
                key = self.headers.get("Idempotency-Key") or ""
                with receiver.lock:
                    receiver.tries[key] = receiver.tries.get(key, 0) + 1
                    fail = receiver.always_fail or receiver.tries[key] <= receiver.fail_first
                    (receiver.refused if fail else receiver.accepted).append(item)
                self.send_response(receiver.fail_status if fail else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/ioc/results"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted_for(self, report_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.accepted if r.json.get("data", {}).get("report_id") == report_id]
