"""medmine.metrics.segmentation against medpy.metric.binary on the same inputs."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from medmine.metrics import segmentation as seg

mb = pytest.importorskip("medpy.metric.binary")

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)


def _blob(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A random rotated, wobbly ellipse, sometimes cut by the image border."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(-0.1 * h, 1.1 * h), rng.uniform(-0.1 * w, 1.1 * w)
    a, b = rng.uniform(1.5, 0.4 * max(h, w), 2)
    th = rng.uniform(0, np.pi)
    x = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
    y = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
    r = (x / a) ** 2 + (y / b) ** 2
    r *= 1 + 0.3 * np.sin(rng.integers(2, 6) * np.arctan2(y, x) + rng.uniform(0, 6))
    return r < 1


def _random_pairs(seed: int, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-empty random mask pairs of varied shapes: blobs, noise, and unions of blobs."""
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < n:
        shape = (int(rng.integers(5, 90)), int(rng.integers(5, 90)))
        kind = len(pairs) % 3
        if kind == 0:
            p, g = _blob(rng, shape), _blob(rng, shape)
        elif kind == 1:
            p, g = rng.random(shape) < 0.2, rng.random(shape) < 0.5
        else:
            p = _blob(rng, shape) | _blob(rng, shape)
            g = _blob(rng, shape) | (rng.random(shape) < 0.01)
        if p.any() and g.any():
            pairs.append((p, g))
    return pairs


PAIRS = _random_pairs(0, 90)


@pytest.mark.parametrize("spacing", [None, 0.7, (0.5, 1.3), (2.0, 0.35)])
def test_distances_match_medpy_bit_for_bit(spacing: object) -> None:
    for p, g in PAIRS:
        assert seg.hd95(p, g, spacing) == mb.hd95(p, g, spacing)
        assert seg.assd(p, g, spacing) == mb.assd(p, g, spacing)
        assert seg.asd(p, g, spacing) == mb.asd(p, g, spacing)
        assert seg.asd(g, p, spacing) == mb.asd(g, p, spacing)
        assert seg.hd(p, g, spacing) == mb.hd(p, g, spacing)


def test_overlap_matches_medpy() -> None:
    for p, g in PAIRS:
        assert seg.dice(p, g) == mb.dc(p, g)
        assert seg.iou(p, g) == mb.jc(p, g)


def test_large_masks_use_kdtree_path_and_still_match() -> None:
    rng = np.random.default_rng(3)
    for _ in range(4):
        p, g = _blob(rng, (300, 260)) | _blob(rng, (300, 260)), _blob(rng, (300, 260))
        if not (p.any() and g.any()):
            continue
        ps = seg._surface(p)
        gs = seg._surface(g)
        assert len(ps) * len(gs) > seg._BRUTE_FORCE_PAIRS
        assert seg.hd95(p, g, (0.8, 1.1)) == mb.hd95(p, g, (0.8, 1.1))
        assert seg.assd(p, g) == mb.assd(p, g)


def test_single_pixel_and_border_touching_masks() -> None:
    shape = (40, 50)
    single_a = np.zeros(shape, bool)
    single_a[0, 0] = True
    single_b = np.zeros(shape, bool)
    single_b[39, 49] = True
    edge = np.zeros(shape, bool)
    edge[:, :3] = True
    full = np.ones(shape, bool)
    cases = [
        (single_a, single_b),
        (single_a, edge),
        (edge, full),
        (full, single_b),
        (single_a, single_a),
    ]
    for p, g in cases:
        for sp in (None, (1.5, 0.5)):
            assert seg.hd95(p, g, sp) == mb.hd95(p, g, sp)
            assert seg.assd(p, g, sp) == mb.assd(p, g, sp)
        assert seg.dice(p, g) == mb.dc(p, g)
    assert seg.hd95(single_a, single_b) == math.hypot(39, 49)


def test_three_dimensional_volumes_match_medpy() -> None:
    rng = np.random.default_rng(11)
    zz, yy, xx = np.mgrid[:12, :30, :30]
    for _ in range(3):
        c = rng.uniform(0, 30, 3)
        p = ((zz - c[0] / 2.5) / 4) ** 2 + ((yy - c[1]) / 9) ** 2 + ((xx - c[2]) / 7) ** 2 < 1
        g = ((zz - 6) / 5) ** 2 + ((yy - 15) / 8) ** 2 + ((xx - 14) / 10) ** 2 < 1
        if not p.any():
            continue
        sp = (2.5, 0.8, 0.8)
        assert seg.hd95(p, g, sp) == mb.hd95(p, g, sp)
        assert seg.assd(p, g, sp) == mb.assd(p, g, sp)


def test_combined_scores_equal_separate_functions() -> None:
    for p, g in PAIRS[:30]:
        s = seg.segmentation_scores(p, g, (0.9, 1.2))
        assert s.dice == seg.dice(p, g)
        assert s.iou == seg.iou(p, g)
        assert s.hd95 == seg.hd95(p, g, (0.9, 1.2))
        assert s.assd == seg.assd(p, g, (0.9, 1.2))


def test_surface_distances_are_medpy_order() -> None:
    p, g = PAIRS[0]
    d1, d2 = seg.surface_distances(p, g)
    assert d1.size == np.count_nonzero(p) - np.count_nonzero(ndimage.binary_erosion(p))
    assert np.hstack((d1, d2)).mean() == mb.assd(p, g)


def test_empty_mask_policy() -> None:
    empty = np.zeros((30, 40), bool)
    lesion = np.zeros((30, 40), bool)
    lesion[5:9, 5:9] = True
    diag = math.hypot(30, 40)
    assert seg.dice(empty, empty) == 1.0 and seg.iou(empty, empty) == 1.0
    assert seg.dice(empty, lesion) == 0.0 and seg.iou(lesion, empty) == 0.0
    for f in (seg.hd95, seg.assd, seg.asd, seg.hd):
        assert f(empty, empty) == 0.0
        assert f(empty, lesion) == diag
        assert f(lesion, empty) == diag
    assert seg.hd95(empty, lesion, (2.0, 0.5)) == math.hypot(60, 20)
    scores = seg.segmentation_scores(lesion, empty, 3.0)
    assert (scores.dice, scores.iou, scores.hd95, scores.assd) == (0.0, 0.0, 150.0, 150.0)
    assert seg.segmentation_scores(empty, empty) == seg.SegmentationScores(1.0, 1.0, 0.0, 0.0)
    assert seg.empty_mask_value("distance", False, False, (3, 3)) is None
    with pytest.raises(ValueError, match="non-empty"):
        seg.surface_distances(empty, lesion)


def test_bad_inputs_raise_clear_errors() -> None:
    a = np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match="same shape"):
        seg.dice(a, np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="spacing"):
        seg.hd95(a, a, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="positive"):
        seg.hd95(a, a, (1.0, -1.0))
    with pytest.raises(ValueError, match="NaN"):
        seg.iou(np.full((2, 2), np.nan), a[:2, :2])
    with pytest.raises(ValueError, match="scalar"):
        seg.dice(np.bool_(True), np.bool_(True))
    with pytest.raises(ValueError, match="kind"):
        seg.empty_mask_value("area", True, True, (2, 2))  # type: ignore[arg-type]
