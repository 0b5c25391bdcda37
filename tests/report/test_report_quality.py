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
