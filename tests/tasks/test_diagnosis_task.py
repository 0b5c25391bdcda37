"""The diagnosis task: prompt, tolerant parser, scorer, and a run through the Runner."""

from __future__ import annotations

import asyncio
import csv
import os
from pathlib import Path

import numpy as np
import pytest

from medmine.baselines.reports import ChexpertRules
from medmine.chexpert import OBSERVATIONS
from medmine.core import (
    ImageRef,
    ObservationsTarget,
    ParseStatus,
    Prediction,
    Response,
    Sample,
)
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.diagnosis import DiagnosisTask, parse_observations, resolve_observation
from medmine.tasks.registry import make_task

REALDATA = Path(
    os.environ.get("MEDMINE_REALDATA", Path(__file__).parents[2] / "../shared/realdata")
)
CHEXPERT = REALDATA / "chexpert_labeler_samples"


def _text_sample(
    text: str, values: dict[str, float | None] | None = None, sid: str = "r1"
) -> Sample:
    return Sample(sid, "t", text=text, targets={"diagnosis": ObservationsTarget(values or {})})


def _answer(sample: Sample, text: str) -> Prediction:
    return DiagnosisTask().parse(Response(text=text, model="m"), sample)


def _nonnull(values: dict[str, float | None] | None) -> dict[str, float]:
    assert values is not None
    return {k: v for k, v in values.items() if v is not None}


# ------------------------------------------------------------------------------ parser
@pytest.mark.parametrize(
    ("answer", "expected", "status"),
    [
        (
            "{"
            + ", ".join(f'"{o}": "not mentioned"' for o in OBSERVATIONS[:-1])
            + ', "Support Devices": "positive"}',
            {"Support Devices": 1.0},
            ParseStatus.OK,
        ),
        (
            '{"Cardiomegaly": 1, "Pleural Effusion": 0, "Edema": -1, "Fracture": null}',
            {"Cardiomegaly": 1.0, "Pleural Effusion": 0.0, "Edema": -1.0},
            ParseStatus.REPAIRED,
        ),
        (
            '```json\n{"observations": {"cardiomegaly": "Present", "effusion": "absent",'
            ' "pneumothorax": true}}\n```',
            {"Cardiomegaly": 1.0, "Pleural Effusion": 0.0, "Pneumothorax": 1.0},
            ParseStatus.REPAIRED,
        ),
        (
            '[{"observation": "Lung Opacity", "value": "uncertain"},'
            ' {"observation": "Edema", "value": "negative"}]',
            {"Lung Opacity": -1.0, "Edema": 0.0},
            ParseStatus.REPAIRED,
        ),
        (
            "| Observation | Value |\n|---|---|\n| Cardiomegaly | Positive |\n"
            "| Pleural effusion | negative |\n| Pneumonia | possible |",
            {"Cardiomegaly": 1.0, "Pleural Effusion": 0.0, "Pneumonia": -1.0},
            ParseStatus.REPAIRED,
        ),
        (
            "Here are the labels:\n- **Cardiomegaly**: positive (mild)\n- EDEMA: Uncertain\n"
            "- Pneumothorax - not mentioned\n2. Support devices: yes",
            {"Cardiomegaly": 1.0, "Edema": -1.0, "Support Devices": 1.0},
            ParseStatus.REPAIRED,
        ),
        (
            "Effusions: no\nWidened mediastinum: negative\nRib fractures: -1",
            {"Pleural Effusion": 0.0, "Enlarged Cardiomediastinum": 0.0, "Fracture": -1.0},
            ParseStatus.REPAIRED,
        ),
    ],
)
def test_reads_many_answer_styles(
    answer: str, expected: dict[str, float], status: ParseStatus
) -> None:
    values, got_status, _ = parse_observations(answer)
    assert _nonnull(values) == expected
    assert set(values or {}) == set(OBSERVATIONS)  # missing observations = not mentioned
    assert got_status is status


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("", ParseStatus.UNPARSEABLE),
        ("   \n ", ParseStatus.UNPARSEABLE),
        ("The heart looks big to me.", ParseStatus.UNPARSEABLE),
        ('{"label": "pneumonia"}', ParseStatus.UNPARSEABLE),
        ("Cardiomegaly: the heart is somewhat large", ParseStatus.UNPARSEABLE),
        ("I'm sorry, but I cannot provide a medical diagnosis.", ParseStatus.REFUSED),
        ("As an AI, I am not able to interpret radiology reports.", ParseStatus.REFUSED),
        ("\ufffd\ufffd garbage \x00" * 5000, ParseStatus.UNPARSEABLE),
    ],
)
def test_nothing_readable_is_a_failure_never_a_default(answer: str, status: ParseStatus) -> None:
    values, got, detail = parse_observations(answer)
    assert values is None and got is status and detail


def test_unreadable_values_are_noted_and_read_as_not_mentioned() -> None:
    values, status, detail = parse_observations('{"Edema": "see above", "Cardiomegaly": "yes"}')
    assert _nonnull(values) == {"Cardiomegaly": 1.0}
    assert status is ParseStatus.REPAIRED and detail and "Edema" in detail


@pytest.mark.parametrize(
    ("name", "obs"),
    [
        ("effusion", "Pleural Effusion"),
        ("PLEURAL_EFFUSION", "Pleural Effusion"),
        ("pleural-effusions", "Pleural Effusion"),
        ("Enlarged cardiomediastinum", "Enlarged Cardiomediastinum"),
        ("no finding", "No Finding"),
        ("Support Devices (lines/tubes)", "Support Devices"),
        ("nodule", "Lung Lesion"),
        ("heart", None),
    ],
)
def test_observation_synonyms(name: str, obs: str | None) -> None:
    assert resolve_observation(name) == obs


# ------------------------------------------------------------------------------ real sentences
IU_SENTENCES = [
    (
        "Heart size is enlarged. The aorta is unfolded. Otherwise the mediastinal contour is "
        "normal. There are streaky bibasilar opacities. There are no nodules or masses. No "
        "visible pneumothorax. No visible pleural fluid.",
        {"Cardiomegaly": 1.0, "Lung Opacity": 1.0, "Lung Lesion": 0.0, "Pneumothorax": 0.0,
         "Pleural Effusion": 0.0, "Enlarged Cardiomediastinum": 0.0},
    ),
    (
        "The heart size and pulmonary vascularity appear within normal limits. The lungs are "
        "free of focal airspace disease. No pneumothorax or pleural effusion is seen.",
        {"Cardiomegaly": 0.0, "Lung Opacity": 0.0, "Pneumothorax": 0.0, "Pleural Effusion": 0.0},
    ),
    (
        "Possible right lower lobe pneumonia. Left PICC line tip in the SVC.",
        {"Pneumonia": -1.0, "Support Devices": 1.0},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), IU_SENTENCES)
def test_negation_and_uncertainty_through_baseline_and_parser(
    text: str, expected: dict[str, float]
) -> None:
    sample = _text_sample(text)
    task = DiagnosisTask()
    request = task.request(sample)
    assert request.intent.text == text and text in request.messages[0].text
    response = asyncio.run(ChexpertRules().generate(request))
    prediction = task.parse(response, sample)
    assert prediction.status is ParseStatus.OK
    got = _nonnull(prediction.value["observations"])
    assert {k: got.get(k) for k in expected} == expected


def _chexpert_rows() -> list[tuple[str, dict[str, float | None]]]:
    if not CHEXPERT.is_dir():
        pytest.skip(f"real data not found at {CHEXPERT} (set MEDMINE_REALDATA)")
    with (CHEXPERT / "labeled_reports.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [(r["Reports"], {o: float(r[o]) if r[o] else None for o in OBSERVATIONS}) for r in rows]


def test_official_chexpert_examples_score_perfectly_with_the_rules_baseline() -> None:
    rows = _chexpert_rows()
    samples = [_text_sample(t, v, f"r{i}") for i, (t, v) in enumerate(rows)]
    task = DiagnosisTask(uncertain="ignore")
    model = ChexpertRules()
    preds = [task.parse(asyncio.run(model.generate(task.request(s))), s) for s in samples]
    for p, (_, values) in zip(preds, rows, strict=True):
        assert p.value["observations"] == values
    scores = task.score(preds, samples)
    assert scores.metrics["macro_f1"] == 1.0 and scores.metrics["micro_f1"] == 1.0
    assert scores.headline == "macro_f1"


# ------------------------------------------------------------------------------ scoring
def test_failures_are_scored_all_negative_and_counted() -> None:
    samples = [
        _text_sample("a", {"Cardiomegaly": 1.0, "Edema": 0.0}, "s1"),
        _text_sample("b", {"Cardiomegaly": 0.0, "Edema": 1.0}, "s2"),
        _text_sample("c", {"Cardiomegaly": 1.0}, "s3"),
    ]
    preds = [
        _answer(samples[0], '{"Cardiomegaly": "positive", "Edema": "negative"}'),
        Prediction(None, ParseStatus.ERROR, "timeout"),
        _answer(samples[2], "no idea"),
    ]
    s = DiagnosisTask().score(preds, samples)
    per = s.tables["per_observation"]
    assert per["Cardiomegaly"]["tp"] == 1 and per["Cardiomegaly"]["fn"] == 1
    assert per["Edema"]["fn"] == 1 and per["Edema"]["fp"] == 0
    assert s.metrics["error_rate"] == pytest.approx(1 / 3)
    assert s.metrics["parse_failure_rate"] == pytest.approx(1 / 3)
    assert s.tables["macro_labels"] == ["Cardiomegaly", "Edema"]
    assert s.metrics["macro_f1"] == pytest.approx(np.mean([2 / 3, 0.0]))
    assert s.per_sample["s1"]["f1"] == 1.0 and s.per_sample["s2"]["f1"] == 0.0
    assert "macro_f1_ci_low" in s.metrics


@pytest.mark.parametrize(
    ("policy", "cardiomegaly_f1"), [("ones", 1.0), ("zeros", 0.0), ("ignore", 0.0)]
)
def test_uncertain_policy_changes_the_score_and_the_recipe(
    policy: str, cardiomegaly_f1: float
) -> None:
    samples = [
        _text_sample("a", {"Cardiomegaly": -1.0}, "s1"),
        _text_sample("b", {"Cardiomegaly": 0.0}, "s2"),
    ]
    preds = [
        _answer(samples[0], '{"Cardiomegaly": "positive"}'),
        _answer(samples[1], '{"Cardiomegaly": "negative"}'),
    ]
    task = DiagnosisTask(uncertain=policy)
    s = task.score(preds, samples)
    assert s.tables["per_observation"]["Cardiomegaly"]["f1"] == cardiomegaly_f1
    assert s.tables["uncertain_policy"] == policy
    hashes = {DiagnosisTask(uncertain=p).template_hash() for p in ("ones", "zeros", "ignore")}
    assert len(hashes) == 3


def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="uncertain='maybe'"):
        DiagnosisTask(uncertain="maybe")
    with pytest.raises(ValueError, match="source="):
        make_task("diagnosis", source="audio")


# ------------------------------------------------------------------------------ inputs
def test_image_only_sample_is_asked_with_its_image(tmp_path: Path) -> None:
    img = tmp_path / "cxr.png"
    img.write_bytes(b"not read here")
    sample = Sample(
        "img", "t", images=(ImageRef(img, (8, 8)),), targets={"diagnosis": ObservationsTarget({})}
    )
    task = DiagnosisTask()
    assert task.applies_to(sample)
    request = task.request(sample)
    assert request.images() == [ImageRef(img, (8, 8))]
    assert "radiograph image" in request.messages[0].text and request.intent.text is None
    response = asyncio.run(ChexpertRules().generate(request))
    assert response.error and "needs report text" in response.error
    assert response.error_kind == "unsupported"  # not a bad sample for the other models
    assert task.parse(response, sample).status is ParseStatus.ERROR


def test_bad_report_text_is_a_per_sample_error_and_odd_text_is_fine() -> None:
    task = DiagnosisTask()
    with pytest.raises(ValueError, match="empty report text"):
        task.request(_text_sample("   "))
    with pytest.raises(ValueError, match="51200 characters, over max_report_chars=20000"):
        task.request(_text_sample("x" * 51200))
    bad_bytes = b"No pneumothorax. Caf\xe9 effusion.".decode("utf-8", errors="replace")
    request = task.request(_text_sample(bad_bytes))
    assert "\ufffd" in request.messages[0].text
    assert not task.applies_to(Sample("x", "t", text="no target"))


def test_demo_reports_through_the_runner(tmp_path: Path) -> None:
    samples = build_demo(
        DemoSpec(per_class_test=2, per_class_train=2, reports_test=5, reports_train=5), tmp_path
    )
    reports = [s for s in samples if s.category == "reports"]
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    job = Job(
        ChexpertRules(),
        DiagnosisTask(),
        "demo",
        [s for s in reports if s.split == "test"],
        [s for s in reports if s.split == "train"],
    )
    ready = asyncio.run(runner.run([job]))
    runner.score(ready)
    (scores,) = store.scores()
    store.close()
    assert scores["metrics"]["n"] == 5
    assert scores["metrics"]["macro_f1"] > 0.8
    assert scores["metrics"]["parse_failure_rate"] == 0.0
    assert runner.summary.asked == 5 and runner.summary.errors == 0
