"""Formatting shared by every report view: numbers, failure cells, confusion tables, summary."""

from __future__ import annotations

import math
from typing import Any

from medmine.report.data import FAILURE_KEYS, Entry, ReportData


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a table ('—' when missing)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"


def fmt_p(p: float) -> str:
    """A p-value for a table."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def failure_cell(e: Entry, key: str) -> str:
    """A failure count with its rate, e.g. '2 (16.7%)'."""
    rate = e.metrics.get(key)
    if rate is None or math.isnan(rate):
        return "—"
    return f"{e.count(key)} ({100 * rate:.1f}%)"


def truncated_cell(e: Entry) -> str:
    """The answers cut at the output limit, with their share of the samples asked."""
    if not e.n:
        return "—"
    return f"{e.truncated} ({100 * e.truncated / e.n:.1f}%)"


def confusion_of(e: Entry) -> tuple[list[str], list[list[int]]]:
    """Labels and rows of a classification confusion table (extra columns: no usable answer)."""
    conf = e.tables["confusion"]
    labels = [str(x) for x in conf.get("labels", [])]
    matrix = [[int(v) for v in row] for row in conf.get("matrix", [])]
    width = max((len(r) for r in matrix), default=0)
    cols = labels + ["no answer"] * (width - len(labels))
    if width > len(labels) + 1:
        cols = labels + [f"other {i}" for i in range(width - len(labels))]
    return cols, matrix


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested manifest as (dotted key, value) rows; lists of scalars are joined."""
    rows: list[tuple[str, str]] = []
    if isinstance(obj, dict):
        if not obj and prefix:
            rows.append((prefix, "{}"))
        for k, v in obj.items():
            rows.extend(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            rows.append((prefix, ", ".join(str(v) for v in obj) if obj else "[]"))
        else:
            for i, v in enumerate(obj):
                rows.extend(flatten(v, f"{prefix}[{i}]"))
    else:
        rows.append((prefix, "—" if obj is None else str(obj)))
    return rows


def summary_lines(data: ReportData) -> list[str]:
    """The few sentences a reader needs first."""
    models = sorted({e.model for e in data.entries})
    datasets = sorted({e.dataset for e in data.entries})
    n_results = sum(r.n_results for r in data.runs)
    lines = [
        f"{len(data.runs)} run(s), {len(models)} model(s), {len(data.tasks)} task(s), "
        f"{len(datasets)} dataset(s), {n_results} stored answers.",
    ]
    for task in data.tasks:
        boards = [b for b in data.boards if b.task == task]
        wins = [f"{b.best.model} on {b.dataset}" for b in boards if b.best and b.best_significant]
        compared = [b for b in boards if b.comparisons]
        line = f"{task}: {len(boards)} leaderboard(s); "
        if wins:
            line += "significantly best: " + "; ".join(wins)
        elif compared:
            line += "no significant difference between the best and the other models"
        else:
            line += "fewer than two comparable models per leaderboard: nothing compared"
        lines.append(line + ".")
    for b in data.boards:
        for e in b.failed:
            lines.append(f"{e.model} on {b.task}/{b.dataset}: no valid answers — {e.no_valid}")
    fails = sum(e.count(k) for e in data.entries for k in FAILURE_KEYS)
    lines.append(f"{fails} answers were unparseable, refused or failed (scored as wrong).")
    bad = sum(len(r.bad_samples) for r in data.runs)
    skipped = sum(len(r.skipped) for r in data.runs)
    lines.append(
        f"{bad} unreadable sample(s); {skipped} model/task/dataset combination(s) not run."
    )
    return lines
