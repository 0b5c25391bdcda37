"""Classical spatial baselines: Otsu against scikit-image, rules, answers in each convention."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.filters import threshold_otsu

from medmine.baselines.classical import (
    BlobDetector,
    LandmarkIntensity,
    OtsuLCC,
    detect_blobs,
    landmark_rule,
    load_work_image,
    otsu_threshold,
)
from medmine.baselines.registry import default_baselines, make_baseline
from medmine.core import (
    Box,
    BoxesTarget,
    ImageRef,
    LandmarkTarget,
    MaskTarget,
    Response,
    Sample,
)
from medmine.tasks.detection import DetectionTask
from medmine.tasks.localization import LocalizationTask
from medmine.tasks.segmentation import SegmentationTask


def test_registered_as_defaults() -> None:
    names = default_baselines()
    for name in ("otsu-lcc", "landmark-intensity", "blob-detector"):
        assert name in names
        assert make_baseline(name).name == name


@pytest.mark.parametrize("seed", range(5))
def test_otsu_threshold_agrees_with_scikit_image(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.r_[rng.normal(60, 12, 3000), rng.normal(170, 20, 1500 + 300 * seed)]
    t, eta = otsu_threshold(values)
    ref = threshold_otsu(values, nbins=256)
    width = (values.max() - values.min()) / 256
    # scikit-image returns the centre of the best bin, this returns its upper edge.
    assert t == pytest.approx(ref + width / 2, abs=1e-9)
    assert 0.5 < eta <= 1.0
    with pytest.raises(ValueError, match="at least one value"):
        otsu_threshold(np.array([]))


def _disc_sample(tmp_path: Path) -> Sample:
    """Dark noisy skin with a brown 'lesion' disc of radius 60 at (170, 130) on 320x240."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    disc = np.hypot(xx - 170, yy - 130) < 60
    img = np.where(disc[..., None], [110, 70, 40], [220, 180, 150]) + rng.normal(
        0, 6, (240, 320, 3)
    )
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(tmp_path / "img.png")
    Image.fromarray((disc * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    return Sample(
        "d",
        "toy",
        (ImageRef(tmp_path / "img.png"),),
        category="dermatology",
        targets={
            "segmentation": MaskTarget(tmp_path / "mask.png"),
            "localization": LandmarkTarget("optic disc", Box(110, 70, 230, 190), (170.0, 130.0)),
        },
    )


@pytest.mark.parametrize("convention", ["norm1000_xyxy", "norm1000_yxyx", "pixel_xyxy", "norm1_xy"])
def test_otsu_lcc_answers_in_the_requested_convention(tmp_path: Path, convention: str) -> None:
    sample = _disc_sample(tmp_path)
    task = SegmentationTask(convention=convention)
    response = asyncio.run(OtsuLCC().generate(task.request(sample)))
    assert response.error is None
    answer = json.loads(response.text)
    assert set(answer) == {"polygons"} and len(answer["polygons"]) == 1
    pred = task.parse(response, sample)
    assert pred.usable and pred.value["convention_seen"].startswith(convention.split("_")[0])
    assert task.score([pred], [sample]).per_sample["d"]["dice"] > 0.95


def test_landmark_rules_name_the_rule_and_refuse_unknown_structures() -> None:
    rule, note = landmark_rule("Optic  Disc")
    assert rule.polarity == "bright" and "rule for 'optic disc'" in note
    rule, note = landmark_rule("tooth 36")
    assert rule.window[0] > 0.5 and rule.window[1] >= 0.45  # lower arch, image right
    rule, note = landmark_rule("tooth 11")
    assert rule.window[2] < 0.5 and rule.window[3] <= 0.55  # upper arch, image left
    rule, note = landmark_rule("right lower lung zone")
    assert note.startswith("fallback rule") and rule.polarity == "enclosed-dark"
    with pytest.raises(ValueError, match="does not know structure 'spleen'"):
        landmark_rule("spleen")


def test_landmark_intensity_finds_a_bright_disc_as_box_and_point(tmp_path: Path) -> None:
    sample = _disc_sample(tmp_path)
    # Invert brightness so the disc is the brightest blob.
    img = np.asarray(Image.open(sample.images[0].path)).astype(int)
    Image.fromarray((255 - img).astype(np.uint8)).save(sample.images[0].path)
    for answer in ("box", "point", "both"):
        task = LocalizationTask(answer=answer)  # type: ignore[arg-type]
        response = asyncio.run(LandmarkIntensity().generate(task.request(sample)))
        payload = json.loads(response.text)
        assert "rule for 'optic disc'" in payload["notes"]
        scores = task.score([task.parse(response, sample)], [sample])
        assert scores.per_sample["d"]["hit"] == 1.0
        assert scores.per_sample["d"]["distance"] < 0.05


def test_blob_detector_finds_bright_and_dark_blobs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:256, 0:256]
    img = 100 + rng.normal(0, 3, (256, 256))
    img[np.hypot(xx - 60, yy - 70) < 10] = 200
    img[np.hypot(xx - 180, yy - 160) < 14] = 200
    img[np.hypot(xx - 200, yy - 50) < 8] = 10
    path = tmp_path / "blobs.png"
    Image.fromarray(np.repeat(img.clip(0, 255)[..., None], 3, 2).astype(np.uint8)).save(path)
    work = load_work_image(ImageRef(path))
    bright = detect_blobs(work, "bright")
    centres = sorted(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b, _ in bright)
    assert len(bright) == 2
    assert centres[0] == pytest.approx((60.5, 70.5), abs=3)
    assert centres[1] == pytest.approx((180.5, 160.5), abs=3)
    dark = detect_blobs(work, "dark")
    (x0, y0, x1, y1), score = dark[0]  # strongest first; bright blobs' rims may add weak ones
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx((200.5, 50.5), abs=3)
    assert all(0 < s <= score for _, s in dark)
    sample = Sample(
        "b",
        "toy",
        (ImageRef(path),),
        targets={
            "detection": BoxesTarget(
                (Box(50, 60, 71, 81, "polyp"), Box(166, 146, 195, 175, "polyp")), ("polyp",)
            )
        },
    )
    task = DetectionTask(ci_resamples=0)
    response = asyncio.run(BlobDetector().generate(task.request(sample)))
    payload = json.loads(response.text)
    assert {les["label"] for les in payload["lesions"]} == {"polyp"}
    assert payload["notes"] == "bright blobs for class 'polyp'"
    assert task.score([task.parse(response, sample)], [sample]).metrics["ap50"] > 0.99


def test_a_class_without_a_polarity_rule_says_so(tmp_path: Path) -> None:
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path)
    sample = Sample(
        "f", "toy", (ImageRef(path),), targets={"detection": BoxesTarget((), ("fracture",))}
    )
    response = asyncio.run(BlobDetector().generate(DetectionTask().request(sample)))
    payload = json.loads(response.text)
    assert payload == {
        "lesions": [],
        "notes": "class 'fracture' has no polarity rule: searched bright and dark blobs",
    }


def test_wrong_task_and_unreadable_image_are_error_responses(tmp_path: Path) -> None:
    sample = _disc_sample(tmp_path)
    response: Response = asyncio.run(OtsuLCC().generate(LocalizationTask().request(sample)))
    assert response.error_kind == "unsupported"
    request = SegmentationTask().request(sample)
    sample.images[0].path.write_bytes(b"not an image")
    response = asyncio.run(OtsuLCC().generate(request))
    assert response.error_kind == "input" and "cannot read image" in (response.error or "")
