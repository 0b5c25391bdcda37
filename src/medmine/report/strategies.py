"""Prompt strategies side by side: each strategy column against zero-shot, paired per model.

A strategy's results live under the task name ``<task>@<k>shot`` / ``<task>@cot``
(:mod:`medmine.tasks.prompting`). For every (task, dataset, model) that has zero-shot and
other strategies, each strategy is compared with zero-shot on the samples both answered, with
the test :func:`medmine.report.stats.compare` picks for the per-sample key (McNemar's exact
test for 0/1 scores, the paired permutation test otherwise), Holm-adjusted across the
strategies of that model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from medmine.report.data import ALPHA, Entry, ReportData
from medmine.report.formatting import fmt, fmt_p
from medmine.report.stats import TestResult, compare, holm, paired_key


@dataclass
class StrategyRow:
    """One strategy of one model on one task and dataset, against its zero-shot column."""

    task: str
    dataset: str
    model: str
    strategy: str
    zero_shot: float
    value: float
    key: str | None
    result: TestResult | None
    p_adjusted: float | None
    significant: bool


def _split(task: str) -> tuple[str, str]:
    base, _, strategy = task.partition("@")
    return base, strategy or "zero_shot"


def _declared_key(task: str, keys: list[str]) -> str | None:
    """The per-sample key the task declares for its headline, when the scores have it."""
    from medmine.tasks.prompting import task_for_column

    try:
        key = task_for_column(task).metrics.headline.per_sample
    except (ValueError, AttributeError, TypeError):
        return None
    return key if key in keys else None


def compare_strategies(data: ReportData, seed: int = 0) -> list[StrategyRow]:
    """Every non-zero-shot strategy against zero-shot, per task, dataset and model."""
    cells: dict[tuple[str, str, str], dict[str, Entry]] = defaultdict(dict)
    for e in data.entries:
        base, strategy = _split(e.task)
        cells[(base, e.dataset, e.model)][strategy] = e
    rows: list[StrategyRow] = []
    for (base, dataset, model), by in sorted(cells.items()):
        zero = by.get("zero_shot")
        others = [(s, e) for s, e in sorted(by.items()) if s != "zero_shot"]
        if zero is None or not others:
            continue
        found: list[StrategyRow] = []
        for strategy, e in others:
            keys = sorted({k for row in zero.per_sample.values() for k in row})
            key = _declared_key(base, keys) or paired_key(base, e.headline, keys)
            result = compare(e.per_sample, zero.per_sample, key, seed=seed) if key else None
            found.append(
                StrategyRow(
                    base, dataset, model, strategy, zero.value, e.value, key, result, None, False
                )
            )
        tested = [r for r in found if r.result is not None and not math.isnan(r.result.p_value)]
        if tested:
            reject, adjusted = holm([r.result.p_value for r in tested], ALPHA)  # type: ignore[union-attr]
            for r, rej, p in zip(tested, reject, adjusted, strict=True):
                r.p_adjusted, r.significant = float(p), bool(rej)
        rows += found
    return rows


def strategies_markdown(rows: list[StrategyRow]) -> str:
    """The Markdown section (empty when the runs used one strategy only)."""
    if not rows:
        return ""
    out = [
        "## Prompt strategies\n",
        "Each strategy against zero-shot for the same model, on the samples both answered "
        f"(Holm-adjusted across a model's strategies, α = {ALPHA}).\n",
        "| task | dataset | model | strategy | zero-shot | strategy value | difference | test |"
        " n | p | p (Holm) | significant |",
        "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        res = r.result
        out.append(
            f"| {r.task} | {r.dataset} | {r.model} | {r.strategy} | {fmt(r.zero_shot)} | "
            f"{fmt(r.value)} | {fmt(res.difference) if res else '—'} | "
            f"{res.test if res else 'no per-sample score'} | {res.n if res else 0} | "
            f"{fmt_p(res.p_value) if res else '—'} | "
            f"{fmt_p(r.p_adjusted) if r.p_adjusted is not None else '—'} | "
            f"{'yes' if r.significant else 'no'} |"
        )
    return "\n".join(out) + "\n\n"
