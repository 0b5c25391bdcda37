"""Model-based metrics inside report-generation scoring: run each scorer, add bootstrap
intervals, and say which metrics did not run and why (never a silent zero)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medmine.core import MetricSpec
from medmine.metrics.bootstrap import mean_ci
from medmine.tasks.report_scorers import ReportScorer

#: Every report-quality figure the report groups (label: "group: name"); intervals are read
#: from ``<key>_ci_low`` / ``<key>_ci_high`` when the scores hold them.
REPORT_QUALITY_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("bleu_4", "n-gram: BLEU-4", per_sample="bleu_4"),
    MetricSpec("rouge_l", "n-gram: ROUGE-L", per_sample="rouge_l"),
    MetricSpec("cider_d", "n-gram: CIDEr-D", per_sample="cider_d"),
    MetricSpec("meteor", "n-gram: METEOR", per_sample="meteor"),
    MetricSpec("ce_micro_f1", "clinical efficacy (rules): micro-F1", per_sample="ce_f1"),
    MetricSpec("ce_macro_f1", "clinical efficacy (rules): macro-F1"),
    MetricSpec("chexbert_micro_f1", "CheXbert: micro-F1 (14)", per_sample="chexbert_f1"),
    MetricSpec("chexbert_macro_f1", "CheXbert: macro-F1 (14)"),
    MetricSpec("chexbert_5_micro_f1", "CheXbert: micro-F1 (5)"),
    MetricSpec("chexbert_5_macro_f1", "CheXbert: macro-F1 (5)"),
    MetricSpec("radgraph_entity_f1", "RadGraph: entity F1", per_sample="radgraph_entity_f1"),
    MetricSpec("radgraph_relation_f1", "RadGraph: relation F1", per_sample="radgraph_relation_f1"),
    MetricSpec("bertscore_f1", "BERTScore: F1", per_sample="bertscore_f1"),
    MetricSpec("ratescore", "RaTEScore", per_sample="ratescore"),
    MetricSpec("judge_score", "LLM judge: score", per_sample="judge_score"),
    MetricSpec(
        "judge_significant_errors", "LLM judge: significant errors / report", higher_is_better=False
    ),
    MetricSpec("judge_cost_usd", "LLM judge: cost $", higher_is_better=False, fmt=".4f"),
)

#: The per-sample value of each scorer that gets a bootstrap interval (its headline).
CI_KEYS = {
    "chexbert": "chexbert_f1",
    "bertscore": "bertscore_f1",
    "radgraph": "radgraph_relation_f1",
    "ratescore": "ratescore",
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
