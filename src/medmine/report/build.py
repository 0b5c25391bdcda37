"""Build the full report of one or more run directories: HTML, Markdown, CSV and LaTeX.

:func:`collect` reads the run databases into a :class:`ReportData` (leaderboards with paired
significance tests, efficiency, failures, bad and skipped samples, gallery cases, manifests);
the renderers (``html``, ``latex`` and the Markdown/CSV writers here) only format it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmine.core import MetricSet, MetricSpec
from medmine.report.columns import metric_set, shown_columns
from medmine.report.stats import TestResult, compare, holm, paired_key
from medmine.run.store import RunStore

ALPHA = 0.05
FAILURE_KEYS = ("parse_failure_rate", "refusal_rate", "error_rate")


@dataclass
class Entry:
    """One model's scores on one task and dataset (from one run)."""

    run: str
    model: str
    stored_model: str
    task: str
    dataset: str
    headline: str
    value: float
    ci: tuple[float, float] | None
    metrics: dict[str, float]
    per_sample: dict[str, dict[str, float]]
    tables: dict[str, Any]
    concurrency: Any = None

    @property
    def n(self) -> int:
        """Samples scored."""
        return int(self.metrics.get("n", len(self.per_sample)))

    @property
    def no_valid(self) -> str | None:
        """Why this model has no usable answer here (None when it has a score)."""
        from medmine.run.verdict import no_valid_reason

        return no_valid_reason(self.metrics, self.tables)

    @property
    def not_run(self) -> int:
        """Samples not sent, pending, unreadable or hit by a medmine error: never scored."""
        return int(self.metrics.get("n_not_run", 0) or 0)

    def count(self, rate_key: str) -> int:
        """A failure count from its rate (rate x n, rounded)."""
        rate = self.metrics.get(rate_key)
        return 0 if rate is None or math.isnan(rate) else round(rate * self.n)


@dataclass
class Comparison:
    """The best model against one other model on one leaderboard."""

    other: str
    result: TestResult
    p_adjusted: float
    significant: bool


@dataclass
class Board:
    """The leaderboard of one (task, dataset): entries best first, with the best-vs-rest tests."""

    task: str
    dataset: str
    headline: str
    entries: list[Entry]
    key: str | None = None
    declared: MetricSet | None = None
    columns: tuple[MetricSpec, ...] = ()
    comparisons: list[Comparison] = field(default_factory=list)
    best_significant: bool = False
    note: str = ""
    failed: list[Entry] = field(default_factory=list)  # no valid answers: never ranked

    @property
    def best(self) -> Entry | None:
        """The model with the highest headline value, if any has one."""
        return self.entries[0] if self.entries and not math.isnan(self.entries[0].value) else None


@dataclass
class RunInfo:
    """What one run directory says besides scores."""

    name: str
    path: Path
    manifest: dict[str, Any]
    notices: list[str]
    concurrency: dict[str, Any]
    bad_samples: list[tuple[str, str, str, str]]
    skipped: list[tuple[str, str, str, str, int]]
    n_results: int


@dataclass
class Case:
    """One gallery case: a model's answer to one sample, with its score and (maybe) images."""

    run: str
    model: str
    task: str
    dataset: str
    sample_id: str
    pick: str
    score: float
    scores: dict[str, float]
    status: str = ""
    detail: str = ""
    answer: str = ""
    text: str = ""
    image_uri: str | None = None
    overlay_uri: str | None = None
    caption: str = ""
    stored_model: str = ""
    prediction: Any = None
    truth: str = ""
    reference: str = ""  # report generation: the reference report, shown beside the answer


@dataclass
class ReportData:
    """Everything the renderers format."""

    runs: list[RunInfo]
    boards: list[Board]
    gallery: dict[str, list[Case]]
    notices: list[str]

    @property
    def entries(self) -> list[Entry]:
        """Every entry of every board."""
        return [e for b in self.boards for e in b.entries]

    @property
    def tasks(self) -> list[str]:
        """Tasks in report order (those with at least one scored model)."""
        return list(dict.fromkeys(b.task for b in self.boards if b.entries))


# --------------------------------------------------------------------------- collecting


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
        bad = [(b.dataset, b.id, b.path, b.reason) for b in store.bad_samples()]
        (n_results,) = store.con.execute("SELECT COUNT(*) FROM results").fetchone()
        info = RunInfo(
            label,
            path,
            manifest,
            list(dict.fromkeys(notices)),
            dict(manifest.get("concurrency") or {}),
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


# --------------------------------------------------------------------------- gallery


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


def fill_cases(data: ReportData, run_paths: dict[str, Path], data_root: Path | None) -> None:
    """Attach each case's raw answer, parse status and (when loadable) image and overlay."""
    from medmine.report.html import GalleryMedia

    media = GalleryMedia(data, run_paths, data_root)
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


# --------------------------------------------------------------------------- Markdown and CSV


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


def _md_escape(text: str) -> str:
    """Escape table-breaking characters for a Markdown cell."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(data: ReportData) -> str:
    """The report as Markdown: the HTML's content without images."""
    out = io.StringIO()
    w = out.write
    w("# medmine report\n\n")
    for notice in data.notices:
        w(f"> **⚠ {_md_escape(notice)}**\n\n")
    w("## Summary\n\n")
    for line in summary_lines(data):
        w(f"- {_md_escape(line)}\n")
    w("\n## Leaderboards\n\n")
    for b in data.boards:
        w(f"### {b.task} · {b.dataset} (headline: {b.headline})\n\n")
        w(
            "| model | " + b.headline + " | 95% CI | n | parse failures | refused | errors |"
            " latency s | cost $ |\n"
        )
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
        for i, e in enumerate(b.entries):
            val = fmt(e.value)
            if i == 0 and b.best_significant:
                val = f"**{val}**"
            ci = f"{fmt(e.ci[0])}–{fmt(e.ci[1])}" if e.ci else "—"
            n = f"{e.n} (+{e.not_run} not run)" if e.not_run else str(e.n)
            w(
                f"| {_md_escape(e.model)} | {val} | {ci} | {n} | "
                f"{failure_cell(e, 'parse_failure_rate')} | {failure_cell(e, 'refusal_rate')} | "
                f"{failure_cell(e, 'error_rate')} | {fmt(e.metrics.get('latency_mean_s'))} | "
                f"{fmt(e.metrics.get('cost_usd'), 4)} |\n"
            )
        for e in b.failed:
            w(f"| {_md_escape(e.model)} | no valid answers — {_md_escape(e.no_valid or '')} |")
            w(" | | | | | | |\n")
        w(f"\n{_md_escape(b.note)}\n\n")
        if b.comparisons:
            w("| best vs | difference | test | n | p | p (Holm) | significant |\n")
            w("|---|---:|---|---:|---:|---:|---|\n")
            for c in b.comparisons:
                r = c.result
                w(
                    f"| {_md_escape(c.other)} | {fmt(r.difference)} | {r.test} | {r.n} | "
                    f"{fmt_p(r.p_value)} | {fmt_p(c.p_adjusted)} | "
                    f"{'yes' if c.significant else 'no'} |\n"
                )
            w("\n")
    from medmine.report.strategies import compare_strategies, strategies_markdown

    w(strategies_markdown(compare_strategies(data)))

    from medmine.report.quality import quality_markdown

    w(quality_markdown(data))
    w("## Efficiency\n\n")
    w(
        "| task | dataset | model | score | latency mean s | TTFT s | tokens/s | cost $ |"
        " cost/sample $ | concurrency |\n"
    )
    w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
    for e in data.entries:
        m = e.metrics
        w(
            f"| {e.task} | {e.dataset} | {_md_escape(e.model)} | {fmt(e.value)} | "
            f"{fmt(m.get('latency_mean_s'))} | {fmt(m.get('ttft_mean_s'))} | "
            f"{fmt(m.get('tokens_per_s'), 1)} | {fmt(m.get('cost_usd'), 4)} | "
            f"{fmt(m.get('cost_per_sample_usd'), 5)} | {e.concurrency or '—'} |\n"
        )
    confusions = [e for e in data.entries if isinstance(e.tables.get("confusion"), dict)]
    if confusions:
        w("\n## Confusion matrices\n\n")
        for e in confusions:
            labels, matrix = confusion_of(e)
            w(f"### {_md_escape(e.model)} · {e.dataset}\n\n")
            w("| true \\ predicted | " + " | ".join(_md_escape(x) for x in labels) + " |\n")
            w("|---|" + "---:|" * len(labels) + "\n")
            for lab, row in zip(labels[: len(matrix)], matrix, strict=False):
                w(f"| {_md_escape(lab)} | " + " | ".join(str(v) for v in row) + " |\n")
            w("\n")
    w("## Bad and skipped samples\n\n")
    any_bad = False
    for r in data.runs:
        for ds, sid, path, reason in r.bad_samples:
            any_bad = True
            w(
                f"- unreadable ({r.name}): {ds} / {_md_escape(sid)}: {_md_escape(reason)}"
                f" ({_md_escape(path)})\n"
            )
        for model, task, ds, reason, n in r.skipped:
            any_bad = True
            w(f"- not run ({r.name}): {model} on {task}/{ds} ({n} samples): {_md_escape(reason)}\n")
    if not any_bad:
        w("None.\n")
    w("\n## Gallery (answers)\n\n")
    for task, cases in data.gallery.items():
        w(f"### {task}\n\n")
        for c in cases:
            w(
                f"- **{c.pick}** · {_md_escape(c.model)} · {c.dataset} · "
                f"`{_md_escape(c.sample_id)}` · score {fmt(c.score)} · status {c.status}\n\n"
            )
            body = c.answer.replace("```", "ʼʼʼ")
            w("  ```text\n  " + body.replace("\n", "\n  ") + "\n  ```\n\n")
    w("## Run recipe\n\n")
    for r in data.runs:
        w(f"### {_md_escape(r.name)}\n\n| key | value |\n|---|---|\n")
        for k, v in flatten(r.manifest):
            w(f"| {_md_escape(k)} | {_md_escape(v)} |\n")
        w("\n")
    return out.getvalue()


def to_csv(data: ReportData) -> str:
    """One row per run, model, task, dataset and metric."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["run", "model", "task", "dataset", "headline", "metric", "value"])
    for e in data.entries:
        for k in sorted(e.metrics):
            writer.writerow([e.run, e.model, e.task, e.dataset, e.headline, k, e.metrics[k]])
        for outcome, n in sorted((e.tables.get("outcomes") or {}).items()):
            writer.writerow(
                [e.run, e.model, e.task, e.dataset, e.headline, f"outcome_{outcome}", n]
            )
    for b in data.boards:
        for e in b.failed:  # no value: the reason, so no tool reading the CSV can rank it
            writer.writerow(
                [e.run, e.model, e.task, e.dataset, e.headline, "no_valid_answers", e.no_valid]
            )
    return buf.getvalue()


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


# --------------------------------------------------------------------------- entry point


def build_report(
    run_dirs: Sequence[Path],
    out_dir: Path,
    *,
    gallery_per_task: int = 6,
    seed: int = 0,
    data_root: Path | None = None,
) -> dict[str, Path]:
    """Write report.html, report.md, report.csv and report.tex comparing the given runs.

    Models from different runs on the same task and dataset appear side by side; a model name
    found in two runs is suffixed with its run directory's name. ``data_root`` is where the
    runs' datasets live (to show gallery images); images that cannot be loaded are left out
    with a caption saying why.
    """
    from medmine.report.html import render_html
    from medmine.report.latex import to_latex

    data, paths = collect(run_dirs, seed=seed)
    data.gallery = pick_cases(data, gallery_per_task, seed)
    fill_cases(data, paths, data_root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "html": out_dir / "report.html",
        "md": out_dir / "report.md",
        "csv": out_dir / "report.csv",
        "tex": out_dir / "report.tex",
    }
    written["html"].write_text(render_html(data), encoding="utf-8")
    written["md"].write_text(to_markdown(data), encoding="utf-8")
    written["csv"].write_text(to_csv(data), encoding="utf-8", newline="")
    written["tex"].write_text(to_latex(data), encoding="utf-8")
    return written
