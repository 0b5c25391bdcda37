"""Report generation with model-based metrics end to end on tiny generated weights: the task
scores CheXbert F1 and BERTScore next to the n-grams, per sample and with intervals; a wrong
folder fails when the task is built; without weights (or the extra) the metrics are listed
as unavailable with the reason and everything else is scored."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import medmine.clinical  # noqa: F401  (registers the metrics)
from medmine.core import ParseStatus, Prediction, ReportTarget, Sample
from medmine.tasks.report_generation import ReportGenerationTask

sys.path.insert(0, str(Path(__file__).parent))

REFS = [
    "Mild cardiomegaly. Small left pleural effusion.",
    "No pleural effusion or pneumothorax. Heart size normal.",
    "Left lower lobe atelectasis. Stable tube in place.",
    "Lungs clear.",
]
HYPS = [
    "Mild cardiomegaly with small left pleural effusion.",
    "Heart size normal. No pneumothorax.",
    None,  # a failed answer: scored as an empty report
    "Lungs clear. No effusion.",
]


def _data() -> tuple[list[Prediction], list[Sample]]:
    samples = [
        Sample(
            f"s{i}",
            "d",
            targets={"report_generation": ReportTarget(findings=r)},
            patient_id=f"p{i // 2}",
        )
        for i, r in enumerate(REFS)
    ]
    preds = [
        Prediction({"text": h}, ParseStatus.OK) if h else Prediction(None, ParseStatus.ERROR, "x")
        for h in HYPS
    ]
    return preds, samples


def test_chexbert_and_bertscore_scored_with_tiny_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_weights import write_chexbert, write_encoder

    monkeypatch.setenv("MEDMINE_CHEXBERT_WEIGHTS", str(write_chexbert(tmp_path / "cx")))
    monkeypatch.delenv("MEDMINE_RADGRAPH_WEIGHTS", raising=False)
    monkeypatch.delenv("MEDMINE_RATESCORE_WEIGHTS", raising=False)
    task = ReportGenerationTask(
        meteor=False,
        weights={"bertscore": str(write_encoder(tmp_path / "enc"))},
        bertscore_layers=2,
    )
    preds, samples = _data()
    s = task.score(preds, samples)
    for key in (
        "chexbert_micro_f1",
        "chexbert_5_macro_f1",
        "bertscore_f1",
        "bleu_4",
        "ce_micro_f1",
    ):
        assert 0.0 <= s.metrics[key] <= 1.0, key
    assert s.metrics["bertscore_f1_ci_low"] <= s.metrics["bertscore_f1_ci_high"]
    assert s.per_sample["s2"]["bertscore_f1"] == 0.0  # failed answer: empty report
    assert {"chexbert_f1", "bertscore_f1"} <= set(s.per_sample["s0"])
    assert s.tables["model_metrics"]["bertscore"]["layer"] == 2
    assert set(s.tables["model_metrics_unavailable"]) == {"radgraph", "ratescore"}
    assert "MEDMINE_RATESCORE_WEIGHTS" in s.tables["model_metrics_unavailable"]["ratescore"] or (
        "medmine[clinical,ratescore]" in s.tables["model_metrics_unavailable"]["ratescore"]
    )
    why = s.tables["model_metrics_unavailable"]["radgraph"]
    if importlib.util.find_spec("radgraph") is None:
        assert "pip install 'medmine[clinical]'" in why
    else:  # runs on transformers 5 through the tokenizer shim: only the weights are missing
        assert "MEDMINE_RADGRAPH_WEIGHTS" in why and "RRG_scorers" in why


def test_wrong_folder_fails_at_construction_and_absent_ones_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (
        "MEDMINE_CHEXBERT_WEIGHTS",
        "MEDMINE_BERTSCORE_WEIGHTS",
        "MEDMINE_RADGRAPH_WEIGHTS",
        "MEDMINE_RATESCORE_WEIGHTS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MEDMINE_BERTSCORE_WEIGHTS", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"bertscore: \$MEDMINE_BERTSCORE_WEIGHTS=.* not a folder"):
        ReportGenerationTask()
    monkeypatch.delenv("MEDMINE_BERTSCORE_WEIGHTS")
    task = ReportGenerationTask(meteor=False)
    preds, samples = _data()
    s = task.score(preds, samples)
    assert set(s.tables["model_metrics_unavailable"]) == {
        "chexbert",
        "bertscore",
        "radgraph",
        "ratescore",
    }
    assert s.metrics["bleu_4"] > 0 and "chexbert_micro_f1" not in s.metrics


def test_without_the_extra_the_reason_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    task = ReportGenerationTask(meteor=False)
    why = task._unavailable["chexbert"]
    assert "torch" in why and "pip install 'medmine[clinical]'" in why


def test_radgraph_and_ratescore_scored_in_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("radgraph")
    pytest.importorskip("medspacy")
    from tiny_weights import write_radgraph, write_ratescore

    for var in ("MEDMINE_CHEXBERT_WEIGHTS", "MEDMINE_BERTSCORE_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MEDMINE_RATESCORE_WEIGHTS", str(write_ratescore(tmp_path / "rate")))
    task = ReportGenerationTask(
        meteor=False,
        model_metrics=["radgraph", "ratescore"],
        weights={"radgraph": str(write_radgraph(tmp_path / "rg" / "radgraph"))},
    )
    preds, samples = _data()
    s = task.score(preds, samples)
    for key in ("ratescore", "radgraph_entity_f1", "radgraph_relation_f1"):
        assert 0.0 <= s.metrics[key] <= 1.0, key
    assert s.metrics["ratescore_ci_low"] <= s.metrics["ratescore_ci_high"]
    assert s.per_sample["s2"]["ratescore"] == 0.5  # failed answer: empty report, published rule
    assert s.per_sample["s2"]["radgraph_relation_f1"] == 0.0
    assert s.tables["model_metrics_unavailable"] == {}
    assert s.tables["model_metrics"]["ratescore"]["matrix"] == "long"
