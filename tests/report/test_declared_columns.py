"""Every view reads the tasks' metric declarations: declared metrics shown, each column once."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from medmine.core import MetricSet
from medmine.report.leaderboard import Row, load_leaderboard, render_terminal, to_markdown
from medmine.run.store import RunStore
from medmine.tasks.registry import task_metrics, task_names

METRICS = {
    "segmentation": {"dice": 0.8, "iou": 0.7, "hd95_median": 12.5, "assd_mean": 3.0, "n": 4},
    "localization": {"hit_rate": 0.5, "distance_error_mean": 40.0, "iou_mean": 0.3, "n": 4},
    "detection": {"ap50": 0.4, "f1": 0.45, "precision": 0.5, "recall": 0.4, "ap": 0.2, "n": 4},
    "report_generation": {"bleu_4": 0.1, "rouge_l": 0.3, "cider_d": 0.2, "ce_micro_f1": 0.6,
                          "ce_macro_f1": 0.4, "n": 4},
    "diagnosis": {"macro_f1": 0.5, "micro_f1": 0.6, "sample_f1": 0.55, "n": 4},
}  # fmt: skip


@pytest.mark.parametrize("name", task_names())
def test_every_task_declares_a_headline_and_unique_columns(name: str) -> None:
    declared = task_metrics(name)
    assert isinstance(declared, MetricSet)
    keys = [s.key for s in declared.all()]
    assert len(keys) == len(set(keys))
    assert declared.headline.key == keys[0]


def test_terminal_and_markdown_show_declared_metrics_once(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for task, metrics in METRICS.items():
        head = task_metrics(task).headline.key  # type: ignore[union-attr]
        store.put_scores("m", task, "ds", head, metrics, {}, {})
    store.close()
    board = load_leaderboard(tmp_path)
    console = Console(width=400, record=True)
    render_terminal(board, console)
    text = console.export_text()
    md = to_markdown(board)
    for label in ("HD95 (median)", "distance error (/diagonal)", "F1@0.5", "CE F1 (micro)"):
        assert text.count(label) == 1, label
        assert md.count(f"| {label} |") == 1, label
    for task in METRICS:
        spec = task_metrics(task)
        header = next(
            line for line in text.splitlines() if spec.headline.label in line and "┃" in line
        )  # type: ignore[union-attr]
        cells = [c.strip() for c in header.split("┃") if c.strip()]
        assert len(cells) == len(set(cells)), f"{task}: a column printed twice: {cells}"


def test_unregistered_task_shows_its_stored_headline() -> None:
    row = Row("plugin_task", "ds", "m", "score", 0.5, None, {"score": 0.5})
    assert row.spec.headline.key == "score" and row.spec.secondary == ()
