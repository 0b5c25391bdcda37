"""The report's Markdown and CSV views."""

from __future__ import annotations

import csv
import io

from medmine.report.data import ReportData
from medmine.report.formatting import (
    confusion_of,
    failure_cell,
    flatten,
    fmt,
    fmt_p,
    summary_lines,
    truncated_cell,
)


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
            "| model | " + b.headline + " | 95% CI | n | parse failures | truncated | refused |"
            " errors | latency s | cost $ |\n"
        )
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
        for i, e in enumerate(b.entries):
            val = fmt(e.value)
            if i == 0 and b.best_significant:
                val = f"**{val}**"
            ci = f"{fmt(e.ci[0])}–{fmt(e.ci[1])}" if e.ci else "—"
            n = f"{e.n} (+{e.not_run} not run)" if e.not_run else str(e.n)
            w(
                f"| {_md_escape(e.model)} | {val} | {ci} | {n} | "
                f"{failure_cell(e, 'parse_failure_rate')} | {truncated_cell(e)} | "
                f"{failure_cell(e, 'refusal_rate')} | "
                f"{failure_cell(e, 'error_rate')} | {fmt(e.metrics.get('latency_mean_s'))} | "
                f"{fmt(e.metrics.get('cost_usd'), 4)} |\n"
            )
        for e in b.failed:
            w(f"| {_md_escape(e.model)} | no valid answers — {_md_escape(e.no_valid or '')} |")
            w(" | | | | | | | |\n")
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
