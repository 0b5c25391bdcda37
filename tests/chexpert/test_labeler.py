"""Tests for the rule-based CheXpert labeler against CheXpert's own outputs and rules."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from medmine.chexpert import OBSERVATIONS, label_report, label_reports
from medmine.chexpert.labeler import clean_report, split_sentences

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
CHEXPERT_SAMPLES = REALDATA / "chexpert_labeler_samples"
IU_ANNOTATION = REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json"


def test_observations_are_chexperts_14_in_order() -> None:
    assert OBSERVATIONS == (
        "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity",
        "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
        "Pleural Other", "Fracture", "Support Devices",
    )  # fmt: skip


@pytest.mark.skipif(not CHEXPERT_SAMPLES.is_dir(), reason="CheXpert labeler samples not present")
def test_reproduces_official_labeled_reports_exactly() -> None:
    with (CHEXPERT_SAMPLES / "labeled_reports.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Reports", *OBSERVATIONS]
    assert len(rows) == 5
    with (CHEXPERT_SAMPLES / "sample_reports.csv").open(newline="") as handle:
        inputs = [row[0] for row in csv.reader(handle)]
    assert inputs == [row[0] for row in rows[1:]]
    for row, labels in zip(rows[1:], label_reports(inputs, compat=True), strict=True):
        expected = [float(value) if value else None for value in row[1:]]
        assert [labels[name] for name in OBSERVATIONS] == expected, row[0]


def _mentioned(text: str, compat: bool = True) -> dict[str, float]:
    """Only the observations the labeler gave a value (CheXpert's rules unless told)."""
    return {k: v for k, v in label_report(text, compat=compat).items() if v is not None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No pleural effusion.", {"Pleural Effusion": 0.0, "No Finding": 1.0}),
        ("Cannot exclude pneumonia.", {"Pneumonia": -1.0}),
        ("Heart size is normal.", {"Cardiomegaly": 0.0, "No Finding": 1.0}),
        ("Possible consolidation.", {"Consolidation": -1.0}),
        ("Mild cardiomegaly.", {"Cardiomegaly": 1.0}),
        ("No acute cardiopulmonary process.", {"No Finding": 1.0}),
        ("There is a right-sided PICC line.", {"Support Devices": 1.0, "No Finding": 1.0}),
        (
            "No focal consolidation, pneumothorax or effusion.",
            {"Consolidation": 0.0, "Pneumothorax": 0.0, "Pleural Effusion": 0.0, "No Finding": 1.0},
        ),
        (
            "Patchy opacity may represent atelectasis or pneumonia.",
            {"Lung Opacity": 1.0, "Atelectasis": -1.0, "Pneumonia": -1.0},
        ),
        # CheXpert negates "X has resolved" and "resolution of X", not the adjective.
        ("Pneumothorax has resolved.", {"Pneumothorax": 0.0, "No Finding": 1.0}),
        ("Interval resolution of the left pneumothorax.", {"Pneumothorax": 0.0, "No Finding": 1.0}),
        ("Resolved pneumothorax.", {"Pneumothorax": 1.0}),
        ("There are a few XXXX opacities in the lung bases.", {"Lung Opacity": 1.0}),
        ("No XXXX focal airspace consolidation.", {"Consolidation": 0.0, "No Finding": 1.0}),
    ],
)
def test_brief_sentences(text: str, expected: dict[str, float]) -> None:
    assert _mentioned(text) == expected


@pytest.mark.parametrize(
    ("text", "observation", "label"),
    [
        # negation
        (
            "The heart size and pulmonary vascularity appear within normal limits.",
            "Cardiomegaly",
            0.0,
        ),
        (
            "Cardiac and mediastinal contours are within normal limits.",
            "Enlarged Cardiomediastinum",
            0.0,
        ),
        (
            "The cardiomediastinal silhouette is normal in size and contour.",
            "Enlarged Cardiomediastinum",
            0.0,
        ),
        ("Normal heart size and mediastinal contours.", "Cardiomegaly", 0.0),
        ("Heart size and pulmonary vascularity within normal limits.", "Cardiomegaly", 0.0),
        ("The heart is not significantly enlarged.", "Cardiomegaly", 0.0),
        ("The cardiac silhouette is at the upper limits of normal for size.", "Cardiomegaly", 0.0),
        ("The lungs are free of focal airspace disease.", "Lung Opacity", 0.0),
        ("Negative for pneumothorax, pleural effusion.", "Pleural Effusion", 0.0),
        (
            "No evidence of focal consolidation, pneumothorax, or pleural effusion.",
            "Pneumothorax",
            0.0,
        ),
        (
            "Lungs are clear without focal consolidation, pneumothorax, or pleural effusion.",
            "Pleural Effusion",
            0.0,
        ),
        ("There is no focal air space opacity to suggest a pneumonia.", "Pneumonia", 0.0),
        ("No visualized pneumothorax.", "Pneumothorax", 0.0),
        ("There are no displaced rib fractures.", "Fracture", 0.0),
        ("There has been removal of the right-sided PICC line.", "Support Devices", 0.0),
        ("Pneumothorax is no longer seen.", "Pneumothorax", 0.0),
        ("Cardiomegaly without overt edema.", "Edema", 0.0),
        ("Stable cardiomediastinal silhouette, normal in size.", "Enlarged Cardiomediastinum", 0.0),
        # affirmed
        ("Left pleural effusion with adjacent atelectasis.", "Atelectasis", 1.0),
        ("Left pleural effusion with adjacent atelectasis.", "Pleural Effusion", 1.0),
        ("The heart size is enlarged.", "Cardiomegaly", 1.0),
        ("Stable mild cardiomegaly.", "Cardiomegaly", 1.0),
        ("Displaced fracture of the mid one-third of the right clavicle.", "Fracture", 1.0),
        ("Well circumscribed 11 mm right upper lobe nodule.", "Lung Lesion", 1.0),
        ("There is mild bibasilar focal atelectasis. No effusion.", "Atelectasis", 1.0),
        ("Likely right lower lobe pneumonia.", "Pneumonia", 1.0),
        ("No pneumothorax, but there is a small left effusion.", "Pleural Effusion", 1.0),
        ("No pneumothorax. Small left effusion.", "Pleural Effusion", 1.0),
        ("Left effusion and normal heart size.", "Pleural Effusion", 1.0),
        ("Endotracheal tube terminates 4 cm above the carina.", "Support Devices", 1.0),
        # uncertain
        ("Findings may reflect atelectasis or consolidation.", "Atelectasis", -1.0),
        ("Streaky opacity, atelectasis versus scarring.", "Atelectasis", -1.0),
        ("Pneumonia is not excluded.", "Pneumonia", -1.0),
        ("Pneumonia cannot be ruled out.", "Pneumonia", -1.0),
        ("Cannot rule out a small effusion.", "Pleural Effusion", -1.0),
        ("No new consolidation.", "Consolidation", -1.0),
        ("Findings are suspicious for pneumonia.", "Pneumonia", -1.0),
        ("Opacity concerning for infection.", "Pneumonia", -1.0),
        ("Questionable small left pneumothorax.", "Pneumothorax", -1.0),
        ("Mild pulmonary vascular congestion.", "Edema", -1.0),
        ("No pulmonary vascular congestion.", "Edema", 0.0),
        ("The cardiomediastinal silhouette is stable.", "Enlarged Cardiomediastinum", -1.0),
        ("Heart size is unchanged.", "Cardiomegaly", -1.0),
        ("Unchanged cardiomediastinal silhouette.", "Enlarged Cardiomediastinum", -1.0),
        ("Borderline heart size.", "Cardiomegaly", -1.0),
        ("Atelectasis or scarring at the left base.", "Atelectasis", -1.0),
        ("Left basilar opacity, possibly atelectasis.", "Atelectasis", -1.0),
        ("Small effusion may be present.", "Pleural Effusion", -1.0),
        ("Deformity of the clavicle compatible with old fracture.", "Fracture", 1.0),
        ("Findings are compatible with fracture.", "Fracture", -1.0),
        # and/or and slashes become "or" (CheXpert's cleaning), hence uncertain
        ("Atelectasis and/or pneumonia.", "Pneumonia", -1.0),
        ("Atelectasis/consolidation at the left base.", "Consolidation", -1.0),
    ],
)
def test_real_style_sentences(text: str, observation: str, label: float) -> None:
    assert label_report(text, compat=True)[observation] == label
    if "stable" in text.lower() or "unchanged" in text.lower():
        return  # medmine: a stable structure without a finding is no mention (tested below)
    assert label_report(text)[observation] == label


def test_congestive_heart_failure_adds_uncertain_cardiomegaly() -> None:
    labels = label_report("Findings consistent with congestive heart failure.")
    assert labels["Edema"] == 1.0
    assert labels["Cardiomegaly"] == -1.0
    assert label_report("No evidence of CHF.")["Cardiomegaly"] is None


def test_aggregation_follows_chexpert_precedence() -> None:
    # positive beats negative
    assert label_report("No right effusion. Small left effusion.")["Pleural Effusion"] == 1.0
    # uncertain beats negative
    assert label_report("No left effusion. Possible right effusion.")["Pleural Effusion"] == -1.0
    # positive beats uncertain
    assert label_report("Possible right effusion. Left effusion.")["Pleural Effusion"] == 1.0
    # all three: CheXpert checks {0, -1} first, so the result is uncertain
    text = "No left effusion. Possible right effusion. Small subpulmonic effusion."
    assert label_report(text)["Pleural Effusion"] == -1.0


def test_no_finding_rules() -> None:
    assert label_report("")["No Finding"] == 1.0  # nothing mentioned: CheXpert says No Finding
    # support devices alone keep No Finding
    assert label_report("Left chest pacemaker. Lungs are clear.")["No Finding"] == 1.0
    # an uncertain observation removes it
    assert label_report("Possible small effusion.")["No Finding"] is None
    # findings outside the 14 ("No Finding" phrase list) remove it but get no column
    labels = label_report("Mild emphysema. No pneumothorax.")
    assert labels["No Finding"] is None
    assert labels["Pneumothorax"] == 0.0
    assert label_report("No emphysema.")["No Finding"] == 1.0


def test_unmention_phrases_drop_matches() -> None:
    assert label_report("Small pericardial effusion.")["Pleural Effusion"] is None
    assert label_report("Massive hiatal hernia.")["Lung Lesion"] is None
    assert label_report("Calcified nodule in the left apex.")["Lung Lesion"] is None
    assert label_report("Pacer leads over the heart.")["Cardiomegaly"] is None
    assert label_report("Pleural scarring at the apex.")["Lung Opacity"] is None


def test_case_and_whitespace_do_not_matter() -> None:
    text = "NO PNEUMOTHORAX.\n\n   MILD   CARDIOMEGALY."
    assert label_report(text) == label_report("no pneumothorax. mild cardiomegaly.")


def test_cleaning_matches_chexpert_loader() -> None:
    assert (
        clean_report("Atelectasis and/or  effusion..Done,ok") == "atelectasis or effusion. done, ok"
    )
    assert clean_report("opacity/consolidation") == "opacity or consolidation"
    assert split_sentences("a b. c d. e") == ["a b.", "c d.", "e"]


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="must be a str"):
        label_report(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="report 1 must be a str"):
        label_reports(["ok", 3])  # type: ignore[list-item]


@pytest.mark.skipif(not IU_ANNOTATION.is_file(), reason="IU X-ray R2Gen sample not present")
def test_runs_on_all_iu_xray_reports_with_plausible_output() -> None:
    data = json.loads(IU_ANNOTATION.read_text(encoding="utf-8"))
    reports = [item["report"] for split in ("train", "val", "test") for item in data[split]]
    assert len(reports) == 150
    results = label_reports(reports)
    assert len(results) == 150
    for labels in results:
        assert tuple(labels) == OBSERVATIONS
        assert all(v in (None, 1.0, 0.0, -1.0) for v in labels.values())
    no_finding = sum(r["No Finding"] == 1.0 for r in results)
    negated_ptx = sum(r["Pneumothorax"] == 0.0 for r in results)
    # Mostly normal studies: many No Finding, and pneumothorax is nearly always negated.
    assert 40 <= no_finding <= 110
    assert negated_ptx >= 80
    assert sum(r["Pneumothorax"] == 1.0 for r in results) <= 3
    # First report: "heart size ... within normal limits", hernia, "no pneumothorax or effusion".
    assert results[0]["Cardiomegaly"] == 0.0
    assert results[0]["Pleural Effusion"] == 0.0
    assert results[0]["No Finding"] is None  # hiatal hernia and degenerative changes


@pytest.mark.parametrize(
    ("text", "observation"),
    [
        # the examples: normality stated over a list
        ("Heart size and pulmonary vascular engorgement appear within limits of normal.",
         "Cardiomegaly"),
        ("Heart size, mediastinal contour, and pulmonary vascularity are within normal limits.",
         "Cardiomegaly"),
        ("Heart size, mediastinal contour, and pulmonary vascularity are stable and within normal "
         "limits.", "Cardiomegaly"),
        ("The cardiomediastinal contours, lungs, pleura, and bony structures are normal.",
         "Enlarged Cardiomediastinum"),
        ("Heart size and the mediastinal contours are unremarkable.", "Cardiomegaly"),
        ("Cardiac silhouette, mediastinum and hila are unremarkable.",
         "Cardiomegaly"),
        ("Heart size, mediastinal contours and pulmonary vasculature within normal limits.",
         "Cardiomegaly"),
        # resolved findings
        ("Resolved right pleural effusion.", "Pleural Effusion"),
        ("Interval resolved left pneumothorax.", "Pneumothorax"),
    ],
)  # fmt: skip
def test_medmine_rules_negate_lists_and_resolved(text: str, observation: str) -> None:
    assert label_report(text)[observation] == 0.0


@pytest.mark.parametrize(
    ("text", "observation"),
    [
        ("The heart and lungs have XXXX XXXX in the interval.", "Cardiomegaly"),
        ("Tubular densities overlying the heart are coronary artery stents.", "Cardiomegaly"),
        ("The mediastinum is stable.", "Enlarged Cardiomediastinum"),
        ("Heart size is unchanged.", "Cardiomegaly"),
    ],
)
def test_structure_without_finding_is_no_mention(text: str, observation: str) -> None:
    assert label_report(text)[observation] is None
    assert label_report(text, compat=True)[observation] in (1.0, -1.0)


def test_structure_with_size_words_stays_a_finding() -> None:
    assert label_report("The heart size is moderately enlarged.")["Cardiomegaly"] == 1.0
    assert label_report("Cardiac silhouette is prominent.")["Cardiomegaly"] == 1.0
    assert label_report("Borderline heart size.")["Cardiomegaly"] == -1.0
    assert label_report("Stable mild cardiomegaly.")["Cardiomegaly"] == 1.0
    labels = label_report("Findings consistent with congestive heart failure.")
    assert labels["Edema"] == 1.0 and labels["Cardiomegaly"] == -1.0


def test_compat_keeps_chexperts_misses() -> None:
    """CheXpert's own rules miss these; --compat chexpert must keep missing them."""
    text = "Heart size and pulmonary vascular engorgement appear within limits of normal."
    assert label_report(text, compat=True)["Cardiomegaly"] == 1.0
    assert label_report("Resolved right pleural effusion.", compat=True)["Pleural Effusion"] == 1.0


@pytest.mark.parametrize(
    ("text", "observation", "label"),
    [
        ("Mild cardiomegaly and lungs are clear.", "Cardiomegaly", 1.0),
        ("Heart size is enlarged, lungs are clear.", "Cardiomegaly", 1.0),
        ("Partially resolved right pleural effusion.", "Pleural Effusion", 1.0),
        ("Small left effusion, otherwise the lungs are clear.", "Pleural Effusion", 1.0),
        ("A 7 mm noncalcified nodule in the right upper lobe.", "Lung Lesion", 1.0),
        ("Calcified nodule in the left apex.", "Lung Lesion", None),
        ("Heart size and pulmonary vascularity are normal but there is a small left effusion.",
         "Pleural Effusion", 1.0),
    ],
)  # fmt: skip
def test_medmine_rules_keep_real_findings(text: str, observation: str, label: float) -> None:
    assert label_report(text)[observation] == label
