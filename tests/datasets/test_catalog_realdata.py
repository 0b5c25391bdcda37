"""Each dataset in shared/realdata, read through its catalog entry and checked against the files."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from medmine.core import BoxesTarget, LabelTarget, LandmarkTarget, MaskTarget, ObservationsTarget
from medmine.datasets.catalog import find_dataset, load_dataset

REPO = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("MEDMINE_REALDATA", REPO.parent / "shared" / "realdata"))


def folder(name: str) -> Path:
    """The realdata folder of a sample, skipping the test when it is absent."""
    path = REALDATA / name
    if not path.is_dir():
        pytest.skip(f"real data sample {path} not present (set MEDMINE_REALDATA)")
    return path


def test_ham10000_reads_all_seven_classes_with_lesion_as_patient() -> None:
    """Ham10000 reads all seven classes with lesion as patient."""
    root = folder("ham10000")
    read = load_dataset("ham10000", root)
    assert not read.bad and not read.unexpected
    assert len(read.samples) == 10
    with (root / "HAM10000_metadata.csv").open() as fh:
        rows = {r["image_id"]: r for r in csv.DictReader(fh)}
    for s in read.samples:
        target = s.target("classification")
        assert isinstance(target, LabelTarget)
        assert target.label == rows[s.id]["dx"]
        assert s.patient_id == rows[s.id]["lesion_id"]
        assert s.images[0].path.is_file() and s.split == "train"
        assert target.names["nv"][0] == "melanocytic nevi" and "mole" in target.names["nv"]
    labels = Counter(s.target("classification").label for s in read.samples)  # type: ignore[union-attr]
    assert set(labels) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    assert labels["nv"] == 2 and labels["mel"] == 2 and labels["bkl"] == 2


def test_isic2017_masks_and_onehot_labels() -> None:
    """Isic2017 masks and onehot labels."""
    root = folder("isic2017")
    read = load_dataset("isic2017", root)
    assert not read.bad and not read.unexpected
    assert len(read.samples) == 4
    expected = {
        "ISIC_0009995": "nevus",
        "ISIC_0010459": "nevus",
        "ISIC_0012099": "melanoma",
        "ISIC_0014610": "seborrheic_keratosis",
    }
    for s in read.samples:
        assert s.split == "val"
        assert s.target("classification").label == expected[s.id]  # type: ignore[union-attr]
        mask = s.target("segmentation")
        assert isinstance(mask, MaskTarget)
        assert mask.path.name == f"{s.id}_segmentation.png" and mask.path.is_file()
        assert mask.value_map == {0: 0, 255: 1}
        assert s.meta["sex"] in ("male", "female")  # joined from the metadata CSV


def test_chestxray2017_labels_patients_and_subtypes() -> None:
    """Chestxray2017 labels patients and subtypes."""
    root = folder("chestxray2017")
    read = load_dataset("chestxray2017", root)
    assert len(read.samples) == 10 and not read.bad and not read.unexpected
    for s in read.samples:
        label = s.target("classification").label  # type: ignore[union-attr]
        assert label == s.images[0].path.parent.name.lower()
        assert s.patient_id
        if label == "pneumonia":
            assert s.patient_id.startswith("person")
            assert s.meta["subtype"] in s.images[0].path.name
    assert Counter(s.target("classification").label for s in read.samples) == {  # type: ignore[union-attr]
        "normal": 5,
        "pneumonia": 5,
    }
    assert load_dataset("chestxray2017", root, split="test").samples == []


def test_kvasir_seg_boxes_masks_and_sizes_match_json() -> None:
    """Kvasir seg boxes masks and sizes match json."""
    root = folder("kvasir_seg")
    read = load_dataset("kvasir_seg", root)
    data = json.loads((root / "Kvasir-SEG" / "kavsir_bboxes.json").read_text())
    images = sorted(p.stem for p in (root / "Kvasir-SEG" / "images").iterdir())
    assert sorted(s.id for s in read.samples) == images
    assert len(read.samples) == 12 and not read.bad and not read.unexpected
    n_boxes = 0
    for s in read.samples:
        det = s.target("detection")
        assert isinstance(det, BoxesTarget)
        ref = data[s.id]
        assert s.images[0].size == (ref["width"], ref["height"])
        got = [(b.x0, b.y0, b.x1, b.y1) for b in det.boxes]
        want = [(b["xmin"], b["ymin"], b["xmax"], b["ymax"]) for b in ref["bbox"]]
        assert got == want
        n_boxes += len(det.boxes)
        mask = s.target("segmentation")
        assert isinstance(mask, MaskTarget) and mask.threshold == 128 and mask.path.is_file()
    assert n_boxes == sum(len(data[k]["bbox"]) for k in images) == 15


def test_nih_boxes_parsed_and_every_image_reported_missing() -> None:
    """Nih boxes parsed and every image reported missing."""
    root = folder("nih_chestxray14_bbox")
    read = load_dataset("nih_chestxray14", root)
    assert read.samples == []
    assert len(read.missing) == 880 and len(read.bad) == 880
    assert all(b.reason.startswith("missing:") for b in read.bad)
    assert {Path(b.path).name for b in read.bad} == {f"{s.id}.png" for s in read.missing}
    boxes = [b for s in read.missing for b in s.target("detection").boxes]  # type: ignore[union-attr]
    assert len(boxes) == 984
    per_class = Counter(b.label for b in boxes)
    assert per_class["atelectasis"] == 180 and per_class["infiltrate"] == 123
    assert per_class["nodule"] == 79 and len(per_class) == 8
    first = next(s for s in read.missing if s.id == "00013118_008")
    assert first.patient_id == "00013118" and first.images[0].size == (1024, 1024)
    box = first.target("detection").boxes[0]  # type: ignore[union-attr]
    assert box.x0 == pytest.approx(225.084745762712)
    assert box.x1 == pytest.approx(225.084745762712 + 86.7796610169491)
    assert isinstance(first.target("localization"), LandmarkTarget)


def test_iu_xray_r2gen_reports() -> None:
    """Iu xray r2gen reports."""
    root = folder("iu_xray_r2gen")
    read = load_dataset("iu_xray_r2gen", root)
    data = json.loads((root / "iu_xray" / "annotation.json").read_text())
    assert len(read.samples) == 150 and not read.bad
    assert Counter(s.split for s in read.samples) == {"train": 100, "val": 50}
    first = read.samples[0]
    assert first.id == data["train"][0]["id"]
    assert first.text == data["train"][0]["report"]
    assert first.target("report_generation").findings == first.text  # type: ignore[union-attr]
    assert first.meta["missing_images"] == 2 and first.images == ()
    assert len(load_dataset("iu_xray_r2gen", root, split="val").samples) == 50


def test_chexpert_labeler_sample_reports_with_labels() -> None:
    """Chexpert labeler sample reports with labels."""
    root = folder("chexpert_labeler_samples")
    read = load_dataset("chexpert_labeler_sample", root)
    assert len(read.samples) == 4
    diag = read.samples[2].target("diagnosis")
    assert isinstance(diag, ObservationsTarget)
    assert diag.values["Lung Opacity"] == 1.0
    assert diag.values["Consolidation"] == -1.0
    assert diag.values["Atelectasis"] == -1.0
    assert diag.values["Cardiomegaly"] is None
    assert len(diag.values) == 14
    assert "\n" in (read.samples[1].text or "")  # the quoted multi-line report


def test_find_dataset_locates_each_sample_folder() -> None:
    """Find dataset locates each sample folder."""
    folder("kvasir_seg")
    pairs = {
        "ham10000": "ham10000",
        "isic2017": "isic2017",
        "chestxray2017": "chestxray2017",
        "kvasir_seg": "kvasir_seg",
        "nih_chestxray14": "nih_chestxray14_bbox",
        "iu_xray_r2gen": "iu_xray_r2gen",
        "chexpert_labeler_sample": "chexpert_labeler_samples",
    }
    for name, sub in pairs.items():
        assert find_dataset(name, REALDATA) == REALDATA / sub, name
    assert find_dataset("refuge", REALDATA) is None


def test_fingerprint_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    """Fingerprint is stable and content sensitive."""
    import shutil

    src = folder("ham10000")
    a = load_dataset("ham10000", src).fingerprint
    assert a == load_dataset("ham10000", src).fingerprint
    copy = tmp_path / "ham"
    shutil.copytree(src, copy)
    for p in copy.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)  # shared/ may be read-only
    assert load_dataset("ham10000", copy).fingerprint == a  # relative paths: location-free
    meta = copy / "HAM10000_metadata.csv"
    meta.write_text(
        meta.read_text().replace("HAM_0000351,ISIC_0024324,bkl", "HAM_0000351,ISIC_0024324,nv")
    )
    assert load_dataset("ham10000", copy).fingerprint != a
