"""``medmine mine REPORTS --truth``, ``--compat chexpert`` and consensus mining."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medmine.chexpert import OBSERVATIONS
from medmine.cli import app
from medmine.mine.agreement import agreement, kappa, read_label_table

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
SAMPLES = REALDATA / "chexpert_labeler_samples"

REPORTS = [
    "Heart size and pulmonary vascular engorgement appear within limits of normal. Lungs clear.",
    "Resolved right pleural effusion. No pneumothorax.",
    "Moderate cardiomegaly. Small left pleural effusion.",
    "No acute cardiopulmonary process.",
    "Left lower lobe consolidation concerning for pneumonia.",
    "Heart size is normal. Right upper lobe nodule measuring 8 mm.",
]


def _write_reports(path: Path) -> Path:
    lines = [json.dumps({"id": f"r{i}", "text": text}) for i, text in enumerate(REPORTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_truth(path: Path) -> Path:
    truth = [
        {"No Finding": 1},
        {"No Finding": 1, "Pleural Effusion": 0},
        {"Cardiomegaly": 1, "Pleural Effusion": 1},
        {"No Finding": 1},
        {"Consolidation": 1, "Pneumonia": 1},
        {"Lung Lesion": 1, "Cardiomegaly": 0},
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *OBSERVATIONS])
        for i, row in enumerate(truth):
            writer.writerow([f"r{i}", *[row.get(o, "") for o in OBSERVATIONS]])
    return path


def test_kappa_matches_scikit_learn() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    x, y = rng.random(200) < 0.3, rng.random(200) < 0.4
    assert kappa(x, y) == pytest.approx(cohen_kappa_score(x, y), abs=1e-9)


def test_agreement_figures_and_intervals() -> None:
    truth = np.full((40, 14), np.nan)
    pred = np.full((40, 14), np.nan)
    j = OBSERVATIONS.index("Cardiomegaly")
    truth[:10, j] = 1.0
    pred[:8, j] = 1.0
    pred[30:32, j] = -1.0  # uncertain counts as positive (U-Ones)
    row = next(r for r in agreement(truth, pred) if r.observation == "Cardiomegaly")
    assert (row.precision, row.recall) == (0.8, 0.8)
    assert row.f1 == pytest.approx(0.8)
    assert row.f1_ci[0] < 0.8 < row.f1_ci[1]


def test_mine_truth_prints_per_observation_figures(tmp_path: Path) -> None:
    reports = _write_reports(tmp_path / "reports.jsonl")
    truth = _write_truth(tmp_path / "truth.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["mine", str(reports), "--out", str(out), "--truth", str(truth)]
    )
    assert result.exit_code == 0, result.output
    assert "against truth truth.csv: 6 report(s) matched by id" in result.output
    rows = {r["observation"]: r for r in csv.DictReader((out / "truth_agreement_rules.csv").open())}
    assert float(rows["Cardiomegaly"]["recall"]) == 1.0
    assert float(rows["Cardiomegaly"]["precision"]) == 1.0  # the "within limits of normal" list
    assert float(rows["Pleural Effusion"]["precision"]) == 1.0  # "resolved" is not positive


def test_compat_changes_labels_only_where_chexpert_differs(tmp_path: Path) -> None:
    reports = _write_reports(tmp_path / "reports.jsonl")
    runner = CliRunner()
    for name, extra in (("new", []), ("old", ["--compat", "chexpert"])):
        args = ["mine", str(reports), "--out", str(tmp_path / name), *extra]
        assert runner.invoke(app, args).exit_code == 0
    new = read_label_table(tmp_path / "new" / "labels.csv")
    old = read_label_table(tmp_path / "old" / "labels.csv")
    card, eff = OBSERVATIONS.index("Cardiomegaly"), OBSERVATIONS.index("Pleural Effusion")
    assert (old.values[0, card], new.values[0, card]) == (1.0, 0.0)
    assert (old.values[1, eff], new.values[1, eff]) == (1.0, 0.0)
    result = runner.invoke(app, ["mine", str(reports), "--out", str(tmp_path / "x"),
                                 "--compat", "negbio"])  # fmt: skip
    assert result.exit_code == 2 and "expected one of chexpert" in result.output


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="CheXpert labeler samples not present")
def test_compat_reproduces_chexperts_labeled_reports(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    args = ["mine", str(SAMPLES / "sample_reports.csv"), "--out", str(out), "--compat", "chexpert"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (SAMPLES / "labeled_reports.csv").read_bytes()


def test_consensus_writes_kappa_per_pair_and_disagreements(tmp_path: Path) -> None:
    reports = _write_reports(tmp_path / "reports.jsonl")
    out = tmp_path / "consensus"
    args = ["mine", str(reports), "--out", str(out), "--model",
            "chexpert-rules", "--consensus", "--compat", "chexpert", "--yes"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rules vs chexpert-rules" in result.output
    rows = list(csv.DictReader((out / "consensus_agreement.csv").open()))
    assert {(r["reference"], r["labeler"]) for r in rows} == {("rules", "chexpert-rules")}
    assert len(rows) == 14
    dis = list(csv.DictReader((out / "disagreements.csv").open()))
    # CheXpert's rules vs medmine's: the list-normality and the resolved effusion reports
    assert {d["id"] for d in dis} == {"r0", "r1"}
    assert "Cardiomegaly (rules=1, chexpert-rules=0)" in next(
        d["disagreements"] for d in dis if d["id"] == "r0"
    )


def test_truth_from_iu_mesh_column_scores_only_confirmable(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chexpert"))
    from report_corpus import make_corpus
    from test_report_truth import write_iu_kaggle

    root = write_iu_kaggle(tmp_path / "iu", make_corpus(80, seed=77))
    table = root / "indiana_reports.csv"
    out = tmp_path / "out"
    args = ["mine", str(table), "--column", "findings", "--out", str(out), "--truth", str(table)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "80 report(s) matched by row" in result.output  # uid is not the miner's row id
    rows = {r["observation"] for r in csv.DictReader((out / "truth_agreement_rules.csv").open())}
    assert "Support Devices" not in rows and "Cardiomegaly" in rows
