"""`datasets check` on the top folder a user unzipped, for each documented distribution layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from medmine.baselines.classical import landmark_rule
from medmine.datasets.catalog import find_dataset, load_dataset
from medmine.datasets.catalog_loader import load_from_catalog
from medmine.datasets.check import check_dataset
from medmine.run.suite import DatasetSpec


def _img(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr)
    (im.convert(mode) if mode else im).save(path)
    return path


def _rgb(h: int = 20, w: int = 30) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _mask(h: int = 20, w: int = 30) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[4:12, 5:15] = 255
    return m


def test_cvc_clinicdb_kaggle_png_and_tif(tmp_path: Path) -> None:
    top = tmp_path / "archive"  # what Kaggle's zip unpacks to
    for n in (1, 2):
        for fmt, ext in (("PNG", "png"), ("TIF", "tif")):
            _img(top / fmt / "Original" / f"{n}.{ext}", _rgb())
            _img(top / fmt / "Ground Truth" / f"{n}.{ext}", _mask())
    report = check_dataset("cvc_clinicdb_kaggle", top)
    assert report.ok, report.to_text()
    assert report.counts["samples"] == 2  # the TIF copy is the same frames, not read twice
    assert check_dataset("cvc_clinicdb_kaggle", tmp_path).ok  # from the folder above too


HAM_HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"


def test_ham10000_dataverse_metadata_without_extension(tmp_path: Path) -> None:
    top = tmp_path / "dataverse_files"
    rows = [
        "HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp",
        "HAM_0000118,ISIC_0025030,bkl,histo,80.0,male,scalp",
        "HAM_0002730,ISIC_0026769,mel,histo,80.0,male,scalp",
    ]
    (top / "HAM10000_images_part_1").mkdir(parents=True)
    (top / "HAM10000_metadata").write_text(HAM_HEADER + "\n".join(rows) + "\n")
    for r in rows:
        _img(top / "HAM10000_images_part_1" / f"{r.split(',')[1]}.jpg", _rgb())
    report = check_dataset("ham10000", top)
    assert report.ok, report.to_text()
    assert report.counts["train"] == 3
    # Dataverse's ingested .tab form (tab-separated) reads the same
    (top / "HAM10000_metadata").unlink()
    tab = "\n".join(line.replace(",", "\t") for line in [HAM_HEADER.strip(), *rows])
    (top / "HAM10000_metadata.tab").write_text(tab + "\n")
    assert check_dataset("ham10000", top).counts["train"] == 3


def test_montgomery_one_bit_masks(tmp_path: Path) -> None:
    base = tmp_path / "NLM-MontgomeryCXRSet" / "MontgomerySet"
    _img(base / "CXR_png" / "MCUCXR_0001_0.png", np.zeros((20, 30), np.uint8))
    _img(base / "ManualMask" / "leftMask" / "MCUCXR_0001_0.png", _mask(), mode="1")
    _img(base / "ManualMask" / "rightMask" / "MCUCXR_0001_0.png", _mask()[:, ::-1].copy(), "1")
    with Image.open(base / "ManualMask" / "leftMask" / "MCUCXR_0001_0.png") as im:
        assert im.mode == "1"
    report = check_dataset("montgomery", tmp_path / "NLM-MontgomeryCXRSet")
    assert report.ok, report.to_text()
    from medmine.datasets.readers.mask_pairs import mask_array

    sample = load_dataset("montgomery", base.parent).samples[0]
    assert mask_array(sample.target("segmentation")).sum() == 80  # type: ignore[arg-type]


def test_check_on_the_unzipped_top_folder(tmp_path: Path) -> None:
    # Kvasir-SEG.zip unpacks to Kvasir-SEG/ (the layout's own top folder)
    kv = tmp_path / "Kvasir-SEG"
    _img(kv / "images" / "a.jpg", _rgb())
    _img(kv / "masks" / "a.jpg", _mask())
    (kv / "kavsir_bboxes.json").write_text(
        '{"a": {"height": 20, "width": 30, "bbox": '
        '[{"label": "polyp", "xmin": 5, "ymin": 4, "xmax": 15, "ymax": 12}]}}'
    )
    report = check_dataset("kvasir_seg", kv)
    assert report.ok, report.to_text()
    assert find_dataset("kvasir_seg", kv) == tmp_path
    # chest_xray.zip unpacks to chest_xray/ holding chest_xray/ and __MACOSX/
    cx = tmp_path / "download" / "chest_xray"
    for split in ("train", "test"):
        _img(cx / "chest_xray" / split / "NORMAL" / "IM-0001-0001.jpeg", _rgb())
        _img(cx / "chest_xray" / split / "PNEUMONIA" / "person1_bacteria_1.jpeg", _rgb())
    (cx / "__MACOSX").mkdir()
    assert check_dataset("chestxray2017", cx).ok
    # Mendeley's DentalPanoramicXrays download, one folder deeper
    dp = tmp_path / "DentalPanoramicXrays" / "DentalPanoramicXrays"
    _img(dp / "Images" / "1.png", np.zeros((20, 30), np.uint8))
    _img(dp / "Segmentation1" / "1.png", _mask())
    report = check_dataset("dental_mandibles", dp.parent)
    assert report.ok, report.to_text()
    assert any("layout found at" in line for line in report.info)


def test_check_still_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    report = check_dataset("kvasir_seg", tmp_path / "empty")
    assert not report.ok and "missing ['Kvasir-SEG']" in report.to_text()


def test_landmark_baseline_knows_nih_findings() -> None:
    for finding in ("atelectasis", "cardiomegaly", "effusion", "infiltrate", "mass", "nodule",
                    "pneumonia", "pneumothorax"):  # fmt: skip
        rule, note = landmark_rule(finding)
        assert rule.polarity in ("bright", "dark") and note


def test_support_split_equal_to_split_holds_out_patients(tmp_path: Path) -> None:
    top = tmp_path / "ham"
    rows = [f"HAM_{i:07d},ISIC_{i:07d},{'nv' if i % 2 else 'mel'},histo,50,male,back"
            for i in range(20)]  # fmt: skip
    (top / "HAM10000_images_part_1").mkdir(parents=True)
    (top / "HAM10000_metadata.csv").write_text(HAM_HEADER + "\n".join(rows) + "\n")
    for r in rows:
        _img(top / "HAM10000_images_part_1" / f"{r.split(',')[1]}.jpg", _rgb(8, 8))
    spec = DatasetSpec(name="ham10000", root=top, split="train", support_split="train")
    loaded = load_from_catalog(spec, None)
    assert len(loaded.support) == 4 and len(loaded.test) == 16
    assert not {s.patient_id for s in loaded.support} & {s.patient_id for s in loaded.test}
    assert loaded.notice and "held out as the support set" in loaded.notice
    # the default suite (split: test) on this single-split release says the same, consistently
    default = load_from_catalog(DatasetSpec(name="ham10000", root=top), None)
    assert len(default.support) == 4 and "only split 'train'" in (default.notice or "")
