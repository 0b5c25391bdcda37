"""check_dataset on real and broken copies: exactly the broken files are reported, by name."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.datasets.check import check_dataset

REPO = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("MEDMINE_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture
def kvasir_copy(tmp_path: Path) -> Path:
    """A writable copy of the real Kvasir-SEG sample."""
    src = REALDATA / "kvasir_seg"
    if not src.is_dir():
        pytest.skip(f"real data sample {src} not present (set MEDMINE_REALDATA)")
    dst = tmp_path / "kvasir_seg"
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def test_real_kvasir_sample_is_ok_with_subset_info(kvasir_copy: Path) -> None:
    """Real kvasir sample is ok with subset info."""
    report = check_dataset("kvasir_seg", kvasir_copy)
    assert report.ok, report.to_text()
    assert report.counts["samples"] == 12 and report.counts["boxes"] == 15
    assert any("12 of 1000" in line for line in report.info)
    assert report.fingerprint


def test_broken_kvasir_copy_reports_exactly_the_three_problems(kvasir_copy: Path) -> None:
    """Broken kvasir copy reports exactly the three problems."""
    top = kvasir_copy / "Kvasir-SEG"
    truncated = top / "images" / "cju0qkwl35piu0993l0dewei2.jpg"
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    deleted = top / "masks" / "cju0roawvklrq0799vmjorwfv.jpg"
    deleted.unlink()
    stray = top / "images" / "notes.txt"
    stray.write_text("not an image")
    report = check_dataset("kvasir_seg", kvasir_copy)
    assert not report.ok
    found = sorted((kind, Path(path).name) for kind, path, _ in report.problems)
    assert found == [
        ("corrupt", truncated.name),
        ("missing", deleted.name),
        ("unexpected", stray.name),
    ], report.to_text()
    assert str(deleted) in report.to_text()


def test_wrong_layout_shows_the_expected_tree(tmp_path: Path) -> None:
    """Wrong layout shows the expected tree."""
    (tmp_path / "images").mkdir()
    report = check_dataset("kvasir_seg", tmp_path)
    assert not report.ok
    kind, _, message = report.problems[0]
    assert kind == "layout" and "kavsir_bboxes.json" in message and "Kvasir-SEG/" in message


def test_mask_size_and_values_are_checked(tmp_path: Path) -> None:
    """Mask size and values are checked."""
    root = tmp_path / "cvc"
    (root / "CVC-ClinicDB" / "Original").mkdir(parents=True)
    (root / "CVC-ClinicDB" / "Ground Truth").mkdir(parents=True)
    img = np.zeros((20, 30, 3), np.uint8)
    Image.fromarray(img).save(root / "CVC-ClinicDB" / "Original" / "1.tif")
    Image.fromarray(img).save(root / "CVC-ClinicDB" / "Original" / "2.tif")
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(
        root / "CVC-ClinicDB" / "Ground Truth" / "1.tif"
    )
    Image.fromarray(np.zeros((10, 30), np.uint8)).save(
        root / "CVC-ClinicDB" / "Ground Truth" / "2.tif"
    )
    report = check_dataset("cvc_clinicdb", root)
    assert [(k, Path(p).name) for k, p, _ in report.problems] == [("mask_size", "2.tif")]

    isic = tmp_path / "isic"
    (isic / "ISIC-2017_Validation_Data").mkdir(parents=True)
    (isic / "ISIC-2017_Validation_Part1_GroundTruth").mkdir()
    Image.fromarray(img).save(isic / "ISIC-2017_Validation_Data" / "ISIC_1.jpg")
    bad_mask = np.zeros((20, 30), np.uint8)
    bad_mask[0, 0] = 7
    Image.fromarray(bad_mask).save(
        isic / "ISIC-2017_Validation_Part1_GroundTruth" / "ISIC_1_segmentation.png"
    )
    (isic / "ISIC-2017_Validation_Part3_GroundTruth.csv").write_text(
        "image_id,melanoma,seborrheic_keratosis\nISIC_1,0.0,0.0\n"
    )
    report = check_dataset("isic2017", isic)
    assert [k for k, _, _ in report.problems] == ["mask_values"]
    assert "[7]" in report.problems[0][2]
