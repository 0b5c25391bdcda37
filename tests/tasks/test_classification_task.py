"""The classification task's parser and scorer, as a user of MLLM answers depends on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from medmine.core import ImageRef, LabelTarget, ParseStatus, Response, Sample
from medmine.tasks.classification import ClassificationTask, parse_label

HAM = LabelTarget(
    "nv",
    ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"),
    {
        "akiec": ("actinic keratoses", "intraepithelial carcinoma", "bowen's disease"),
        "bcc": ("basal cell carcinoma",),
        "bkl": ("benign keratosis-like lesions", "seborrheic keratosis", "solar lentigo"),
        "df": ("dermatofibroma",),
        "mel": ("melanoma",),
        "nv": ("melanocytic nevi", "nevus", "mole"),
        "vasc": ("vascular lesions", "angioma"),
    },
)


@pytest.mark.parametrize(
    ("answer", "label", "status"),
    [
        ("nv", "nv", ParseStatus.OK),
        ("NV", "nv", ParseStatus.OK),
        ("Melanocytic nevi", "nv", ParseStatus.OK),
        ('{"label": "mel"}', "mel", ParseStatus.OK),
        ('```json\n{"diagnosis": "Basal Cell Carcinoma"}\n```', "bcc", ParseStatus.OK),
        ("{'label': 'df',}", "df", ParseStatus.OK),
        ("The lesion shows features of a **dermatofibroma**.", "df", ParseStatus.REPAIRED),
        ("Findings: regular network.\nFinal answer: vasc", "vasc", ParseStatus.REPAIRED),
        ("This is not melanoma; it is a benign nevus.", "nv", ParseStatus.REPAIRED),
        ("Seborrheic keratosis", "bkl", ParseStatus.OK),
        ("benign_keratosis-like   lesions", "bkl", ParseStatus.OK),
    ],
)
def test_reads_labels_from_many_answer_styles(answer: str, label: str, status: ParseStatus) -> None:
    got, got_status, _, _ = parse_label(answer, HAM)
    assert (got, got_status) == (label, status)


def test_several_labels_named_is_counted_as_ambiguous_not_guessed() -> None:
    label, status, detail, _ = parse_label("Could be melanoma or a dysplastic nevus.", HAM)
    assert label is None
    assert status is ParseStatus.UNPARSEABLE
    assert detail is not None and detail.startswith("ambiguous")


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I cannot provide a medical diagnosis. Please consult a dermatologist.",
        "As an AI, I am not able to diagnose skin conditions.",
    ],
)
def test_refusals(answer: str) -> None:
    assert parse_label(answer, HAM)[1] is ParseStatus.REFUSED


@pytest.mark.parametrize("answer", ["", "   ", "The image is blurry.", "{}", "[1, 2, 3]"])
def test_nothing_usable_is_unparseable_never_a_default(answer: str) -> None:
    label, status, _, _ = parse_label(answer, HAM)
    assert label is None and status is ParseStatus.UNPARSEABLE


def test_word_boundaries_do_not_find_labels_inside_words() -> None:
    # "df" inside "pdf" and "nv" inside "envelope" must not count.
    assert parse_label("See the attached pdf envelope.", HAM)[0] is None


def test_probabilities_are_read_and_normalised() -> None:
    _, _, _, probs = parse_label('{"label": "mel", "probabilities": {"mel": 70, "nv": 30}}', HAM)
    assert probs == pytest.approx({"mel": 0.7, "nv": 0.3})


def _sample(label: str, i: int) -> Sample:
    t = LabelTarget(label, ("normal", "pneumonia"), {"pneumonia": ("pneumonia",)})
    return Sample(
        f"s{i}", "d", (ImageRef(Path(f"/x/{i}.png"), (8, 8)),), targets={"classification": t}
    )


def test_task_scores_failures_as_wrong_and_reports_rates() -> None:
    task = ClassificationTask()
    samples = [_sample(lab, i) for i, lab in enumerate(["normal", "pneumonia"] * 4)]
    answers = [
        Response('{"label": "normal"}', "m"),
        Response('{"label": "pneumonia"}', "m"),
        Response("normal", "m"),
        Response("I cannot help with that.", "m"),
        Response("", "m", error="HTTP 500", error_kind="server"),
        Response("", "m", refused=True),
        Response("no idea", "m"),
        Response("pneumonia", "m"),
    ]
    preds = [task.parse(r, s) for r, s in zip(answers, samples, strict=True)]
    scores = task.score(preds, samples)
    assert scores.metrics["accuracy"] == pytest.approx(4 / 8)
    assert scores.metrics["refusal_rate"] == pytest.approx(2 / 8)
    assert scores.metrics["error_rate"] == pytest.approx(1 / 8)
    assert scores.metrics["parse_failure_rate"] == pytest.approx(1 / 8)
    assert scores.per_sample["s3"] == {"correct": 0.0}
    assert scores.metrics["accuracy_ci_low"] <= 0.5 <= scores.metrics["accuracy_ci_high"]


def test_prompt_lists_labels_with_names_and_asks_for_json() -> None:
    sample = Sample(
        "a",
        "d",
        (ImageRef(Path("/x.png"), (8, 8)),),
        targets={"classification": HAM},
        category="dermatology",
    )
    text = ClassificationTask().prompt(sample)
    assert "- mel: melanoma" in text and '"label"' in text and "dermoscopic" in text
