"""The HTML report in headless Chromium: no console errors, the DOM's numbers equal the run DB's.

Drives Chromium through the DevTools protocol (a websocket on 127.0.0.1): console messages and
exceptions are collected from before the page loads, the leaderboard cells are read from the
rendered DOM, and a full-page screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from medmine.report.build import build_report
from medmine.run.store import RunStore

websockets_sync = pytest.importorskip("websockets.sync.client")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
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
    "--window-size=1280,900",
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
        """Wait for an event (or find it among those already received)."""
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(msg)
            if msg.get("method") == method:
                return msg

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


def _browser(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start headless Chromium on a free debugging port; returns the process and the port."""
    profile = tmp_path / "profile"
    profile.mkdir()
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            *FLAGS,
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


def render(html: Path, tmp_path: Path) -> tuple[list[str], list[dict[str, Any]], bytes]:
    """Open a file in Chromium: (console errors, leaderboard rows from the DOM, screenshot)."""
    proc, port = _browser(tmp_path)
    try:
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        with websockets_sync.connect(
            page["webSocketDebuggerUrl"], max_size=None, open_timeout=20
        ) as ws:
            dt = DevTools(ws)
            for domain in ("Page", "Runtime", "Log"):
                dt.call(f"{domain}.enable")
            dt.call("Page.navigate", url=html.resolve().as_uri())
            dt.wait_event("Page.loadEventFired", timeout=60)
            script = """
              Array.from(document.querySelectorAll('table.leaderboard')).flatMap(t =>
                Array.from(t.querySelectorAll('tbody tr')).map(r => ({
                  task: t.dataset.task, dataset: t.dataset.dataset, model: r.dataset.model,
                  text: r.querySelector('td.headline').textContent.trim(),
                  value: r.querySelector('td.headline').dataset.value,
                  bold: getComputedStyle(r.querySelector('td.headline')).fontWeight,
                  n: r.querySelector('td.n').textContent.trim(),
                  visible: r.getBoundingClientRect().height > 0,
                })))
            """
            rows = dt.call("Runtime.evaluate", expression=script, returnByValue=True)
            metrics = dt.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = dt.call(
                "Page.captureScreenshot",
                timeout=60,
                format="png",
                captureBeyondViewport=True,
                clip={
                    "x": 0,
                    "y": 0,
                    "width": 1280,
                    "height": min(size["height"], 6000),
                    "scale": 1,
                },
            )
            time.sleep(0.2)
            try:  # drain late console events
                while True:
                    dt.events.append(json.loads(ws.recv(timeout=0.3)))
            except TimeoutError:
                pass
            return dt.errors(), rows["result"]["value"], base64.b64decode(shot["data"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run with failures and refusals (shared with the HTML content tests)."""
    from test_html_report import make_run

    return make_run(tmp_path_factory.mktemp("browser_run"))


def test_report_renders_without_console_errors_and_shows_the_db_numbers(
    demo_run: Path, tmp_path: Path
) -> None:
    out = build_report([demo_run], tmp_path / "report")
    errors, rows, png = render(out["html"], tmp_path)
    shot = tmp_path / "report.png"
    shot.write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert errors == []

    store = RunStore(demo_run)
    scores = store.scores()
    store.close()
    assert len(rows) == len(scores)
    by_key = {(r["task"], r["dataset"], r["model"]): r for r in rows}
    for sc in scores:
        row = by_key[(sc["task"], sc["dataset"], sc["model"])]
        value = sc["metrics"][sc["headline"]]
        assert row["visible"]
        assert math.isclose(float(row["value"]), value, rel_tol=0, abs_tol=1e-12)
        assert row["text"] == f"{value:.3f}"
        assert row["n"] == str(int(sc["metrics"]["n"]))
