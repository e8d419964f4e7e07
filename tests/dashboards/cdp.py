"""A small Chrome DevTools Protocol client over aiohttp's websocket: enough to drive Debian's
headless Chromium against the dashboard (navigate, evaluate, wait, screenshot)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from streams.embedded.process import free_port

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class CdpError(Exception):
    pass


class Chromium:
    def __init__(self, profile_dir: Path, width: int = 1680, height: int = 1050) -> None:
        self.profile_dir = profile_dir
        self.width = width
        self.height = height
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.console: list[str] = []

    async def start(self, timeout_s: float = 30.0) -> Chromium:
        binary = chromium_path()
        if binary is None:
            raise CdpError("chromium is not installed")
        log = open(self.profile_dir.parent / "chromium.log", "ab")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile_dir}", f"--remote-debugging-port={self.port}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._session = aiohttp.ClientSession()
        deadline = time.monotonic() + timeout_s
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CdpError(f"chromium exited with code {self.process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with self._session.get(f"http://127.0.0.1:{self.port}/json/list") as response:
                    targets = [t for t in await response.json() if t.get("type") == "page"]
                if targets:
                    break
            await asyncio.sleep(0.2)
        if not targets:
            raise CdpError("chromium's DevTools endpoint did not come up")
        self._ws = await self._session.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send("Network.enable")
        await self.send("Network.setCacheDisabled", cacheDisabled=True)
        await self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                        deviceScaleFactor=1, mobile=False)
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            body = message.json()
            if "id" in body and body["id"] in self._pending:
                future = self._pending.pop(body["id"])
                if "error" in body:
                    future.set_exception(CdpError(str(body["error"])))
                else:
                    future.set_result(body.get("result", {}))
            elif body.get("method") == "Runtime.consoleAPICalled":
                args = body["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif body.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + str(body["params"]["exceptionDetails"].get("exception", {})
                                                        .get("description", body["params"]["exceptionDetails"])))

    async def send(self, method: str, timeout_s: float = 30.0, **params: Any) -> Any:
        if self._ws is None:
            raise CdpError("not connected")
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._ws.send_json({"id": message_id, "method": method, "params": params})
        return await asyncio.wait_for(future, timeout_s)

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 20.0, interval_s: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(CdpError):
                last = await self.evaluate(expression)
                if last:
                    return last
            await asyncio.sleep(interval_s)
        raise TimeoutError(f"{expression!r} still {last!r} after {timeout_s}s; console: {self.console[-5:]}")

    async def watch_csp(self) -> None:
        """From the next navigation on, record every Content-Security-Policy violation of the page
        (read them with :meth:`csp_violations`)."""
        await self.send("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push("
            "`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"))

    async def csp_violations(self) -> list[str]:
        return list(await self.evaluate("window.__cspViolations || []"))

    async def screenshot(self, path: Path) -> Path:
        result = await self.send("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
