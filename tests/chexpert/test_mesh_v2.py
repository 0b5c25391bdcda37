"""Mapping ``mesh-chexpert-2`` and the labeler's extra mention words (sentences written here)."""

from __future__ import annotations

from medmine.chexpert import label_report
from medmine.chexpert.mesh import MAPPING_VERSION, mesh_to_observations
from medmine.chexpert.observations import NEGATIVE, POSITIVE


def test_mapping_version_is_bumped() -> None:
    assert MAPPING_VERSION == "mesh-chexpert-2"


def test_bronchovascular_markings_are_crowding_not_opacity() -> None:
    truth = mesh_to_observations("Lung/hypoinflation;Markings/bronchovascular")
    assert truth.values["Lung Opacity"] == NEGATIVE
    assert "Lung Opacity" in truth.scored
    assert truth.unmapped == ()


def test_other_markings_leave_lung_opacity_unscored() -> None:
    truth = mesh_to_observations("Markings/lung/bilateral/prominent")
    assert truth.values["Lung Opacity"] is None
    assert "Lung Opacity" not in truth.scored
    assert truth.values["No Finding"] == NEGATIVE


def test_density_needs_a_lung_site() -> None:
    assert mesh_to_observations("Density/lung/lower lobe/left").values["Lung Opacity"] == POSITIVE
    outside = mesh_to_observations("Density/thorax/left;Foreign Bodies/thorax")
    assert outside.values["Lung Opacity"] == NEGATIVE
    unsure = mesh_to_observations("Density/retrocardiac;Hernia, Hiatal")
    assert unsure.values["Lung Opacity"] is None
    assert mesh_to_observations("Opacity/ribs/left").values["Lung Opacity"] == NEGATIVE
    assert mesh_to_observations("Opacity/lung/base/left").values["Lung Opacity"] == POSITIVE


def test_round_density_is_neither_opacity_nor_lesion() -> None:
    truth = mesh_to_observations("Density/lung/upper lobe/right/round")
    assert truth.values["Lung Opacity"] is None and truth.values["Lung Lesion"] is None


def test_calcified_nodules_of_granulomatous_disease_are_not_scored_as_lesions() -> None:
    truth = mesh_to_observations("Nodule/multiple;Calcinosis/multiple;Granulomatous Disease")
    assert truth.values["Lung Lesion"] is None
    assert mesh_to_observations("Nodule/lung/base/right").values["Lung Lesion"] == POSITIVE
    both = mesh_to_observations("Calcified Granuloma/lung;Mass/lung/upper lobe/left")
    assert both.values["Lung Lesion"] == POSITIVE


def test_congestion_cannot_confirm_edema() -> None:
    truth = mesh_to_observations("Cardiomegaly;Pulmonary Congestion")
    assert truth.values["Edema"] is None and "Edema" not in truth.scored
    assert truth.unmapped == ()
    stated = mesh_to_observations("Pulmonary Congestion;Pulmonary Edema/interstitial")
    assert stated.values["Edema"] == POSITIVE


def test_fibrotic_change_is_a_lung_opacity() -> None:
    assert label_report("Old fibrotic change at both apices.")["Lung Opacity"] == POSITIVE
    assert label_report("Apical fibrosis, stable.")["Lung Opacity"] == POSITIVE
    assert label_report("No fibrosis.")["Lung Opacity"] == NEGATIVE


def test_pneumonitis_is_pneumonia_but_not_under_compat() -> None:
    text = "Patchy left basal opacity, likely pneumonitis."
    assert label_report(text)["Pneumonia"] is not None
    assert label_report(text, compat=True)["Pneumonia"] is None
    assert label_report("Fibrotic lungs.", compat=True)["Lung Opacity"] is None


def test_chexpert_rules_model_reads_findings_and_impression_only() -> None:
    from medmine.baselines.reports import findings_text

    report = "INDICATION: Rule out pneumonia.\nFINDINGS: Clear lungs.\nIMPRESSION: Normal chest."
    assert label_report(report)["Pneumonia"] is not None  # the indication names it
    assert label_report(findings_text(report))["Pneumonia"] is None
    assert findings_text("No pneumonia.") == "No pneumonia."  # no sections: all of it
