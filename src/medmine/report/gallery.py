"""The report's case gallery: best, worst and random cases per task, with their stored answers."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from pathlib import Path

from medmine.datasets.loaded import LoadedDataset
from medmine.report.columns import metric_set
from medmine.report.data import Case, Entry, ReportData
from medmine.report.stats import paired_key
from medmine.run.store import RunStore


def case_score(row: dict[str, float], key: str | None) -> float:
    """A case's sortable score: the paired key's value (F1 from counts for detection)."""
    if key == "tp/fp/fn":
        tp, fp, fn = (row.get(k, 0.0) for k in ("tp", "fp", "fn"))
        denom = 2 * tp + fp + fn
        return 1.0 if denom == 0 else 2 * tp / denom
    if key is None or key not in row:
        return float("nan")
    return float(row[key])


def pick_cases(data: ReportData, per_task: int, seed: int) -> dict[str, list[Case]]:
    """Best, worst and random cases per task (seeded; ties broken at random)."""
    if per_task < 0:
        raise ValueError(f"gallery_per_task must be >= 0, got {per_task}")
    out: dict[str, list[Case]] = {}
    rng = random.Random(seed)
    for task in data.tasks:
        pool: list[tuple[float, float, Entry, str]] = []
        for board in (b for b in data.boards if b.task == task):
            key = board.key or paired_key(
                board.declared or metric_set(task, board.headline),
                sorted({k for e in board.entries for r in e.per_sample.values() for k in r}),
            )
            for e in board.entries:
                for sid, row in e.per_sample.items():
                    s = case_score(row, key)
                    if not math.isnan(s):
                        pool.append((s, rng.random(), e, sid))
        if not pool or per_task == 0:
            out[task] = []
            continue
        pool.sort(key=lambda t: (-t[0], t[1]))
        n_best = n_worst = per_task // 3
        chosen: list[tuple[str, tuple[float, float, Entry, str]]] = []
        used: set[int] = set()
        for i in range(min(n_best, len(pool))):
            chosen.append(("best", pool[i]))
            used.add(i)
        for i in range(len(pool) - 1, max(len(pool) - 1 - n_worst, -1), -1):
            if i not in used:
                chosen.append(("worst", pool[i]))
                used.add(i)
        rest = [i for i in range(len(pool)) if i not in used]
        for i in rng.sample(rest, min(per_task - len(chosen), len(rest))):
            chosen.append(("random", pool[i]))
        out[task] = [
            Case(
                e.run,
                e.model,
                task,
                e.dataset,
                sid,
                pick,
                s,
                dict(e.per_sample[sid]),
                stored_model=e.stored_model,
            )
            for pick, (s, _, e, sid) in chosen
        ]
    return out


def fill_cases(
    data: ReportData,
    run_paths: dict[str, Path],
    data_root: Path | None,
    preloaded: Mapping[Path, Mapping[str, LoadedDataset]] | None = None,
) -> None:
    """Attach each case's raw answer, parse status and (when loadable) image and overlay;
    ``preloaded`` holds datasets already in memory, by run directory and dataset name."""
    from medmine.report.html import GalleryMedia

    media = GalleryMedia(data, run_paths, data_root, preloaded)
    try:
        for cases in data.gallery.values():
            for case in cases:
                _fill_answer(case, run_paths[case.run])
                media.attach(case)
    finally:
        media.close()


def _fill_answer(case: Case, run_dir: Path) -> None:
    """Read a case's stored answer (first repeat): raw text or error, parse status, value."""
    store = RunStore(run_dir)
    try:
        row = store.con.execute(
            "SELECT response, status, detail, prediction FROM results WHERE model=? AND task=?"
            " AND dataset=? AND sample_id=? ORDER BY repeat LIMIT 1",
            (case.stored_model, case.task, case.dataset, case.sample_id),
        ).fetchone()
    finally:
        store.close()
    if row is None:
        case.status = "not answered"
        return
    resp = json.loads(row[0])
    text = resp.get("text") or ""
    if resp.get("error"):
        text = f"[provider error] {resp['error']}\n{text}".strip()
    case.answer = _truncate(text, 1500)
    case.status = row[1]
    case.detail = row[2] or ""
    case.prediction = json.loads(row[3])


def _truncate(text: str, limit: int) -> str:
    """Cut text to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"
