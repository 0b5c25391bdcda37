"""Read run directories into the report's data: leaderboards with paired significance tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medmine.report.columns import metric_set, shown_columns
from medmine.report.data import ALPHA, Board, Comparison, Entry, ReportData, RunInfo
from medmine.report.run_notes import concurrency_shown, run_notes
from medmine.report.stats import compare, holm, paired_key
from medmine.run.store import RunStore


def display_names(run_dirs: Sequence[Path]) -> list[str]:
    """A distinct label per run directory (its name, made unique when two share one)."""
    names = [p.resolve().name or str(p) for p in run_dirs]
    labels = [
        f"{p.resolve().parent.name}/{n}" if names.count(n) > 1 else n
        for p, n in zip(run_dirs, names, strict=True)
    ]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label}#{seen[label]}"
    return labels


def _num(x: Any) -> float:
    """A float, with None mapped to NaN."""
    return float("nan") if x is None else float(x)


def _read_run(path: Path, label: str) -> tuple[RunInfo, list[dict[str, Any]]]:
    """Read one run directory's manifest, failures and scores."""
    if not (path / RunStore.FILENAME).exists():
        raise FileNotFoundError(f"{path}: no {RunStore.FILENAME} here; is it a run directory?")
    store = RunStore(path)
    try:
        manifest = store.manifest()
        notices = [
            d["notice"]
            for d in (manifest.get("datasets") or {}).values()
            if isinstance(d, dict) and d.get("notice")
        ]
        notices += run_notes(manifest)
        bad = [(b.dataset, b.id, b.path, b.reason) for b in store.bad_samples()]
        (n_results,) = store.con.execute("SELECT COUNT(*) FROM results").fetchone()
        info = RunInfo(
            label,
            path,
            manifest,
            list(dict.fromkeys(notices)),
            concurrency_shown(manifest),
            bad,
            store.skipped(),
            int(n_results),
        )
        return info, store.scores()
    finally:
        store.close()


def _board(task: str, dataset: str, entries: list[Entry], seed: int) -> Board:
    """Sort a leaderboard and test the best model against every other (Holm across them)."""
    failed = [e for e in entries if e.no_valid]
    headline = entries[0].headline
    entries = [e for e in entries if not e.no_valid]
    entries.sort(key=lambda e: (math.isnan(e.value), -e.value if not math.isnan(e.value) else 0))
    declared = metric_set(task, headline)
    board = Board(task, dataset, headline, entries, failed=failed, declared=declared)
    board.columns = shown_columns(declared, (e.metrics for e in entries))
    if not entries:
        board.note = "no model has valid answers"
        return board
    if len(entries) < 2:
        board.note = "only one model: nothing to compare"
        return board
    if board.best is None:
        board.note = "no model has a headline value"
        return board
    keys = sorted({k for e in entries for row in e.per_sample.values() for k in row})
    key = paired_key(declared, keys)
    board.key = key
    if key is None:
        board.note = "no per-sample score to compare models on: no significance test"
        return board
    best = entries[0]
    results = [compare(best.per_sample, e.per_sample, key, seed=seed) for e in entries[1:]]
    reject, adjusted = holm([r.p_value for r in results], ALPHA)
    board.comparisons = [
        Comparison(e.model, r, float(p), bool(rej) and r.difference > 0)
        for e, r, p, rej in zip(entries[1:], results, adjusted, reject, strict=True)
    ]
    board.best_significant = all(c.significant for c in board.comparisons)
    tested = "" if key == board.headline else f" (tested on per-sample {key})"
    if board.best_significant:
        board.note = f"{best.model} is significantly better than every other model{tested}"
    else:
        board.note = (
            f"no significant difference: {best.model} is not significantly better than every"
            f" other model{tested}"
        )
    board.note += f"; Holm-adjusted, α = {ALPHA}"
    return board


def collect(run_dirs: Sequence[Path], *, seed: int = 0) -> tuple[ReportData, dict[str, Path]]:
    """Read run directories into report data; also returns run label -> directory."""
    if not run_dirs:
        raise ValueError("build_report needs at least one run directory")
    paths = [Path(p) for p in run_dirs]
    labels = display_names(paths)
    runs: list[RunInfo] = []
    raw: list[tuple[RunInfo, list[dict[str, Any]]]] = []
    for path, label in zip(paths, labels, strict=True):
        info, scores = _read_run(path, label)
        runs.append(info)
        raw.append((info, scores))
    owners: dict[str, set[str]] = {}
    for info, scores in raw:
        for sc in scores:
            owners.setdefault(sc["model"], set()).add(info.name)
    grouped: dict[tuple[str, str], list[Entry]] = {}
    for info, scores in raw:
        for sc in scores:
            name = sc["model"]
            shown = f"{name} ({info.name})" if len(owners[name]) > 1 else name
            m = sc["metrics"]
            head = sc["headline"]
            lo, hi = m.get(f"{head}_ci_low"), m.get(f"{head}_ci_high")
            entry = Entry(
                info.name,
                shown,
                name,
                sc["task"],
                sc["dataset"],
                head,
                _num(m.get(head)),
                (float(lo), float(hi)) if lo is not None and hi is not None else None,
                m,
                sc["per_sample"],
                sc["tables"],
                info.concurrency.get(name),
            )
            grouped.setdefault((sc["task"], sc["dataset"]), []).append(entry)
    boards = [_board(t, d, es, seed) for (t, d), es in sorted(grouped.items())]
    notices = list(dict.fromkeys(n for r in runs for n in r.notices))
    data = ReportData(runs, boards, {}, notices)
    return data, dict(zip(labels, paths, strict=True))
