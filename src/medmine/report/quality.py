"""One view of report quality: per model, n-gram, clinical-efficacy (rule labeler and
CheXbert), RadGraph, BERTScore and LLM-judge scores with 95% intervals and paired tests of
the best model against each other, the metrics that could not run and why, and the judge's
cost and reliability (for reports and, when the run judged them, open VQA answers)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medmine.core import MetricSpec
from medmine.report.data import Board, Entry, ReportData
from medmine.report.formatting import fmt, fmt_p
from medmine.report.stats import holm, paired_bootstrap
from medmine.tasks.report_model_metrics import REPORT_QUALITY_METRICS as METRICS

TASK = "report_generation"


@dataclass
class Test:
    """The best model against one other on one per-sample metric."""

    metric: str
    best: str
    other: str
    difference: float
    p: float
    p_holm: float
    n: int


@dataclass
class QualityView:
    """One (dataset) block of the view."""

    dataset: str
    entries: list[Entry]
    metrics: list[MetricSpec]
    tests: list[Test] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)


def _value(e: Entry, m: MetricSpec) -> str:
    v = e.metrics.get(m.key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    text = format(v, m.fmt)
    lo, hi = e.metrics.get(f"{m.key}_ci_low"), e.metrics.get(f"{m.key}_ci_high")
    if lo is not None and hi is not None:
        text += f" ({fmt(lo)}–{fmt(hi)})"
    return text


def _tests(entries: list[Entry], m: MetricSpec) -> list[Test]:
    if m.per_sample is None or len(entries) < 2:
        return []
    have = [e for e in entries if m.key in e.metrics]
    if len(have) < 2:
        return []
    sign = 1.0 if m.higher_is_better else -1.0
    best = max(have, key=lambda e: sign * e.metrics[m.key])
    raw = []
    for other in have:
        if other is best:
            continue
        ids = sorted(
            sid
            for sid, row in best.per_sample.items()
            if m.per_sample in row and m.per_sample in other.per_sample.get(sid, {})
        )
        if len(ids) < 2:
            continue
        a = np.array([best.per_sample[s][m.per_sample] for s in ids])
        b = np.array([other.per_sample[s][m.per_sample] for s in ids])
        r = paired_bootstrap(a, b, n_resamples=2000, seed=0)
        raw.append((other.model, r.difference, r.p_value, r.n))
    if not raw:
        return []
    _, adjusted = holm([p for _, _, p, _ in raw])
    return [
        Test(m.label, best.model, o, d, p, float(q), n)
        for (o, d, p, n), q in zip(raw, adjusted, strict=True)
    ]


def quality_views(data: ReportData) -> list[QualityView]:
    """A view per report-generation dataset (columns: the metrics any model has)."""
    views = []
    boards: list[Board] = [b for b in data.boards if b.task == TASK]
    for b in boards:
        shown = [m for m in METRICS if any(m.key in e.metrics for e in b.entries)]
        unavailable: dict[str, str] = {}
        for e in b.entries:
            for name, why in (e.tables.get("model_metrics_unavailable") or {}).items():
                unavailable.setdefault(name, why)
            meteor = e.tables.get("meteor")
            if isinstance(meteor, str) and meteor.startswith("unavailable"):
                unavailable.setdefault("meteor", meteor.removeprefix("unavailable: "))
        if not any(m.key == "judge_score" for m in shown):
            unavailable.setdefault("judge", "no judge asked (medmine run --judge PRESET)")
        view = QualityView(b.dataset, b.entries, shown, unavailable=unavailable)
        for m in shown:
            view.tests.extend(_tests(b.entries, m))
        views.append(view)
    return views


def judge_records(data: ReportData) -> list[tuple[str, dict[str, Any]]]:
    """(run name, manifest judge record) of each run that had a judge."""
    return [(r.name, r.manifest["judge"]) for r in data.runs if r.manifest.get("judge")]


def _judge_lines(rec: dict[str, Any]) -> list[str]:
    vqa = rec.get("vqa")
    lines = [
        f"judge {rec.get('model')} ({rec.get('model_id')}), {rec.get('repeats')} repeat(s) at "
        f"temperature {rec.get('temperature')}, report prompt {rec.get('template_hash')}",
        f"judge cost ${fmt(rec.get('cost_usd'), 4)} (reported apart from the models' cost; "
        f"answers without a price: {rec.get('cost_unknown_answers', 0)}); asked "
        f"{rec.get('asked')}, from cache {rec.get('from_cache')}, errors {rec.get('errors')}",
    ]
    if rec.get("repeat_reports") or not vqa:
        lines.append(
            f"repeat agreement: ICC(1,1) of the judge score {fmt(rec.get('repeat_icc'))}, "
            f"identical significant-error counts in {fmt(rec.get('repeat_exact_significant'))} "
            f"of {rec.get('repeat_reports')} reports judged every time"
        )
    human = rec.get("human")
    if human:
        lines.append(
            f"against human ratings ({human.get('file')}, n={human.get('n')}, unmatched "
            f"{human.get('unmatched')}): Kendall tau-b {fmt(human.get('kendall_tau'))} "
            f"(p {fmt_p(human.get('kendall_p', float('nan')))}), Spearman rho "
            f"{fmt(human.get('spearman_rho'))}"
        )
    if vqa:
        lines.append(
            f"open VQA answers graded against the reference answer: {vqa.get('graded_answers')} "
            f"(prompt {vqa.get('template_hash')}), judge cost ${fmt(vqa.get('cost_usd'), 4)} "
            f"(included above); repeat agreement: ICC(1,1) {fmt(vqa.get('repeat_icc'))}, "
            f"identical grade in {fmt(vqa.get('repeat_exact_grade'))} of "
            f"{vqa.get('repeat_answers')} answers graded every time"
        )
        vh = vqa.get("human")
        if vh:
            lines.append(
                f"open VQA against human ratings (n={vh.get('n')}): Kendall tau-b "
                f"{fmt(vh.get('kendall_tau'))}, Spearman rho {fmt(vh.get('spearman_rho'))}"
            )
    for problem in rec.get("truth_problems") or []:
        lines.append(f"human ratings: {problem}")
    return lines


def quality_markdown(data: ReportData) -> str:
    """The view as a Markdown section (empty without report generation)."""
    views = quality_views(data)
    if not views and not judge_records(data):
        return ""
    out = ["## Report quality\n"]
    for v in views:
        out.append(f"### {v.dataset}\n")
        out.append("| model | " + " | ".join(m.label for m in v.metrics) + " |")
        out.append("|---|" + "---:|" * len(v.metrics))
        for e in v.entries:
            out.append(f"| {e.model} | " + " | ".join(_value(e, m) for m in v.metrics) + " |")
        out.append("\nValues with a 95% bootstrap interval (resampling patients) where shown.\n")
        if v.tests:
            out.append("| metric | best | vs | difference | p (paired bootstrap) | p (Holm) |")
            out.append("|---|---|---|---:|---:|---:|")
            for t in v.tests:
                out.append(
                    f"| {t.metric} | {t.best} | {t.other} | {fmt(t.difference)} | {fmt_p(t.p)} "
                    f"| {fmt_p(t.p_holm)} |"
                )
            out.append("")
        for name, why in v.unavailable.items():
            out.append(f"- unavailable: **{name}**: {why}")
        out.append("")
    for run, rec in judge_records(data):
        out.append(f"### LLM judge ({run})\n")
        out.extend(f"- {line}" for line in _judge_lines(rec))
        out.append("")
    return "\n".join(out) + "\n"


def quality_html(data: ReportData) -> str:
    """The view as an HTML section (empty without report generation)."""
    views = quality_views(data)
    if not views and not judge_records(data):
        return ""
    esc = html.escape
    out = ['<section id="report-quality">', "<h2>Report quality</h2>"]
    for v in views:
        out.append(f"<h3>{esc(v.dataset)}</h3><table><thead><tr><th>model</th>")
        out += [f'<th class="num">{esc(m.label)}</th>' for m in v.metrics]
        out.append("</tr></thead><tbody>")
        for e in v.entries:
            cells = "".join(f'<td class="num">{esc(_value(e, m))}</td>' for m in v.metrics)
            out.append(f"<tr><td>{esc(e.model)}</td>{cells}</tr>")
        out.append("</tbody></table>")
        if v.tests:
            out.append(
                "<table><thead><tr><th>metric</th><th>best</th><th>vs</th>"
                '<th class="num">difference</th><th class="num">p</th>'
                '<th class="num">p (Holm)</th></tr></thead><tbody>'
            )
            for t in v.tests:
                out.append(
                    f"<tr><td>{esc(t.metric)}</td><td>{esc(t.best)}</td><td>{esc(t.other)}</td>"
                    f'<td class="num">{fmt(t.difference)}</td><td class="num">{fmt_p(t.p)}</td>'
                    f'<td class="num">{fmt_p(t.p_holm)}</td></tr>'
                )
            out.append("</tbody></table>")
        if v.unavailable:
            out.append("<ul>")
            out += [
                f"<li>unavailable: <b>{esc(n)}</b>: {esc(w)}</li>" for n, w in v.unavailable.items()
            ]
            out.append("</ul>")
    for run, rec in judge_records(data):
        out.append(f"<h3>LLM judge ({esc(run)})</h3><ul>")
        out += [f"<li>{esc(line)}</li>" for line in _judge_lines(rec)]
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)
