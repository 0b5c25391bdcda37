"""The HTML report in headless Chromium: no console errors, the DOM's numbers equal the run DB's.

Drives Chromium through the DevTools protocol (a websocket on 127.0.0.1): console messages and
exceptions are collected from before the page loads, the leaderboard cells are read from the
rendered DOM, and a full-page screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from cdp_browser import NEEDS_CHROMIUM, page

from medmine.report.build import build_report
from medmine.run.store import RunStore

pytestmark = NEEDS_CHROMIUM


def render(html: Path, tmp_path: Path) -> tuple[list[str], list[dict[str, Any]], bytes]:
    """Open a file in Chromium: (console errors, leaderboard rows from the DOM, screenshot)."""
    with page(tmp_path) as dt:
        dt.navigate(html.resolve().as_uri())
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
        rows = dt.evaluate(script)
        metrics = dt.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        png = dt.screenshot(0, 0, 1280, min(size["height"], 6000))
        dt.drain()
        return dt.errors(), rows, png


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
