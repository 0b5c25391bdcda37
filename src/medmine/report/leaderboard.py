"""Leaderboard tables from a run directory: terminal (rich), Markdown and CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medmine.core import MetricSet
from medmine.report.columns import format_value, metric_set, shown_columns
from medmine.report.run_notes import concurrency_shown, run_notes
from medmine.run.store import RunStore
from medmine.run.verdict import no_valid_reason


@dataclass
class Row:
    """One model's line in a (task, dataset) leaderboard."""

    task: str
    dataset: str
    model: str
    headline: str
    value: float
    ci: tuple[float, float] | None
    metrics: dict[str, float]
    truth: str = ""  # where the scored labels come from (diagnosis: expert / MeSH / labeler)
    declared: MetricSet | None = None
    no_valid: str | None = None  # why the model has no usable answer: never ranked
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def truncated(self) -> int:
        """Answers cut at the output limit (their own outcome, not parse failures)."""
        return int(self.outcomes.get("truncated", 0) or 0)

    @property
    def spec(self) -> MetricSet:
        """The task's declared metrics (headline first)."""
        return self.declared or metric_set(self.task, self.headline)


@dataclass
class Leaderboard:
    """Everything a reader sees first: scores, failures, efficiency, skipped work, notices."""

    rows: list[Row]
    bad_samples: int
    bad_examples: list[str]
    skipped: list[tuple[str, str, str, str, int]]
    notices: list[str] = field(default_factory=list)
    concurrency: dict[str, Any] = field(default_factory=dict)


_SAMPLES = re.compile(r" for \d+ of \d+ samples")


def load_leaderboard(run_dir: Path) -> Leaderboard:
    """Read a run directory's scores (sorted: task, dataset, best headline first)."""
    path = run_dir / RunStore.FILENAME
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no {RunStore.FILENAME} here; is it a run directory?")
    store = RunStore(run_dir)
    try:
        rows = []
        for sc in store.scores():
            m = sc["metrics"]
            head = sc["headline"]
            declared = metric_set(sc["task"], head)
            head = declared.headline.key if declared.headline.key in m else head
            lo, hi = m.get(f"{head}_ci_low"), m.get(f"{head}_ci_high")
            ci = (lo, hi) if lo is not None and hi is not None else None
            t = sc["tables"]
            t = {**t, "no_valid_answers": no_valid_reason(m, t)}
            value = float("nan") if t.get("no_valid_answers") else m.get(head, math.nan)
            row = Row(sc["task"], sc["dataset"], sc["model"], head, value, ci, m)
            row.truth = str(t.get("truth") or "")
            row.declared = declared
            row.no_valid = t.get("no_valid_answers") or None
            row.outcomes = dict(t.get("outcomes") or {})
            rows.append(row)
        rows.sort(key=lambda r: (r.task, r.dataset, r.no_valid is not None, _rank(r), r.model))
        bad = store.bad_samples()
        groups: dict[tuple[str, str], list[str]] = {}
        for b in bad:
            kind = b.reason.split(":", 1)[0] if ":" in b.reason[:40] else b.reason
            groups.setdefault((b.dataset, kind), []).append(f"{b.id}: {b.reason}")
        manifest = store.manifest()
        datasets = manifest.get("datasets", {}).values()
        notices = list(
            dict.fromkeys(
                [*(d["notice"] for d in datasets if d.get("notice")), *run_notes(manifest)]
            )
        )
        return Leaderboard(
            rows,
            len(bad),
            [
                f"{ds}: {len(items)} × {kind} (e.g. {'; '.join(items[:2])})"
                for (ds, kind), items in sorted(groups.items())
            ],
            store.skipped(),
            notices,
            concurrency_shown(manifest),
        )
    finally:
        store.close()


def _rank(r: Row) -> float:
    """Sort key of a row's headline: best first, whichever direction is better."""
    value = _num(r.value)
    if r.spec.headline.higher_is_better or value == -math.inf:
        return -value
    return value


def _num(x: float | None) -> float:
    return -math.inf if x is None or math.isnan(x) else x


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


COLUMNS = (
    "task",
    "dataset",
    "model",
    "metric",
    "value",
    "95% CI",
    "n",
    "parse fail",
    "truncated",
    "refused",
    "errors",
    "not run",
    "latency s",
    "cost $",
)


def _cells(r: Row) -> list[str]:
    m = r.metrics
    ci = f"{_fmt(r.ci[0])}–{_fmt(r.ci[1])}" if r.ci else "—"
    value = f"no valid answers — {r.no_valid}" if r.no_valid else _fmt(r.value)
    return [
        r.task,
        r.dataset,
        r.model,
        r.headline,
        value,
        ci,
        str(int(m.get("n", 0))),
        _fmt(m.get("parse_failure_rate"), pct=True),
        str(r.truncated),
        _fmt(m.get("refusal_rate"), pct=True),
        _fmt(m.get("error_rate"), pct=True),
        str(int(m.get("n_not_run", 0) or 0)),
        _fmt(m.get("latency_mean_s")),
        _fmt(m.get("cost_usd")) if "cost_usd" in m else "—",
    ]


def _by_task(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """Rows grouped by task, in the order the tasks first appear."""
    tasks = list(dict.fromkeys(r.task for r in rows))
    return [(t, [r for r in rows if r.task == t]) for t in tasks]


def render_terminal(board: Leaderboard, console: Console) -> None:
    """Print one table per task, then failures and skipped work."""
    for notice in board.notices:
        console.print(f"[bold yellow]{notice}[/]")
    for task, rows in _by_task([r for r in board.rows if not r.no_valid]):
        spec = rows[0].spec
        extra = shown_columns(spec, (r.metrics for r in rows))
        table = Table(title=f"{task} (headline: {spec.headline.label})", title_justify="left")
        for col in ("dataset", "model"):
            table.add_column(col, no_wrap=True)  # names stay whole; numbers columns shrink
        not_run = any(r.metrics.get("n_not_run") for r in rows)  # shown when any sample was
        cols = (spec.headline.label, "95% CI", *[e.label for e in extra], "n")
        fails = "fail/trunc/ref/err"  # truncated: a count of its own, not a parse failure
        for col in (*cols, *(["not run"] if not_run else []), fails, "lat s", "$"):
            table.add_column(col, justify="right")
        for r in rows:
            c = _cells(r)
            table.add_row(
                f"{r.dataset}\n[dim]truth: {r.truth}[/]" if r.truth else r.dataset,
                r.model,
                c[4],
                c[5],
                *[format_value(e, r.metrics.get(e.key)) for e in extra],
                c[6],
                *([c[11]] if not_run else []),
                f"{c[7]}/{c[8]}/{c[9]}/{c[10]}",
                c[12],
                c[13],
            )
        console.print(table)
    for model, lines in _no_valid_groups(board).items():
        console.print(f"[bold red]{escape(model)}: no valid answers[/] — not ranked:")
        for line in lines:
            console.print(f"  {escape(line)}", soft_wrap=True)
    if board.bad_samples:
        console.print(f"[red]{board.bad_samples} sample(s) skipped as unreadable:[/]")
        for line in board.bad_examples:
            console.print(f"  {line}")
    for (model, reason), where in _skipped_groups(board).items():
        console.print(
            f"[dim]not run: {escape(model)} on {escape(', '.join(where))}: {escape(reason)}[/]",
            soft_wrap=True,
        )


def _no_valid_groups(board: Leaderboard) -> dict[str, list[str]]:
    """model -> one line per distinct reason (with the jobs it covers)."""
    by: dict[str, dict[str, list[str]]] = {}
    for r in board.rows:
        if r.no_valid:
            reason = _SAMPLES.sub("", r.no_valid)
            by.setdefault(r.model, {}).setdefault(reason, []).append(f"{r.task}/{r.dataset}")
    return {
        m: [f"{', '.join(where)}: {reason}" for reason, where in reasons.items()]
        for m, reasons in by.items()
    }


def _skipped_groups(board: Leaderboard) -> dict[tuple[str, str], list[str]]:
    """(model, reason) -> the task/dataset (samples) it was not run on."""
    out: dict[tuple[str, str], list[str]] = {}
    for model, task, dataset, reason, n in board.skipped:
        out.setdefault((model, reason), []).append(f"{task}/{dataset} ({n})")
    return out


def to_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: one table, then failures and skipped work."""
    out = io.StringIO()
    out.write("# medmine leaderboard\n\n")
    for notice in board.notices:
        out.write(f"> **{notice}**\n\n")
    for task, rows in _by_task(board.rows):
        spec = rows[0].spec
        extra = shown_columns(spec, (r.metrics for r in rows))
        cols = [
            "dataset",
            "model",
            spec.headline.label,
            "95% CI",
            *[e.label for e in extra],
            *COLUMNS[6:],
        ]
        out.write(f"## {task} (headline: {spec.headline.label})\n\n")
        out.write("| " + " | ".join(cols) + " |\n")
        out.write("|" + "|".join("---" for _ in cols) + "|\n")
        for r in rows:
            c = _cells(r)
            cells = [r.dataset, r.model, c[4], c[5]]
            cells += [format_value(e, r.metrics.get(e.key)) for e in extra]
            out.write("| " + " | ".join([*cells, *c[6:]]) + " |\n")
        out.write("\n")
    for key in dict.fromkeys((r.task, r.dataset, r.truth) for r in board.rows if r.truth):
        out.write(f"\nTruth of {key[0]} on {key[1]}: {key[2]}\n")
    if board.concurrency:
        conc = ", ".join(f"{k}: {v}" for k, v in board.concurrency.items())
        out.write(f"\nLatency measured at concurrency {conc}.\n")
    out.write(f"\nUnreadable samples skipped: {board.bad_samples}\n")
    for line in board.bad_examples:
        out.write(f"- {line}\n")
    for (model, reason), where in _skipped_groups(board).items():
        out.write(f"- not run: {model} on {', '.join(where)}: {reason}\n")
    return out.getvalue()


def to_csv(board: Leaderboard) -> str:
    """Every metric of every row as CSV (one row per model, task and dataset)."""
    declared = [spec.key for r in board.rows for spec in r.spec.all() if spec.key in r.metrics]
    rest = sorted({k for r in board.rows for k in r.metrics} - set(declared))
    keys = [*dict.fromkeys(declared), *rest]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["task", "dataset", "model", "headline", "value", "status", "truncated", *keys])
    for r in board.rows:
        value = "" if r.no_valid else r.value
        state = f"no valid answers — {r.no_valid}" if r.no_valid else "scored"
        writer.writerow(
            [r.task, r.dataset, r.model, r.headline, value, state, r.truncated]
            + [r.metrics.get(k, "") for k in keys]
        )
    return buf.getvalue()


def write_reports(board: Leaderboard, run_dir: Path) -> list[Path]:
    """Write leaderboard.md and leaderboard.csv into the run directory."""
    md = run_dir / "leaderboard.md"
    md.write_text(to_markdown(board), encoding="utf-8")
    cs = run_dir / "leaderboard.csv"
    cs.write_text(to_csv(board), encoding="utf-8")
    return [md, cs]


def merge_leaderboards(named: list[tuple[str, Leaderboard]]) -> Leaderboard:
    """One leaderboard over several runs: every row of every run is kept; a model found in
    more than one run is shown as ``model (run)``, as in the HTML report."""
    owners: dict[str, set[str]] = {}
    for label, board in named:
        for r in board.rows:
            owners.setdefault(r.model, set()).add(label)
    rows: list[Row] = []
    for label, board in named:
        for r in board.rows:
            shown = f"{r.model} ({label})" if len(owners[r.model]) > 1 else r.model
            rows.append(dataclasses.replace(r, model=shown))
    rows.sort(key=lambda r: (r.task, r.dataset, bool(r.no_valid), -_num(r.value), r.model))
    return Leaderboard(
        rows,
        sum(b.bad_samples for _, b in named),
        [f"{label}: {line}" for label, b in named for line in b.bad_examples],
        [(f"{m} ({label})", t, d, why, n) for label, b in named for m, t, d, why, n in b.skipped],
        list(dict.fromkeys(n for _, b in named for n in b.notices)),
        {k: v for _, b in named for k, v in b.concurrency.items()},
    )
