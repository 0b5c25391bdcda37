"""Spatial tasks on real Kvasir-SEG and ISIC 2017 samples: ground truth fed back as answers.

Every expected value is computed here with plain numpy from the ground-truth mask, not with
the task's own code path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from medmine.core import Box, BoxesTarget, ImageRef, MaskTarget, Response, Sample
from medmine.datasets.masks import read_mask
from medmine.metrics.geometry import mask_to_box, mask_to_polygons, rasterize_polygon
from medmine.tasks.coords import BOX_CONVENTIONS, ImageGeometry, polygon_from_pixels
from medmine.tasks.detection import DetectionTask
from medmine.tasks.segmentation import SegmentationTask
from medmine.tasks.spatial_common import box_spelling, point_spelling

REPO = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("MEDMINE_REALDATA", REPO.parent / "shared" / "realdata"))
KVASIR = REAL / "kvasir_seg" / "Kvasir-SEG"
ISIC = REAL / "isic2017"

pytestmark = pytest.mark.skipif(
    not (KVASIR / "kavsir_bboxes.json").is_file()
    or not (ISIC / "ISIC-2017_Validation_Part1_GroundTruth").is_dir(),
    reason=f"real data samples not found under {REAL} (set MEDMINE_REALDATA)",
)


def _kvasir() -> list[Sample]:
    boxes = json.loads((KVASIR / "kavsir_bboxes.json").read_text())
    out = []
    for key, entry in boxes.items():
        image = KVASIR / "images" / f"{key}.jpg"
        if not image.is_file():
            continue
        gt_boxes = tuple(
            Box(b["xmin"], b["ymin"], b["xmax"], b["ymax"], label="polyp") for b in entry["bbox"]
        )
        out.append(
            Sample(
                id=key,
                dataset="kvasir-seg",
                images=(ImageRef(image),),
                category="endoscopy",
                targets={
                    "segmentation": MaskTarget(
                        KVASIR / "masks" / f"{key}.jpg", "polyp", threshold=128
                    ),
                    "detection": BoxesTarget(gt_boxes, ("polyp",)),
                },
            )
        )
    return out


def _isic() -> list[Sample]:
    out = []
    for mask in sorted((ISIC / "ISIC-2017_Validation_Part1_GroundTruth").glob("*.png")):
        stem = mask.name.removesuffix("_segmentation.png")
        out.append(
            Sample(
                id=stem,
                dataset="isic2017",
                images=(ImageRef(ISIC / "ISIC-2017_Validation_Data" / f"{stem}.jpg"),),
                category="dermatology",
                targets={"segmentation": MaskTarget(mask, "lesion")},
            )
        )
    return out


SAMPLES = _kvasir() + _isic() if KVASIR.is_dir() and ISIC.is_dir() else []


def _gt(sample: Sample) -> np.ndarray:
    target = sample.targets["segmentation"]
    assert isinstance(target, MaskTarget)
    return read_mask(target.path, threshold=target.threshold)


def _geometry(sample: Sample) -> ImageGeometry:
    w, h = sample.images[0].dimensions()
    return ImageGeometry(w, h)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def _polygons_answer(polys: list[np.ndarray], convention: str, g: ImageGeometry, **kw) -> str:
    written = [polygon_from_pixels(p, point_spelling(convention), g, **kw).tolist() for p in polys]
    return json.dumps({"polygons": written})


def _score(task: SegmentationTask, sample: Sample, text: str) -> dict[str, float]:
    pred = task.parse(Response(text=text, model="test"), sample)
    return task.score([pred], [sample]).per_sample[sample.id]


@pytest.fixture(scope="module")
def masks() -> dict[str, np.ndarray]:
    return {s.id: _gt(s) for s in SAMPLES}


def test_the_samples_are_there() -> None:
    assert len([s for s in SAMPLES if s.dataset == "kvasir-seg"]) >= 10
    assert len([s for s in SAMPLES if s.dataset == "isic2017"]) == 4


@pytest.mark.parametrize("convention", BOX_CONVENTIONS)
def test_ground_truth_polygons_in_every_convention_score_dice_near_one(
    convention: str, masks: dict[str, np.ndarray]
) -> None:
    task = SegmentationTask(convention=convention)
    for sample in SAMPLES:
        gt = masks[sample.id]
        text = _polygons_answer(mask_to_polygons(gt), convention, _geometry(sample))
        row = _score(task, sample, text)
        assert row["dice"] > 0.98, (sample.id, convention, row)
        assert row["usable"] == 1.0


@pytest.mark.parametrize(
    "convention", ["pixel_xyxy", "norm1000_xyxy", "norm1_yxyx", "percent_xyxy"]
)
def test_a_bounding_box_answer_scores_the_box_versus_mask_dice(
    convention: str, masks: dict[str, np.ndarray]
) -> None:
    from medmine.tasks.coords import box_from_pixels, box_to_pixels

    task = SegmentationTask(convention=convention)
    for sample in SAMPLES:
        gt = masks[sample.id]
        g = _geometry(sample)
        written = box_from_pixels(mask_to_box(gt), box_spelling(convention), g)
        pred = task.parse(Response(text=json.dumps({"box": written}), model="t"), sample)
        assert pred.usable and "corners of a box" in (pred.detail or "")
        x0, y0, x1, y1 = box_to_pixels(written, box_spelling(convention), g)
        cx = np.arange(g.width) + 0.5
        cy = np.arange(g.height) + 0.5
        box_mask = ((cy >= y0) & (cy < y1))[:, None] & ((cx >= x0) & (cx < x1))[None, :]
        got = task.score([pred], [sample]).per_sample[sample.id]["dice"]
        assert got == pytest.approx(_dice(box_mask, gt), abs=1e-12)
        assert 0.0 < got < 0.99


def test_shifted_and_scaled_answers_score_the_independently_expected_dice(
    masks: dict[str, np.ndarray],
) -> None:
    task = SegmentationTask(convention="pixel_xyxy")
    for sample in SAMPLES:
        gt = masks[sample.id]
        g = _geometry(sample)
        polys = mask_to_polygons(gt)
        filled = np.zeros_like(gt)
        for p in polys:
            filled |= rasterize_polygon(p, g.height, g.width)
        # Shift right by 10% of the width (whole pixels): the filled mask moved, cut at the edge.
        dx = round(0.1 * g.width)
        shifted = np.zeros_like(filled)
        shifted[:, dx:] = filled[:, : g.width - dx]
        text = _polygons_answer([p + np.array([dx, 0]) for p in polys], "pixel_xyxy", g)
        got = _score(task, sample, text)["dice"]
        assert got == pytest.approx(_dice(shifted, gt), abs=1e-12)
        assert got < 0.95
        # Scale x0.5 about a half-integer centre: pixel (r, c) of the result is pixel
        # (2r - my, 2c - mx) of the filled mask, where the centre is (mx + 0.5, my + 0.5).
        x0, y0, x1, y1 = mask_to_box(gt)
        mx, my = (x0 + x1) // 2, (y0 + y1) // 2
        centre = np.array([mx + 0.5, my + 0.5])
        rr, cc = np.mgrid[0 : g.height, 0 : g.width]
        src_r, src_c = 2 * rr - my, 2 * cc - mx
        inside = (src_r >= 0) & (src_r < g.height) & (src_c >= 0) & (src_c < g.width)
        scaled = np.zeros_like(filled)
        scaled[inside] = filled[src_r[inside], src_c[inside]]
        half = [centre + 0.5 * (p - centre) for p in polys]
        text = _polygons_answer(half, "pixel_xyxy", g, rounded=False)
        got = _score(task, sample, text)["dice"]
        assert got == pytest.approx(_dice(scaled, gt), abs=1e-12)
        assert got < 0.8


def test_a_shift_in_norm1000_is_read_within_the_rounding_of_the_convention(
    masks: dict[str, np.ndarray],
) -> None:
    task = SegmentationTask()
    for sample in SAMPLES[:4]:
        gt = masks[sample.id]
        g = _geometry(sample)
        dx = round(0.1 * g.width)
        shifted = np.zeros_like(gt)
        shifted[:, dx:] = gt[:, : g.width - dx]
        # Clipped to the image as a model would write it (a value above 1000 reads as pixels).
        polys = [
            np.clip(p + np.array([dx, 0]), 0, [g.width, g.height]) for p in mask_to_polygons(gt)
        ]
        got = _score(task, sample, _polygons_answer(polys, "norm1000_xyxy", g))["dice"]
        assert got == pytest.approx(_dice(shifted, gt), abs=0.02)


@pytest.mark.parametrize("convention", ["pixel_xyxy", "norm1000_xyxy", "norm1000_yxyx"])
def test_kvasir_boxes_fed_back_to_detection_give_ap50_of_one(convention: str) -> None:
    from medmine.tasks.coords import box_from_pixels

    samples = [s for s in SAMPLES if s.dataset == "kvasir-seg"]
    task = DetectionTask(convention=convention, ci_resamples=0)
    preds = []
    for s in samples:
        target = s.targets["detection"]
        assert isinstance(target, BoxesTarget)
        g = _geometry(s)
        lesions = [
            {"label": "polyp", "box": box_from_pixels((b.x0, b.y0, b.x1, b.y1), convention, g)}
            for b in target.boxes
        ]
        preds.append(task.parse(Response(text=json.dumps({"lesions": lesions}), model="t"), s))
    scores = task.score(preds, samples)
    assert scores.metrics["ap50"] == 1.0
    assert scores.metrics["recall"] == 1.0 and scores.metrics["precision"] == 1.0
    n_boxes = sum(len(s.targets["detection"].boxes) for s in samples)  # type: ignore[union-attr]
    assert n_boxes > len(samples)  # some images have several polyps
    assert sum(r["tp"] for r in scores.per_sample.values()) == n_boxes
    if convention == "pixel_xyxy":
        assert scores.metrics["ap"] == 1.0
