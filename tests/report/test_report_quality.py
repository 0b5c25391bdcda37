"""The report-quality view: grouped metrics with intervals, paired tests with Holm, the
metrics that did not run and why, and the judge's cost and reliability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medmine.report.build import Board, Entry, ReportData, RunInfo
from medmine.report.quality import quality_html, quality_markdown, quality_views
from medmine.report.stats import paired_bootstrap


def _entry(model: str, judge: list[float], bleu: list[float]) -> Entry:
    per = {
        f"s{i}": {"judge_score": j, "bleu_4": b}
        for i, (j, b) in enumerate(zip(judge, bleu, strict=True))
    }
    metrics = {
        "bleu_4": float(np.mean(bleu)),
        "bleu_4_ci_low": 0.1,
        "bleu_4_ci_high": 0.9,
        "judge_score": float(np.mean(judge)),
        "judge_cost_usd": 0.0123,
    }
    tables = {
        "model_metrics_unavailable": {
            "chexbert": "weights folder not set ($MEDMINE_CHEXBERT_WEIGHTS)"
        }
    }
    return Entry("run", model, model, "report_generation", "d", "bleu_4", metrics["bleu_4"], None,
                 metrics, per, tables)  # fmt: skip


def _data() -> ReportData:
    rng = np.random.default_rng(0)
    good = _entry("good", list(rng.uniform(0.6, 1, 30)), list(rng.uniform(0.3, 0.6, 30)))
    bad = _entry("bad", list(rng.uniform(0, 0.4, 30)), list(rng.uniform(0.2, 0.5, 30)))
    judge = {"model": "j", "model_id": "x:j", "repeats": 2, "temperature": 0.7,
             "template_hash": "abc", "cost_usd": 0.0246, "cost_unknown_answers": 0, "asked": 120,
             "from_cache": 0, "errors": 0, "repeat_icc": 0.81, "repeat_exact_significant": 0.5,
             "repeat_reports": 60}  # fmt: skip
    run = RunInfo("run", Path("."), {"judge": judge}, [], {}, [], [], 0)
    return ReportData([run], [Board("report_generation", "d", "bleu_4", [good, bad])], {}, [])


def test_view_groups_metrics_tests_best_against_others_and_lists_absent_ones() -> None:
    data = _data()
    (view,) = quality_views(data)
    keys = [m.key for m in view.metrics]
    assert keys == ["bleu_4", "judge_score", "judge_cost_usd"]
    judge_test = next(t for t in view.tests if t.metric == "LLM judge: score")
    good, bad = data.boards[0].entries
    ids = sorted(good.per_sample)
    ref = paired_bootstrap(
        [good.per_sample[s]["judge_score"] for s in ids],
        [bad.per_sample[s]["judge_score"] for s in ids],
        n_resamples=2000,
    )
    assert judge_test.best == "good" and judge_test.difference == pytest.approx(ref.difference)
    assert judge_test.p == ref.p_value == judge_test.p_holm  # one comparison: Holm changes nothing
    assert "chexbert" in view.unavailable and "meteor" not in view.unavailable
    md = quality_markdown(data)
    assert "| good | 0." in md and "(0.100–0.900)" in md
    assert "ICC(1,1) of the judge score 0.810" in md and "judge cost $0.0246" in md
    assert "unavailable: **chexbert**: weights folder not set" in md
    page = quality_html(data)
    assert 'id="report-quality"' in page and "&lt;" not in page.split("<h3>")[0]


def test_no_view_without_report_generation() -> None:
    data = ReportData([], [], {}, [])
    assert quality_views(data) == [] and quality_markdown(data) == "" and quality_html(data) == ""


def test_model_metrics_grouped_with_intervals_and_ratescore_listed_when_absent() -> None:
    rng = np.random.default_rng(1)
    entries = []
    for model, shift in (("good", 0.3), ("bad", 0.0)):
        rs, rg = rng.uniform(0.3, 0.6, 20) + shift, rng.uniform(0.1, 0.4, 20) + shift
        per = {f"s{i}": {"ratescore": a, "radgraph_relation_f1": b} for i, (a, b) in
               enumerate(zip(rs, rg, strict=True))}  # fmt: skip
        metrics = {"ratescore": float(rs.mean()), "ratescore_ci_low": 0.4,
                   "ratescore_ci_high": 0.8, "radgraph_entity_f1": 0.5,
                   "radgraph_relation_f1": float(rg.mean())}  # fmt: skip
        tables = {"model_metrics_unavailable": {"bertscore": "weights folder not set"}}
        entries.append(Entry("run", model, model, "report_generation", "d", "ratescore",
                             metrics["ratescore"], None, metrics, per, tables))  # fmt: skip
    data = ReportData([], [Board("report_generation", "d", "ratescore", entries)], {}, [])
    (view,) = quality_views(data)
    keys = [m.key for m in view.metrics]
    assert keys == ["radgraph_entity_f1", "radgraph_relation_f1", "ratescore"]
    assert {t.metric for t in view.tests} == {"RadGraph: relation F1", "RaTEScore"}
    md = quality_markdown(data)
    assert "| RaTEScore |" in md and "(0.400–0.800)" in md
    absent = _entry("x", [0.5, 0.5], [0.2, 0.3])
    absent.tables["model_metrics_unavailable"]["ratescore"] = "needs medspacy"
    (view,) = quality_views(
        ReportData([], [Board("report_generation", "d", "b", [absent])], {}, [])
    )
    assert view.unavailable["ratescore"] == "needs medspacy"


def test_judge_section_for_open_vqa_answers_only() -> None:
    judge = {"model": "j", "model_id": "x:j", "repeats": 2, "temperature": 0.7,
             "template_hash": "abc", "cost_usd": 0.01, "cost_unknown_answers": 0, "asked": 48,
             "from_cache": 0, "errors": 0, "repeat_icc": float("nan"),
             "repeat_exact_significant": float("nan"), "repeat_reports": 0,
             "vqa": {"cost_usd": 0.01, "graded_answers": 24, "repeat_icc": 0.86,
                     "repeat_exact_grade": 0.75, "repeat_answers": 24, "template_hash": "def",
                     "human": {"n": 10, "kendall_tau": 0.7, "spearman_rho": 0.8}}}  # fmt: skip
    data = ReportData([RunInfo("run", Path("."), {"judge": judge}, [], {}, [], [], 0)], [], {}, [])
    md = quality_markdown(data)
    assert "open VQA answers graded against the reference answer: 24 (prompt def)" in md
    assert "ICC(1,1) 0.860, identical grade in 0.750 of 24 answers" in md
    assert "open VQA against human ratings (n=10): Kendall tau-b 0.700" in md
    assert "reports judged every time" not in md  # no report was judged
    assert "open VQA answers graded" in quality_html(data)
