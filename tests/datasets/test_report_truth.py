"""Report datasets in their published layouts, with their own diagnosis truth."""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.chexpert import label_report
from medmine.chexpert.mesh import CONFIRMABLE, MAPPING_VERSION, mesh_to_observations
from medmine.cli import app
from medmine.core import ObservationsTarget, TaskKind
from medmine.datasets.catalog import find_dataset, load_dataset
from medmine.tasks.diagnosis import DiagnosisTask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chexpert"))
from report_corpus import CorpusReport, make_corpus

IU_HEADER = [
    "uid",
    "MeSH",
    "Problems",
    "image",
    "indication",
    "comparison",
    "findings",
    "impression",
]


def write_iu_kaggle(root: Path, reports: list[CorpusReport], images: bool = False) -> Path:
    """A copy of the Kaggle IU X-ray layout (raddar/chest-xrays-indiana-university)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "indiana_reports.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(IU_HEADER)
        for r in reports:
            problems = ";".join(dict.fromkeys(t.split("/")[0] for t in r.mesh.split(";")))
            writer.writerow(
                [r.uid, r.mesh, problems, "Xray Chest PA and Lateral", "Positive TB test",
                 "None.", r.findings, r.impression]
            )  # fmt: skip
    with (root / "indiana_projections.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uid", "filename", "projection"])
        for r in reports:
            for n, view in ((1, "Frontal"), (2, "Lateral")):
                name = f"{r.uid}_IM-{int(r.uid):04d}-{n}001.dcm.png"
                writer.writerow([r.uid, name, view])
                if images:
                    folder = root / "images" / "images_normalized"
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def test_mesh_mapping_rules() -> None:
    normal = mesh_to_observations("normal")
    assert normal.values["No Finding"] == 1.0
    assert all(normal.values[o] == 0.0 for o in CONFIRMABLE if o != "No Finding")
    assert "Support Devices" not in normal.scored  # cannot be confirmed absent
    t = mesh_to_observations("Cardiomegaly/borderline;Pulmonary Artery/enlarged")
    assert t.values["Cardiomegaly"] == -1.0 and t.values["No Finding"] == 0.0
    t = mesh_to_observations("Pulmonary Atelectasis/base/left;Zebra Stripes/odd")
    assert t.values["Atelectasis"] == 1.0
    assert t.unmapped == ("Zebra Stripes/odd",)  # shown, never guessed
    assert mesh_to_observations("Cardiac Shadow/enlarged").values["Cardiomegaly"] == 1.0
    assert mesh_to_observations("Cardiac Shadow/normal").values["Cardiomegaly"] == 0.0
    with pytest.raises(ValueError, match="no MeSH term"):
        mesh_to_observations(" ")


def test_iu_kaggle_reads_with_mesh_truth_and_images(tmp_path: Path) -> None:
    corpus = make_corpus(12, seed=5)
    root = write_iu_kaggle(tmp_path / "chest-xrays-indiana-university", corpus, images=True)
    assert find_dataset("iu_xray_kaggle", tmp_path) == root
    read = load_dataset("iu_xray_kaggle", root)
    assert len(read.samples) == 12 and not read.bad
    sample = read.samples[0]
    target = sample.target(TaskKind.DIAGNOSIS)
    assert isinstance(target, ObservationsTarget)
    assert sample.meta["truth"]["kind"] == "mesh"
    assert sample.meta["truth"]["mapping"] == MAPPING_VERSION
    assert len(sample.images) == 2  # frontal + lateral from the projections table
    assert sample.target(TaskKind.REPORT_GENERATION) is not None
    # a text model gets the report text
    request = DiagnosisTask().request(sample)
    assert corpus[0].findings.split(".")[0] in str(request.messages)


def test_fingerprint_comes_from_content(tmp_path: Path) -> None:
    root = write_iu_kaggle(tmp_path / "iu", make_corpus(5, seed=1))
    first = load_dataset("iu_xray_kaggle", root).fingerprint
    write_iu_kaggle(root, make_corpus(5, seed=2))
    assert load_dataset("iu_xray_kaggle", root).fingerprint != first


OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation>
  <uId id="CXR{n}"/>
  <MedlineCitation><Article><Abstract>
    <AbstractText Label="COMPARISON">None.</AbstractText>
    <AbstractText Label="INDICATION">Positive TB test</AbstractText>
    <AbstractText Label="FINDINGS">{findings}</AbstractText>
    <AbstractText Label="IMPRESSION">{impression}</AbstractText>
  </Abstract></Article></MedlineCitation>
  <MeSH>{major}<automatic>Cardiomegaly</automatic></MeSH>
  <parentImage id="CXR{n}_1_IM-{n:04d}-1001"><figureId>F1</figureId></parentImage>
</eCitation>
"""


def test_openi_xml_with_mesh_major_and_png(tmp_path: Path) -> None:
    root = tmp_path / "openi"
    (root / "ecgen-radiology").mkdir(parents=True)
    (root / "NLMCXR_png").mkdir()
    for n, r in enumerate(make_corpus(4, seed=9), start=1):
        major = "".join(f"<major>{t}</major>" for t in r.mesh.split(";"))
        xml = OPENI_XML.format(n=n, findings=r.findings, impression=r.impression, major=major)
        (root / "ecgen-radiology" / f"{n}.xml").write_text(xml, encoding="utf-8")
    (root / "NLMCXR_png" / "CXR1_1_IM-0001-1001.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    read = load_dataset("openi", root)
    assert [s.id for s in read.samples] == ["CXR1", "CXR2", "CXR3", "CXR4"]
    assert all(isinstance(s.target(TaskKind.DIAGNOSIS), ObservationsTarget) for s in read.samples)
    assert len(read.samples[0].images) == 1 and not read.samples[1].images
    assert read.samples[0].meta["mesh_minor"] == ["Cardiomegaly"]  # automatic: kept, not truth
    assert read.fingerprint and read.fingerprint != "e3b0c44298fc1c14"  # not the empty hash


def _gz_csv(path: Path, rows: list[list[str]]) -> None:
    buf = "\n".join(",".join(r) for r in rows) + "\n"
    path.write_bytes(gzip.compress(buf.encode()))


def test_mimic_reports_join_labels_split_and_expert(tmp_path: Path) -> None:
    from medmine.chexpert import OBSERVATIONS

    root = tmp_path / "mimic"
    studies = {"50000001": "10000032", "50000002": "10000032", "50000003": "10000033"}
    for study, subject in studies.items():
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        folder.mkdir(parents=True, exist_ok=True)
        text = "FINAL REPORT\nFINDINGS: Small left effusion.\nIMPRESSION: Left effusion."
        (folder / f"s{study}.txt").write_text(text, encoding="utf-8")
    (root / "files/p10/p10000032/s50000001").mkdir()
    from PIL import Image

    Image.new("L", (32, 32), 90).save(root / "files/p10/p10000032/s50000001/abc.jpg")
    cols = sorted(OBSERVATIONS)
    effusion = ["1.0" if c == "Pleural Effusion" else "" for c in cols]
    _gz_csv(
        root / "mimic-cxr-2.0.0-chexpert.csv.gz",
        [["subject_id", "study_id", *cols], ["10000032", "50000001", *effusion],
         ["10000032", "50000002", *effusion]],
    )  # fmt: skip
    _gz_csv(
        root / "mimic-cxr-2.0.0-split.csv.gz",
        [["dicom_id", "study_id", "subject_id", "split"], ["abc", "50000001", "10000032", "test"],
         ["def", "50000002", "10000032", "validate"], ["ghi", "50000003", "10000033", "train"]],
    )  # fmt: skip
    expert = ["0.0" if c == "Pleural Effusion" else "" for c in cols]
    (root / "mimic-cxr-2.1.0-test-set-labeled.csv").write_text(
        ",".join(["study_id", *cols]) + "\n" + ",".join(["50000001", *expert]) + "\n"
    )
    read = load_dataset("mimic_cxr", root)
    by_id = {s.id: s for s in read.samples}
    assert {s.split for s in read.samples} == {"test", "val", "train"}
    assert by_id["50000001"].meta["truth"]["kind"] == "expert"
    assert by_id["50000001"].target(TaskKind.DIAGNOSIS).values["Pleural Effusion"] == 0.0  # type: ignore[union-attr]
    assert by_id["50000002"].meta["truth"]["kind"] == "automatic"
    assert by_id["50000003"].target(TaskKind.DIAGNOSIS) is None
    assert "no diagnosis truth" in " ".join(by_id["50000003"].meta["warnings"])
    assert len(by_id["50000001"].images) == 1
    assert by_id["50000001"].patient_id == "10000032"
    # `medmine datasets check` on the download's folder and on the folder holding it
    from medmine.datasets.check import check_dataset

    report = check_dataset("mimic_cxr", root)
    assert report.ok and report.counts["samples"] == 3, report.to_text()
    assert check_dataset("mimic_cxr", tmp_path).ok


def test_labeler_against_mesh_on_unseen_iu_style_reports(tmp_path: Path) -> None:
    """The issue's bar: >=97% of MeSH-normal reports without a false positive, recall >=0.90.

    The corpus seed is not one the rules were looked at with; figures are printed (-s).
    """
    corpus = make_corpus(1500, seed=20261204)
    clean = normal = 0
    hits: dict[str, list[int]] = {}
    for r in corpus:
        truth = mesh_to_observations(r.mesh)
        labels = label_report(r.text)
        said = {o: labels[o] in (1.0, -1.0) for o in truth.scored}
        true = {o: truth.values[o] in (1.0, -1.0) for o in truth.scored}
        if r.mesh == "normal":
            normal += 1
            clean += not any(said[o] and not true[o] for o in truth.scored)
        for o in truth.scored:
            if o != "No Finding" and true[o]:
                hits.setdefault(o, []).append(int(said[o]))
    recall = {o: sum(v) / len(v) for o, v in hits.items()}
    mean_recall = sum(recall.values()) / len(recall)
    print(f"\nnormal without false positive: {clean}/{normal} = {clean / normal:.3f}")
    print(f"recall per observation: { {o: round(v, 3) for o, v in sorted(recall.items())} }")
    print(f"mean recall on mappable findings: {mean_recall:.3f}")
    assert clean / normal >= 0.97
    assert mean_recall >= 0.90
    assert len(recall) >= 9


def test_study_suite_diagnoses_every_kaggle_report_with_provenance(tmp_path: Path) -> None:
    data = tmp_path / "DATA"
    write_iu_kaggle(data / "chest-xrays-indiana-university", make_corpus(30, seed=3))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["run", "--suite", "study", "--data-root", str(data), "--model", "chexpert-rules",
         "--task", "diagnosis", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "iu_xray_kaggle" in result.output
    assert "truth: mesh" in result.output
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "## diagnosis" in board and "| iu_xray_kaggle | chexpert-rules |" in board
    assert "| 30 |" in board  # every report
    assert "Truth of diagnosis on iu_xray_kaggle: mesh" in board


def test_dataset_without_truth_says_why_no_diagnosis_job(tmp_path: Path) -> None:
    folder = tmp_path / "DATA" / "openi" / "ecgen-radiology"
    folder.mkdir(parents=True)
    xml = OPENI_XML.format(n=1, findings="The lungs are clear.", impression="Normal.", major="")
    (folder / "1.xml").write_text(xml, encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["run", "--suite", "study", "--data-root", str(tmp_path / "DATA"), "--model",
         "chexpert-rules", "--task", "diagnosis", "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "openi: 1 of 1 samples have no diagnosis target" in result.output
    assert "no MeSH term" in result.output


def test_diagnosis_scores_only_what_the_truth_confirms(tmp_path: Path) -> None:
    from medmine.core import ParseStatus, Prediction

    root = write_iu_kaggle(tmp_path / "iu", make_corpus(40, seed=8))
    samples = load_dataset("iu_xray_kaggle", root).samples
    task = DiagnosisTask()
    # a model that calls Support Devices everywhere: excluded, so it cannot hurt or help
    preds = []
    for s in samples:
        values = dict(label_report(s.text or ""))
        values["Support Devices"] = 1.0
        preds.append(Prediction({"observations": values}, ParseStatus.OK))
    scores = task.score(preds, samples)
    excluded = scores.tables["excluded_observations"]
    assert excluded == ["Enlarged Cardiomediastinum", "Pleural Other", "Support Devices"]
    assert "Support Devices" not in scores.tables["per_observation"]
    assert scores.tables["truth"].startswith("mesh: indiana_reports.csv MeSH column")
    assert "kappa" in scores.tables["per_observation"]["Cardiomegaly"]


def test_a_text_model_preset_is_asked_the_same_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OpenAI-compatible text model at 127.0.0.1 gets one request per report, with its text."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from fakeservers import FakeServer, Reply, openai_completion

    corpus = make_corpus(8, seed=4)
    data = tmp_path / "DATA"
    write_iu_kaggle(data / "iu", corpus)
    answer = (  # the way chat models answer: fenced JSON, a sentence before it
        "Here are the labels:\n```json\n"
        '{"No Finding": "positive", "Enlarged Cardiomediastinum": "negative", '
        '"Cardiomegaly": "negative", "Lung Lesion": "not mentioned", "Lung Opacity": "negative", '
        '"Edema": "negative", "Consolidation": "negative", "Pneumonia": "negative", '
        '"Atelectasis": "not mentioned", "Pneumothorax": "negative", '
        '"Pleural Effusion": "negative", "Pleural Other": "not mentioned", '
        '"Fracture": "not mentioned", "Support Devices": "not mentioned"}\n```'
    )
    with FakeServer() as server:
        server.default = Reply(body=openai_completion(answer, prompt_tokens=420))
        presets = tmp_path / "presets.yaml"
        presets.write_text(
            "presets:\n  - name: local-text\n    provider: openai_compatible\n"
            f"    model_id: local-text\n    base_url: {server.url}/v1\n    stream: false\n"
        )
        monkeypatch.setenv("MEDMINE_PRESETS", str(presets))
        monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
        result = CliRunner().invoke(
            app,
            ["run", "--suite", "study", "--data-root", str(data), "--model", "local-text",
             "--model", "chexpert-rules", "--task", "diagnosis", "--out", str(tmp_path / "run")],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    sent = [str(r.body) for r in server.requests]
    assert len(sent) == len(corpus)
    for report in corpus:
        assert sum(report.findings[:40] in body for body in sent) >= 1
    board = (tmp_path / "run" / "leaderboard.md").read_text(encoding="utf-8")
    assert "| iu_xray_kaggle | local-text |" in board
    assert "## diagnosis" in board and "| iu_xray_kaggle | chexpert-rules |" in board
