"""Model-based metrics inside report-generation scoring: run each scorer, add bootstrap
intervals, and say which metrics did not run and why (never a silent zero)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medmine.metrics.bootstrap import mean_ci
from medmine.tasks.report_scorers import ReportScorer

#: The per-sample value of each scorer that gets a bootstrap interval (its headline).
CI_KEYS = {
    "chexbert": "chexbert_f1",
    "bertscore": "bertscore_f1",
    "radgraph": "radgraph_relation_f1",
}


def model_metric_scores(
    scorers: Sequence[ReportScorer],
    unavailable: dict[str, str],
    refs: Sequence[str],
    hyps: Sequence[str],
    groups: Sequence[str],
) -> tuple[dict[str, float], dict[str, list[float]], dict[str, Any]]:
    """(metrics, per-sample columns, tables) of the model-based metrics.

    A scorer that raises while scoring (a corrupt weights file found only on reading, out of
    memory) is recorded under ``tables["model_metrics_unavailable"]`` with the error; the
    other metrics still count.
    """
    metrics: dict[str, float] = {}
    per_sample: dict[str, list[float]] = {}
    recipe: dict[str, Any] = {}
    absent = dict(unavailable)
    extra: dict[str, Any] = {}
    for scorer in scorers:
        try:
            result = scorer.score(refs, hyps)
            recipe[scorer.name] = scorer.describe()
        except (OSError, ValueError, RuntimeError) as exc:
            absent[scorer.name] = f"failed while scoring: {type(exc).__name__}: {exc}"
            continue
        metrics.update(result.metrics)
        per_sample.update(result.per_sample)
        if "per_observation" in result.tables:
            extra[f"{scorer.name}_per_observation"] = result.tables["per_observation"]
        key = CI_KEYS.get(scorer.name)
        if key in result.per_sample and len(refs) >= 2:
            lo, hi = mean_ci(result.per_sample[key], groups=groups)
            metrics[f"{key}_sample_mean"] = sum(result.per_sample[key]) / len(refs)
            metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"] = lo, hi
    tables: dict[str, Any] = {"model_metrics": recipe, "model_metrics_unavailable": absent}
    tables.update(extra)
    return metrics, per_sample, tables
