"""Headless Chromium driven through the DevTools protocol (a websocket on 127.0.0.1).

Shared by the browser tests of the HTML report and of the review page (tests/review puts this
folder on ``sys.path``): console messages and
exceptions are collected from before the page loads; mouse and keyboard input is dispatched
as real input events; screenshots are PNG bytes.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


class DevTools:
    """A minimal DevTools-protocol client for one page target."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its reply, keeping the events that arrive meanwhile."""
        mid = next(self.ids)
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for an event (or find it among those already received); it is consumed."""
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("method") == method:
                return msg
            self.events.append(msg)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression (promises awaited); raises on a JS exception."""
        out = self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in out:
            raise RuntimeError(f"JS error: {json.dumps(out['exceptionDetails'])[:500]}")
        return out["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"waited {timeout} s for: {expression}")

    def navigate(self, url: str, timeout: float = 60.0) -> None:
        """Open a URL and wait for its load event."""
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", timeout=timeout)

    def key(self, key: str) -> None:
        """Press and release one key (a printable character or a DOM key name like 'Enter')."""
        text = key if len(key) == 1 else ("\r" if key == "Enter" else "")
        codes = {"Enter": 13, "Delete": 46, "ArrowLeft": 37, "ArrowRight": 39}
        code = codes.get(key, ord(key.upper()) if len(key) == 1 else 0)
        down = {"type": "keyDown", "key": key, "windowsVirtualKeyCode": code}
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", **down)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, windowsVirtualKeyCode=code)

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> None:
        """Press the left button at (x0, y0), move in steps to (x1, y1), release."""
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x0, y=y0)
        self.call(
            "Input.dispatchMouseEvent",
            type="mousePressed",
            x=x0,
            y=y0,
            button="left",
            buttons=1,
            clickCount=1,
        )
        for i in range(1, steps + 1):
            x = x0 + (x1 - x0) * i / steps
            y = y0 + (y1 - y0) * i / steps
            self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, buttons=1)
        self.call(
            "Input.dispatchMouseEvent",
            type="mouseReleased",
            x=x1,
            y=y1,
            button="left",
            buttons=0,
            clickCount=1,
        )

    def click(self, x: float, y: float) -> None:
        """A left click at (x, y)."""
        self.drag(x, y, x, y, steps=1)

    def screenshot(self, x: float, y: float, width: float, height: float) -> bytes:
        """A PNG of a region of the page (document coordinates)."""
        shot = self.call(
            "Page.captureScreenshot",
            timeout=60,
            format="png",
            captureBeyondViewport=True,
            clip={"x": x, "y": y, "width": width, "height": height, "scale": 1},
        )
        return base64.b64decode(shot["data"])

    def drain(self, seconds: float = 0.3) -> None:
        """Collect late events (console messages) for ``seconds``."""
        try:
            while True:
                self.events.append(json.loads(self.ws.recv(timeout=seconds)))
        except TimeoutError:
            pass

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args", []))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", "")[:500])
        return out


def start_chromium(tmp_path: Path, width: int = 1280, height: int = 900) -> tuple[Any, int]:
    """Start headless Chromium on a free debugging port; returns the process and the port."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text().splitlines()[0])
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    pytest.fail("chromium did not start its DevTools endpoint within 60 s")


@contextmanager
def page(tmp_path: Path, width: int = 1280, height: int = 900) -> Iterator[DevTools]:
    """A fresh Chromium page with Page, Runtime and Log events enabled; closed afterwards."""
    websockets_sync = pytest.importorskip("websockets.sync.client")
    proc, port = start_chromium(tmp_path, width, height)
    try:
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        target = next(t for t in targets if t.get("type") == "page")
        with websockets_sync.connect(
            target["webSocketDebuggerUrl"], max_size=None, open_timeout=20
        ) as ws:
            dt = DevTools(ws)
            for domain in ("Page", "Runtime", "Log"):
                dt.call(f"{domain}.enable")
            yield dt
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
