"""Truncated answers are their own count in every view; the concurrency in flight is stated.

A scripted model answers 10 samples: 6 right, 2 cut at the output limit (finish reason
``length``), 1 unparseable, 1 right. Every leaderboard view (terminal, leaderboard Markdown and
CSV, report HTML, Markdown and CSV) must show 2 truncated apart from 1 parse failure; the
manifest records the peak in flight and the report shows it next to the concurrency asked.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

from rich.console import Console
from test_html_report import LABELS, _samples

from medmine.core import Request, Response
from medmine.report.build import build_report
from medmine.report.leaderboard import load_leaderboard, render_terminal, to_csv, to_markdown
from medmine.run.execute import peak_in_flight
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask


class Cut:
    """Answers right, except samples 3 and 6 (cut at the limit) and 8 (unparseable)."""

    name = "cut"
    cache_id = "test:cut"
    max_concurrency = 8

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak_in_flight = 0

    def describe(self) -> dict[str, object]:
        return {"provider": "test", "warnings": ["cut: the server answers one stream at a time"]}

    async def generate(self, request: Request) -> Response:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        i = int(request.intent.sample_id.rsplit("_", 1)[1])
        if i in (3, 6):
            return Response(
                '{"label": "br',
                model=self.cache_id,
                finish_reason="length",
                error="truncated: the answer was cut at the output limit of 64 tokens "
                "(finish reason length)",
                error_kind="truncated",
            )
        if i == 8:
            return Response("~~~ no idea ~~~", model=self.cache_id)
        return Response(f'{{"label": "{LABELS[i % 2]}"}}', model=self.cache_id, latency_s=0.2)


def _run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    store = RunStore(run_dir)
    model = Cut()
    store.set_manifest(
        {
            "concurrency": {"cut": 8},
            "models": {"cut": model.describe()},
            "suite": {"name": "cut"},
        }
    )
    runner = Runner(store, None, progress=False, concurrency=8)
    job = Job(model, ClassificationTask(), "toy", _samples(tmp_path / "img", "toy", 10))
    runner.score(asyncio.run(runner.run([job])))
    store.set_manifest({"concurrency_peak": peak_in_flight(store.manifest(), [model])})
    store.close()
    return run_dir


def test_truncated_is_its_own_count_in_every_view(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    board = load_leaderboard(run_dir)
    (row,) = board.rows
    assert row.truncated == 2 and row.metrics["parse_failure_rate"] == 0.1

    console = Console(record=True, width=250)
    render_terminal(board, console)
    text = console.export_text()
    assert "fail/trunc/ref/err" in text and "10.0%/2/0.0%/0.0%" in text, text

    md = to_markdown(board)
    assert "| parse fail | truncated | refused |" in md
    assert re.search(r"\| 10 \| 10\.0% \| 2 \| 0\.0% \| 0\.0% \|", md), md
    (line,) = list(csv.DictReader(io.StringIO(to_csv(board))))
    assert line["truncated"] == "2" and float(line["parse_failure_rate"]) == 0.1

    report = build_report([run_dir], tmp_path / "report")
    html = report["html"].read_text(encoding="utf-8")
    assert 'data-key="truncated" data-count="2">2 (20.0%)' in html
    rmd = report["md"].read_text(encoding="utf-8")
    assert re.search(r"\| 10 \| 1 \(10\.0%\) \| 2 \(20\.0%\) \| 0 \(0\.0%\) \|", rmd), rmd


def test_the_peak_in_flight_and_the_warnings_are_reported(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    store = RunStore(run_dir)
    peak = store.manifest()["concurrency_peak"]["cut"]
    store.close()
    assert 2 <= peak <= 8  # the runner really had several requests in flight
    board = load_leaderboard(run_dir)
    assert board.concurrency == {"cut": f"8 (peak {peak} in flight)"}
    assert f"concurrency cut: 8 (peak {peak} in flight)" in to_markdown(board)
    assert any("one stream at a time" in n for n in board.notices)
    report = build_report([run_dir], tmp_path / "report")
    html = report["html"].read_text(encoding="utf-8")
    assert f"8 (peak {peak} in flight)" in html
    assert "Warning (cut): cut: the server answers one stream at a time" in html
