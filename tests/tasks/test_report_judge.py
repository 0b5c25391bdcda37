"""The judge's answer reader and the agreement statistics."""

from __future__ import annotations

import numpy as np
import pytest

from medmine.core import ParseStatus, ReportTarget, Response, Sample
from medmine.metrics.agreement import correlations, exact_agreement, icc1
from medmine.tasks.report_judge import ReportJudgeTask, judge_sample, parse_judgement

GREEN_STYLE = """[Explanation]:
The candidate misses the effusion and reports an opacity that is not in the reference.

[Clinically Significant Errors]:
(a) False report of a finding: 1. Right lower lobe opacity
(b) Missing a finding present in the reference: 1. Small left pleural effusion
(c) Misidentification of a finding's anatomic location/position: 0.
(d) Misassessment of the severity of a finding: 0.
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 0.

[Clinically Insignificant Errors]:
(a) False report of a finding: 0.
(b) Missing a finding present in the reference: 1. Mild degenerative changes of the spine
(c) Misidentification of a finding's anatomic location/position: 0.
(d) Misassessment of the severity of a finding: 0.
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 0.

[Matched Findings]:
2. Normal heart size; No pneumothorax"""

MARKDOWN_STYLE = """**[Explanation]:** Both reports describe a normal chest.

**[Clinically Significant Errors]:**
None

**[Clinically Insignificant Errors]:**
- (a) False report of a finding: **0**
- (b) Missing a finding: **0**
- (c) Wrong location: **0**
- (d) Wrong severity: **1**. "mild" vs "minimal"
- (e) Extra comparison: **0**
- (f) Missed comparison: **0**

**[Matched Findings]:**
**3**. heart size normal; lungs clear; no effusion"""


def test_reads_green_answers_and_scores_matched_over_matched_plus_significant() -> None:
    j, why = parse_judgement(GREEN_STYLE)
    assert j is not None, why
    assert j.significant["false_finding"] == 1 and j.significant["missed_finding"] == 1
    assert sum(j.insignificant.values()) == 1 and j.matched == 2
    assert j.score == pytest.approx(2 / 4)
    m, why = parse_judgement(MARKDOWN_STYLE)
    assert m is not None, why
    assert sum(m.significant.values()) == 0 and m.insignificant["wrong_severity"] == 1
    assert m.score == 1.0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("The candidate report is mostly accurate.", "Significant Errors"),
        (GREEN_STYLE.split("[Matched Findings]")[0], "Matched Findings"),
        (GREEN_STYLE.replace("(d) Misassessment of the severity of a finding: 0.\n", "", 1), "(d)"),
        (GREEN_STYLE.replace("2. Normal heart", "Normal heart"), "number"),
    ],
)
def test_incomplete_answers_are_unparseable_not_zero(text: str, why: str) -> None:
    j, detail = parse_judgement(text)
    assert j is None and why in detail


def test_task_builds_text_only_requests_and_keeps_failures() -> None:
    base = Sample("s1", "d", targets={"report_generation": ReportTarget("No effusion.")})
    s = judge_sample("model-a", base, "Small effusion.", "No effusion.")
    task = ReportJudgeTask()
    req = task.request(s)
    assert req.images() == [] and s.id == "model-a::s1"
    text = req.messages[0].text
    assert "REFERENCE REPORT:\nNo effusion." in text
    assert "CANDIDATE REPORT:\nSmall effusion." in text
    assert task.parse(Response("", "m", error="boom"), s).status is ParseStatus.ERROR
    assert task.parse(Response("no idea", "m"), s).status is ParseStatus.UNPARSEABLE
    assert task.parse(Response(GREEN_STYLE, "m"), s).value["score"] == 0.5


def test_icc1_on_shrout_fleiss_table() -> None:
    # Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; ICC(1,1) = .17
    x = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    assert icc1(x) == pytest.approx(0.1657, abs=5e-4)
    assert icc1([[1, 1], [2, 2], [3, 3]]) == 1.0
    assert np.isnan(icc1([[1, 2]]))
    assert exact_agreement([[1, 1], [1, 2]]) == 0.5


def test_correlations_match_scipy_and_flag_constant_input() -> None:
    c = correlations([0.1, 0.5, 0.4, 0.9], [1, 3, 2, 4])
    assert c["kendall_tau"] == pytest.approx(1.0) and c["spearman_rho"] == pytest.approx(1.0)
    assert np.isnan(correlations([1, 1, 1], [1, 2, 3])["kendall_tau"])
