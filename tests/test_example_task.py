"""A new task kind is one module: ``tests/plugins/image_category_task.py`` (a task and a fake
model for it) appears in ``medmine tasks list``, runs in a suite and reaches the terminal
leaderboard, the Markdown and CSV tables and the HTML report, with no other file naming it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).resolve().parent / "plugins"
MODULE = "image_category_task"


def _medmine(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process that knows the example module only through the registries'
    environment variables."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(PLUGINS)]),
        "MEDMINE_TASK_MODULES": MODULE,
        "MEDMINE_BASELINE_MODULES": MODULE,
        "MEDMINE_CACHE_DIR": str(cwd / "cache"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "medmine", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_other_file_names_the_example_task() -> None:
    spelled = [
        p.relative_to(ROOT)
        for p in (ROOT / "src").rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".html", ".j2"}
        if "image_category" in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert spelled == []


def test_the_example_task_is_listed(tmp_path: Path) -> None:
    out = _medmine("tasks", "list", cwd=tmp_path).stdout  # its listing index goes in tmp_path
    assert "image_category" in out
    assert "classification" in out  # the built-in tasks are still found by the scan


def test_the_example_task_runs_in_a_suite_and_reaches_every_view(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(
        "name: example\n"
        "models: [always-radiology]\n"
        "tasks: [image_category]\n"
        "datasets: [demo-dermatology, demo-radiology]\n"
    )
    run = _medmine("run", "suite.yaml", "--out", "run", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    # terminal leaderboard: the task's declared headline, one row per dataset
    assert "image_category (headline: Accuracy)" in run.stdout
    rows = [line for line in run.stdout.splitlines() if "always-radiology" in line]
    assert any("demo-dermatology" in r and "0.000" in r for r in rows), run.stdout
    assert any("demo-radiology" in r and "1.000" in r for r in rows), run.stdout

    markdown = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "image_category" in markdown and "always-radiology" in markdown
    assert "Accuracy" in markdown

    with (tmp_path / "run" / "leaderboard.csv").open(newline="") as fh:
        table = [r for r in csv.DictReader(fh) if r.get("task") == "image_category"]
    by_dataset = {r["dataset"]: r for r in table}
    assert set(by_dataset) == {"demo-dermatology", "demo-radiology"}
    assert float(by_dataset["demo-radiology"]["accuracy"]) == 1.0
    assert float(by_dataset["demo-dermatology"]["accuracy"]) == 0.0

    report = _medmine("report", "run", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "image_category" in report.stdout
    html = (tmp_path / "run" / "report" / "report.html").read_text()
    assert "image_category" in html and "always-radiology" in html and "Accuracy" in html
