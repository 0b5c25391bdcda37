"""Overlay PNGs: right size, ground truth in green and prediction in magenta where expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.core import Box, BoxesTarget, LabelTarget, LandmarkTarget, MaskTarget
from medmine.report.overlays import GT_COLOUR, PRED_COLOUR, render_overlay


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    """A mid-grey 1000x600 image (no green or magenta pixels of its own)."""
    path = tmp_path / "img.png"
    Image.fromarray(np.full((600, 1000, 3), 128, np.uint8)).save(path)
    return path


def _colour_at(arr: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(arr == np.array(colour, np.uint8), axis=2)


def test_segmentation_overlay_downscales_and_draws_both(image: Path, tmp_path: Path) -> None:
    mask = np.zeros((600, 1000), np.uint8)
    mask[100:300, 200:600] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    pred = {"polygons": [[[600.0, 320.0], [900.0, 320.0], [900.0, 500.0], [600.0, 500.0]]]}
    out = render_overlay(
        image, MaskTarget(tmp_path / "mask.png"), pred, "segmentation", tmp_path / "o.png"
    )
    arr = np.asarray(Image.open(out).convert("RGB"))
    assert arr.shape == (307, 512, 3)  # 1000x600 scaled by 0.512
    green = _colour_at(arr, GT_COLOUR)
    magenta = _colour_at(arr, PRED_COLOUR)
    s = 0.512
    # GT contour: top edge of the mask at y = 100 px -> about row 51, columns 102..307.
    assert green[int(100 * s) - 1 : int(100 * s) + 2, 120:290].any(axis=0).all()
    assert not green[120:140, 150:250].any()  # inside the mask stays image grey
    # Prediction outline: left edge at x = 600 -> column 307, rows 164..256.
    assert magenta[170:250, 305:309].any(axis=1).all()
    assert not magenta[:150].any()  # nothing magenta above the predicted box (legend aside)


def test_detection_overlay_draws_labelled_boxes(image: Path, tmp_path: Path) -> None:
    target = BoxesTarget((Box(100, 100, 300, 200, "polyp"),), ("polyp",))
    pred = {"boxes": [{"box": [500, 300, 700, 400], "label": "polyp", "score": None}]}
    out = render_overlay(image, target, pred, "detection", tmp_path / "d.png", max_edge=1000)
    arr = np.asarray(Image.open(out).convert("RGB"))
    assert arr.shape == (600, 1000, 3)  # never upscaled, already within max_edge
    green, magenta = _colour_at(arr, GT_COLOUR), _colour_at(arr, PRED_COLOUR)
    assert green[100, 100:300].all() and green[100:200, 100].all()
    assert not green[120:180, 110:290].any()  # the box is an outline
    assert magenta[300, 500:700].all() and magenta[300:400, 699].all()
    assert not green[300:400, 500:700].any()
    label = arr[85:100, 100:160].astype(int)
    greenish = (label[..., 1] > 160) & (label[..., 0] < 110) & (label[..., 2] < 110)
    assert greenish.any()  # the label text above the box (anti-aliased)


def test_localization_overlay_marks_box_and_points(image: Path, tmp_path: Path) -> None:
    target = LandmarkTarget("heart", Box(400, 200, 600, 400), (500.0, 300.0))
    pred = {"boxes": [], "points": [[800.0, 100.0]]}
    out = render_overlay(image, target, pred, "localization", tmp_path / "l.png", max_edge=500)
    arr = np.asarray(Image.open(out).convert("RGB"))
    assert arr.shape == (300, 500, 3)
    assert _colour_at(arr, GT_COLOUR)[150, 245:256].all()  # the target point's cross
    assert _colour_at(arr, PRED_COLOUR)[50, 395:406].all()  # the predicted point's cross


def test_an_empty_prediction_draws_only_the_ground_truth(image: Path, tmp_path: Path) -> None:
    target = BoxesTarget((Box(100, 100, 300, 200, "polyp"),), ("polyp",))
    out = render_overlay(image, target, None, "detection", tmp_path / "e.png")
    arr = np.asarray(Image.open(out).convert("RGB"))
    magenta = _colour_at(arr, PRED_COLOUR)
    assert magenta.sum() < 100  # only the legend swatch


def test_bad_arguments_are_refused(image: Path, tmp_path: Path) -> None:
    target = BoxesTarget((), ("polyp",))
    with pytest.raises(ValueError, match="task_kind"):
        render_overlay(image, target, None, "classification", tmp_path / "x.png")
    with pytest.raises(ValueError, match="not a spatial target"):
        render_overlay(image, LabelTarget("a", ("a",)), None, "detection", tmp_path / "x.png")
    with pytest.raises(ValueError, match="cannot read image"):
        render_overlay(tmp_path / "missing.png", target, None, "detection", tmp_path / "x.png")
