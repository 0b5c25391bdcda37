"""The figures every judge reports: its mean score with an interval, and how well its repeated
gradings of the same item agree (used by the report judge and the open-VQA judge)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medmine.metrics.agreement import exact_agreement, icc1
from medmine.metrics.bootstrap import mean_ci
from medmine.run.store import ResultRow


def repeat_icc(complete: list[list[float]], repeats: int) -> float:
    """ICC(1,1) over items graded in every repeat (NaN when it cannot be computed)."""
    if repeats < 2 or len(complete) < 2:
        return float("nan")
    return icc1(np.array(complete))


def judge_summary(
    scores: list[float],
    groups: list[str],
    complete: list[list[float]],
    repeats: int,
    agreement_key: str,
    agreement_items: list[list[float]],
) -> dict[str, float]:
    """``judge_n``, ``judge_score`` with its interval (grouped by case), and with repeats the
    ICC of ``complete`` and the share of identical repeats of ``agreement_items``."""
    out: dict[str, float] = {"judge_n": float(len(scores))}
    if scores:
        out["judge_score"] = float(np.mean(scores))
        if len(scores) >= 2:
            out["judge_score_ci_low"], out["judge_score_ci_high"] = mean_ci(scores, groups=groups)
    if repeats > 1:
        out["judge_repeat_icc"] = repeat_icc(complete, repeats)
        out[agreement_key] = exact_agreement(agreement_items) if agreement_items else float("nan")
    return out


def judge_cost(reps: Sequence[ResultRow | None]) -> tuple[float, int]:
    """The dollars a judge's repeats on one item cost, and how many of its answers carried
    no cost (an unpriced model)."""
    cost, unknown = 0.0, 0
    for r in reps:
        if r is not None and r.response.cost_usd is not None:
            cost += r.response.cost_usd
        elif r is not None and r.response.error is None:
            unknown += 1
    return cost, unknown
