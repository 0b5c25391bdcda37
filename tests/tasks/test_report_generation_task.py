"""The report-generation task: parser, NLG metrics equal to pycocoevalcap, CE, the Runner."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from medmine.baselines.reports import NormalReport, RetrievalReport
from medmine.chexpert import OBSERVATIONS, label_report
from medmine.core import ImageRef, ParseStatus, Prediction, ReportTarget, Response, Sample
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.metrics.meteor import is_available
from medmine.metrics.ptb_tokenize import ptb_tokenize
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.registry import make_task
from medmine.tasks.report_generation import (
    ReportGenerationTask,
    clean_answer,
    parse_report,
    remove_deid,
)

pytest.importorskip("pycocoevalcap")
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

REALDATA = Path(
    os.environ.get("MEDMINE_REALDATA", Path(__file__).parents[2] / "../shared/realdata")
)
IU = REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json"


def _sample(sid: str, findings: str, impression: str = "", **meta: object) -> Sample:
    return Sample(
        sid,
        "t",
        images=(ImageRef(Path(f"/nonexistent/{sid}.png"), (8, 8)),),
        targets={"report_generation": ReportTarget(findings, impression)},
        meta=meta,
    )


def _pred(text: str, section: str = "findings") -> Prediction:
    value, status, detail = parse_report(text, section)
    return Prediction(value, status, detail)


def _iu() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if not IU.is_file():
        pytest.skip(f"IU X-ray sample not found at {IU} (set MEDMINE_REALDATA)")
    ann = json.loads(IU.read_text(encoding="utf-8"))
    return ann["train"], ann["val"]


def _bow(text: str) -> Counter[str]:
    return Counter(ptb_tokenize(text))


def _nearest_train(val: list[dict[str, str]], train: list[dict[str, str]]) -> list[str]:
    """Text-only retrieval: the training report with the highest bag-of-words cosine."""
    vecs = [_bow(t["report"]) for t in train]
    norms = [np.sqrt(sum(c * c for c in v.values())) or 1.0 for v in vecs]
    out = []
    for v in val:
        q = _bow(v["report"])
        sims = [sum(q[w] * c for w, c in t.items()) / n for t, n in zip(vecs, norms, strict=True)]
        out.append(train[int(np.argmax(sims))]["report"])
    return out


def _coco(refs: list[str], hyps: list[str]) -> dict[str, object]:
    """pycocoevalcap's own scorers on our PTB tokens (after placeholder removal)."""
    gts = {str(i): [" ".join(ptb_tokenize(remove_deid(r)))] for i, r in enumerate(refs)}
    res = {str(i): [" ".join(ptb_tokenize(remove_deid(h)))] for i, h in enumerate(hyps)}
    b, b_per = Bleu(4).compute_score(gts, res, verbose=0)
    r, r_per = Rouge().compute_score(gts, res)
    c, c_per = Cider().compute_score(gts, res)
    return {"bleu": b, "bleu_per": b_per, "rouge": r, "rouge_per": r_per, "cider": c,
            "cider_per": c_per}  # fmt: skip


@pytest.mark.parametrize("pairing", ["nearest", "shifted"])
def test_nlg_metrics_equal_pycocoevalcap_on_iu_xray(pairing: str) -> None:
    train, val = _iu()
    refs = [v["report"] for v in val]
    if pairing == "nearest":
        hyps = _nearest_train(val, train)
    else:
        hyps = [train[(i + 7) % len(train)]["report"] for i in range(len(val))]
    samples = [_sample(str(i), r) for i, r in enumerate(refs)]
    preds = [_pred(h) for h in hyps]
    assert all(p.status is ParseStatus.OK for p in preds)
    scores = ReportGenerationTask(meteor=False).score(preds, samples)
    want = _coco(refs, hyps)
    for k in range(4):
        assert scores.metrics[f"bleu_{k + 1}"] == pytest.approx(want["bleu"][k], abs=1e-12)
    assert scores.metrics["rouge_l"] == pytest.approx(want["rouge"], abs=1e-12)
    assert scores.metrics["cider_d"] == pytest.approx(want["cider"], abs=1e-12)
    per_b4 = [scores.per_sample[str(i)]["bleu_4"] for i in range(len(val))]
    per_r = [scores.per_sample[str(i)]["rouge_l"] for i in range(len(val))]
    per_c = [scores.per_sample[str(i)]["cider_d"] for i in range(len(val))]
    np.testing.assert_allclose(per_b4, want["bleu_per"][3], atol=1e-12)
    np.testing.assert_allclose(per_r, want["rouge_per"], atol=1e-12)
    np.testing.assert_allclose(per_c, want["cider_per"], atol=1e-12)
    assert scores.headline == "bleu_4"
    assert scores.metrics["bleu_4_ci_low"] <= scores.metrics["bleu_4"]
    assert scores.metrics["bleu_4"] <= scores.metrics["bleu_4_ci_high"]
    if pairing == "nearest":  # retrieval beats a fixed shift
        assert scores.metrics["bleu_4"] > 0.05


def test_clinical_efficacy_matches_sklearn_on_labeler_output() -> None:
    train, val = _iu()
    refs = [v["report"] for v in val]
    hyps = _nearest_train(val, train)
    scores = ReportGenerationTask(meteor=False).score(
        [_pred(h) for h in hyps], [_sample(str(i), r) for i, r in enumerate(refs)]
    )

    def binary(texts: list[str]) -> np.ndarray:
        return np.array(
            [[label_report(t)[o] in (1.0, -1.0) for o in OBSERVATIONS] for t in texts], dtype=int
        )

    yt, yp = binary(refs), binary(hyps)
    p, r, f, _ = precision_recall_fscore_support(yt, yp, average="micro", zero_division=0)
    assert (scores.metrics["ce_micro_precision"], scores.metrics["ce_micro_recall"]) == (
        pytest.approx(p, abs=1e-12),
        pytest.approx(r, abs=1e-12),
    )
    assert scores.metrics["ce_micro_f1"] == pytest.approx(f, abs=1e-12)
    present = [j for j in range(len(OBSERVATIONS)) if yt[:, j].any()]
    assert scores.metrics["ce_macro_f1"] == pytest.approx(
        f1_score(yt, yp, average="macro", labels=present, zero_division=0), abs=1e-12
    )


@pytest.mark.skipif(not is_available()[0], reason=f"METEOR unavailable: {is_available()[1]}")
def test_meteor_equals_pycocoevalcap_when_java_is_there() -> None:
    from pycocoevalcap.meteor.meteor import Meteor

    train, val = _iu()
    val = val[:12]
    refs = [v["report"] for v in val]
    hyps = [train[i]["report"] for i in range(len(val))]
    scores = ReportGenerationTask().score(
        [_pred(h) for h in hyps], [_sample(str(i), r) for i, r in enumerate(refs)]
    )
    gts = {str(i): [" ".join(ptb_tokenize(remove_deid(r)))] for i, r in enumerate(refs)}
    res = {str(i): [" ".join(ptb_tokenize(remove_deid(h)))] for i, h in enumerate(hyps)}
    meteor = Meteor()
    want, want_per = meteor.compute_score(gts, res)
    del meteor  # pycocoevalcap stops its Java process in __del__
    assert scores.metrics["meteor"] == pytest.approx(want, abs=1e-9)
    got_per = [scores.per_sample[str(i)]["meteor"] for i in range(len(val))]
    np.testing.assert_allclose(got_per, want_per, atol=1e-9)
    assert "meteor" not in scores.tables


def test_meteor_absent_is_said_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    scores = ReportGenerationTask().score([_pred("Lungs clear.")], [_sample("a", "Lungs clear.")])
    assert "meteor" not in scores.metrics
    assert str(scores.tables["meteor"]).startswith("unavailable: ")


def test_deid_placeholders_are_removed_from_both_sides() -> None:
    assert remove_deid("The XXXX are normal. Seen on ___ at xxxx-XXXX.") == (
        "The are normal. Seen on at - ."
    )
    task = ReportGenerationTask(meteor=False)
    ref = "The XXXX are normal and the lungs are clear without effusion."
    hyp = "The are normal and the lungs are ___ clear without XXXX-XXXX effusion."
    a = task.score([_pred(hyp)], [_sample("a", ref)])
    assert a.metrics["bleu_4"] == pytest.approx(1.0) and a.per_sample["a"]["rouge_l"] == 1.0


# ------------------------------------------------------------------------------ parser
@pytest.mark.parametrize(
    ("answer", "section", "text", "status"),
    [
        ("The lungs are clear.", "findings", "The lungs are clear.", ParseStatus.OK),
        (
            "Here is the report:\n\n## Findings\nThe lungs are **clear**.",
            "findings",
            "The lungs are clear.",
            ParseStatus.REPAIRED,
        ),
        (
            "FINDINGS: Heart normal. Lungs clear.\nIMPRESSION: No acute disease.",
            "both",
            "Heart normal. Lungs clear. No acute disease.",
            ParseStatus.OK,
        ),
        (
            "FINDINGS: Heart normal.\nIMPRESSION: No acute disease.",
            "impression",
            "No acute disease.",
            ParseStatus.OK,
        ),
        (
            "Sure! Here's the radiology report:\n**Impression**\nNo acute disease.",
            "impression",
            "No acute disease.",
            ParseStatus.REPAIRED,
        ),
        ("```\nFindings: Small left effusion.\n```", "findings", "Small left effusion.",
         ParseStatus.REPAIRED),
    ],
)  # fmt: skip
def test_parser_strips_boilerplate_and_splits_sections(
    answer: str, section: str, text: str, status: ParseStatus
) -> None:
    value, got, _ = parse_report(answer, section)
    assert (value["text"], got) == (text, status)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("", ParseStatus.UNPARSEABLE),
        ("  \n\t", ParseStatus.UNPARSEABLE),
        ("Here is the report:", ParseStatus.UNPARSEABLE),
        ("I'm sorry, but I cannot provide a diagnosis from this image.", ParseStatus.REFUSED),
        ("FINDINGS:\nIMPRESSION:", ParseStatus.UNPARSEABLE),
    ],
)
def test_empty_or_declined_answers_are_failures(answer: str, status: ParseStatus) -> None:
    value, got, _ = parse_report(answer, "findings")
    assert got is status and value["text"] == ""


def test_odd_answers_never_raise() -> None:
    task = ReportGenerationTask(meteor=False)
    sample = _sample("a", "Lungs clear.")
    huge = "The lungs are clear. " * 2500  # 52 kB
    assert task.parse(Response(text=huge, model="m"), sample).status is ParseStatus.OK
    weird = b"Caf\xe9 lungs clear.".decode("utf-8", errors="replace")
    assert task.parse(Response(text=weird, model="m"), sample).usable
    assert clean_answer("# Report\n### FINDINGS ###\nx") == "FINDINGS:\nx"
    err = task.parse(Response(text="", model="m", error="boom"), sample)
    assert err.status is ParseStatus.ERROR


# ------------------------------------------------------------------------------ task
def test_prompt_has_indication_and_section() -> None:
    task = ReportGenerationTask(section="both")
    s = _sample("a", "f", "i", indication="Cough  and fever.")
    req = task.request(s)
    text = req.messages[0].text
    assert "Indication: Cough and fever." in text and "FINDINGS and IMPRESSION" in text
    assert req.intent.structure == "both" and req.images() == list(s.images)
    assert "Indication" not in ReportGenerationTask().prompt(_sample("b", "f"))
    assert ReportGenerationTask(section="impression").template_hash() != task.template_hash()


def test_missing_reference_section_is_a_per_sample_error() -> None:
    with pytest.raises(ValueError, match="sample a: the reference report has no IMPRESSION"):
        ReportGenerationTask(section="impression").request(_sample("a", "Lungs clear.", ""))
    ReportGenerationTask(section="both").request(_sample("b", "Lungs clear.", ""))  # one is enough
    assert not ReportGenerationTask().applies_to(
        Sample("t", "t", text="x", targets={"report_generation": ReportTarget("x")})
    )


def test_failures_score_as_empty_reports_and_are_counted() -> None:
    samples = [_sample("a", "Small left pleural effusion."), _sample("b", "Lungs clear.")]
    preds = [_pred("Small left pleural effusion."), Prediction(None, ParseStatus.ERROR, "x")]
    s = ReportGenerationTask(meteor=False).score(preds, samples)
    assert s.per_sample["b"]["bleu_4"] < 1e-6 and s.per_sample["a"]["bleu_4"] > 0.99
    assert s.per_sample["a"]["ce_f1"] == 1.0
    assert s.metrics["error_rate"] == 0.5


def test_model_metrics_fail_fast_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import medmine.clinical  # noqa: F401  (registers the model-based metrics)

    monkeypatch.delenv("MEDMINE_CHEXBERT_WEIGHTS", raising=False)
    monkeypatch.delenv("MEDMINE_BERTSCORE_WEIGHTS", raising=False)
    with pytest.raises(ValueError, match=r"chexbert\.pth") as info:
        make_task("report_generation", model_metrics=["chexbert"])
    assert "MEDMINE_CHEXBERT_WEIGHTS" in str(info.value)
    with pytest.raises(ValueError, match="MEDMINE_BERTSCORE_WEIGHTS"):
        ReportGenerationTask(model_metrics=["BERTScore"])
    with pytest.raises(ValueError, match=r"unknown .*known: bertscore, chexbert, radgraph"):
        ReportGenerationTask(model_metrics=["bleurt"])
    with pytest.raises(ValueError, match="section='summary'"):
        ReportGenerationTask(section="summary")


def test_demo_report_baselines_through_the_runner(tmp_path: Path) -> None:
    samples = build_demo(
        DemoSpec(per_class_test=2, per_class_train=2, reports_test=5, reports_train=5), tmp_path
    )
    test = [s for s in samples if s.split == "test"]
    train = [s for s in samples if s.split == "train"]
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    task = ReportGenerationTask(section="both", meteor=False)
    jobs = [
        Job(NormalReport(), task, "demo", test, train),
        Job(RetrievalReport(), task, "demo", test, train),
    ]
    ready = asyncio.run(runner.run(jobs))
    runner.score(ready)
    scores = {s["model"]: s for s in store.scores()}
    results = list(store.results())
    store.close()
    assert set(scores) == {"normal-report", "retrieval-report"}
    for s in scores.values():
        m = s["metrics"]
        assert m["n"] == 4 and m["parse_failure_rate"] == 0.0 and m["error_rate"] == 0.0
        assert 0.0 < m["bleu_4"] <= 1.0 and m["cider_d"] > 0.0 and 0.0 < m["rouge_l"] <= 1.0
        assert "ce_micro_f1" in m and s["tables"]["meteor"].startswith("unavailable")
    # Retrieved reports come from the training split, shown in the response.
    train_ids = {s.id for s in train}
    assert all(
        r.response.extra["retrieved"] in train_ids for r in results if r.model == "retrieval-report"
    )
