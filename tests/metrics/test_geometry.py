"""medmine.metrics.geometry: rasterisation conventions, round trips on real masks, box IoU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from medmine.datasets.masks import read_mask
from medmine.metrics.geometry import (
    box_iou,
    box_iou_matrix,
    mask_to_box,
    mask_to_polygons,
    rasterize_box,
    rasterize_polygon,
)
from medmine.metrics.segmentation import dice

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
KVASIR = REALDATA / "kvasir_seg" / "Kvasir-SEG"
ISIC = REALDATA / "isic2017" / "ISIC-2017_Validation_Part1_GroundTruth"


def _centre_in_polygon(px: float, py: float, poly: np.ndarray) -> bool:
    """Slow reference even-odd test (half-open in y, crossing counted if at or left of px)."""
    inside = False
    n = len(poly)
    for i in range(n):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % n]
        if (y0 <= py < y1) or (y1 <= py < y0):
            x = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
            if x <= px:
                inside = not inside
    return inside


def test_polygon_matches_per_pixel_reference() -> None:
    rng = np.random.default_rng(0)
    for _ in range(25):
        poly = rng.uniform(-3, 23, size=(int(rng.integers(3, 9)), 2))
        got = rasterize_polygon(poly, 17, 20)
        want = np.array(
            [[_centre_in_polygon(c + 0.5, r + 0.5, poly) for c in range(20)] for r in range(17)]
        )
        assert np.array_equal(got, want)


def test_polygon_conventions() -> None:
    square = np.array([[1, 1], [4, 1], [4, 3], [1, 3]], float)
    expected = np.zeros((5, 6), bool)
    expected[1:3, 1:4] = True
    assert np.array_equal(rasterize_polygon(square, 5, 6), expected)
    closed = np.vstack([square, square[:1]])
    assert np.array_equal(rasterize_polygon(closed, 5, 6), expected)
    assert np.array_equal(rasterize_polygon(square[::-1], 5, 6), expected)
    # Bow tie: even-odd keeps both lobes, the crossing column stays empty on middle rows.
    bow = rasterize_polygon([[0, 0], [10, 10], [10, 0], [0, 10]], 10, 10)
    assert bow[5, 1] and bow[5, 8] and not bow[1, 5]
    # Degenerate polygons give empty masks.
    for pts in ([[1, 1], [5, 5]], [[1, 1], [3, 3], [6, 6], [2, 2]], np.zeros((0, 2))):
        assert not rasterize_polygon(np.asarray(pts, float).reshape(-1, 2), 8, 8).any()
    # Clipped by the image.
    assert rasterize_polygon([[-5, -5], [50, -5], [50, 50], [-5, 50]], 4, 3).all()


def test_polygon_pentagram_has_empty_centre() -> None:
    ang = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    star = np.c_[50 + 40 * np.cos(ang), 50 - 40 * np.sin(ang)]
    m = rasterize_polygon(star, 100, 100)
    assert not m[50, 50] and m[20, 50]


def test_large_polygon_is_exact_against_box() -> None:
    t = np.linspace(0, 2 * np.pi, 10_000, endpoint=False)
    pts = np.c_[300 + 250 * np.cos(t), 280 + 200 * np.sin(t)]
    m = rasterize_polygon(pts, 600, 620)
    yy, xx = np.mgrid[:600, :620] + 0.5
    ellipse = ((xx - 300) / 250) ** 2 + ((yy - 280) / 200) ** 2 < 1
    assert dice(m, ellipse) > 0.999


def test_box_rasterisation_and_round_trip() -> None:
    box = (1.2, 2.7, 5.5, 8.1)
    corners = [[1.2, 2.7], [5.5, 2.7], [5.5, 8.1], [1.2, 8.1]]
    assert np.array_equal(rasterize_box(box, 12, 12), rasterize_polygon(corners, 12, 12))
    m = rasterize_box((0, 0, 2, 2), 4, 4)
    assert m.sum() == 4 and m[:2, :2].all()
    assert not rasterize_box((3, 3, 3, 9), 10, 10).any()
    rng = np.random.default_rng(1)
    for _ in range(30):
        mask = rng.random((15, 18)) < 0.05
        b = mask_to_box(mask)
        if b is None:
            continue
        rows, cols = np.nonzero(mask)
        assert b == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        filled = np.zeros_like(mask)
        filled[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
        assert np.array_equal(rasterize_box(b, *mask.shape), filled)
    assert mask_to_box(np.zeros((3, 3), bool)) is None


def test_mask_to_polygons_reproduces_filled_components() -> None:
    rng = np.random.default_rng(2)
    for i in range(60):
        noise = rng.random((30, 35)) < rng.uniform(0.2, 0.8)
        mask = ndimage.binary_opening(noise) if i % 2 else noise
        polys = mask_to_polygons(mask)
        _, n = ndimage.label(mask)
        assert len(polys) == n
        out = np.zeros_like(mask)
        for p in polys:
            assert p.ndim == 2 and p.shape[1] == 2
            out |= rasterize_polygon(p, *mask.shape)
        assert np.array_equal(out, ndimage.binary_fill_holes(mask, structure=np.ones((3, 3))))
    assert mask_to_polygons(np.zeros((4, 4), bool)) == []
    single = np.zeros((3, 3), bool)
    single[1, 1] = True
    (poly,) = mask_to_polygons(single)
    assert sorted(map(tuple, poly.tolist())) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def _real_masks() -> list[tuple[str, np.ndarray]]:
    """Real Kvasir-SEG (thresholded JPEG) and ISIC 2017 masks, or skip."""
    if not (KVASIR.is_dir() and ISIC.is_dir()):
        pytest.skip(f"real data not found under {REALDATA}")
    masks = [
        (p.name, read_mask(p, threshold=128)) for p in sorted((KVASIR / "masks").glob("*.jpg"))
    ]
    masks += [(p.name, read_mask(p)) for p in sorted(ISIC.glob("*.png"))]
    assert masks
    return masks


def test_real_masks_round_trip_polygons_and_box() -> None:
    for name, mask in _real_masks():
        out = np.zeros_like(mask)
        for poly in mask_to_polygons(mask):
            out |= rasterize_polygon(poly, *mask.shape)
        assert dice(out, mask) > 0.99, name
        box = mask_to_box(mask)
        assert box is not None
        rows, cols = np.nonzero(mask)
        filled = np.zeros_like(mask)
        filled[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
        assert np.array_equal(rasterize_box(box, *mask.shape), filled), name


def test_kvasir_json_boxes_agree_with_mask_components() -> None:
    """What holds on the sample: each polyp component (>= 10 px; the thresholded JPEGs carry a
    stray 1-pixel speck at (0, 0) in some files) has a JSON box equal to
    ``(max(x0 - 1, 0), max(y0 - 1, 0), x1, y1)`` of its ``mask_to_box``, so within 1 px; extra
    JSON boxes (one thin 3-px sliver) lie inside a component's box; the union of JSON boxes and
    the box of the polyp pixels agree within 2 px."""
    if not KVASIR.is_dir():
        pytest.skip(f"real data not found under {REALDATA}")
    meta = json.loads((KVASIR / "kavsir_bboxes.json").read_text())
    checked = 0
    for path in sorted((KVASIR / "masks").glob("*.jpg")):
        entry = meta[path.stem]
        mask = read_mask(path, threshold=128)
        assert mask.shape == (entry["height"], entry["width"])
        json_boxes = [(b["xmin"], b["ymin"], b["xmax"], b["ymax"]) for b in entry["bbox"]]
        labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
        sizes = ndimage.sum_labels(mask, labels, range(1, n + 1))
        comps = [mask_to_box(labels == i + 1) for i in range(n) if sizes[i] >= 10]
        polyp = np.isin(labels, [i + 1 for i in range(n) if sizes[i] >= 10])
        for c in comps:
            assert c is not None
            shifted = (max(c[0] - 1, 0), max(c[1] - 1, 0), c[2], c[3])
            assert shifted in json_boxes, (path.name, c, json_boxes)
        for jb in json_boxes:
            assert any(
                c is not None
                and c[0] - 2 <= jb[0]
                and c[1] - 2 <= jb[1]
                and jb[2] <= c[2] + 2
                and jb[3] <= c[3] + 2
                for c in comps
            ), (path.name, jb)
        union = (
            min(b[0] for b in json_boxes),
            min(b[1] for b in json_boxes),
            max(b[2] for b in json_boxes),
            max(b[3] for b in json_boxes),
        )
        whole = mask_to_box(polyp)
        assert whole is not None
        assert max(abs(a - b) for a, b in zip(union, whole, strict=True)) <= 2, path.name
        checked += 1
    assert checked >= 10


def test_box_iou() -> None:
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert box_iou((1, 1, 1, 1), (1, 1, 1, 1)) == 0.0
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 50, (7, 2))
    a = np.c_[a, a + rng.uniform(0, 30, (7, 2))]
    b = rng.uniform(0, 50, (5, 2))
    b = np.c_[b, b + rng.uniform(0, 30, (5, 2))]
    mat = box_iou_matrix(a, b)
    assert mat.shape == (7, 5)
    for i in range(7):
        for j in range(5):
            assert mat[i, j] == box_iou(a[i], b[j])
    assert box_iou_matrix(np.zeros((0, 4)), b).shape == (0, 5)


def test_bad_geometry_inputs() -> None:
    with pytest.raises(ValueError, match="x1 >= x0"):
        rasterize_box((5, 0, 1, 3), 4, 4)
    with pytest.raises(ValueError, match="height"):
        rasterize_polygon([[0, 0], [1, 0], [0, 1]], 0, 4)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        rasterize_polygon([1, 2, 3], 4, 4)
    with pytest.raises(ValueError, match="non-finite"):
        rasterize_polygon([[0, 0], [np.nan, 0], [0, 1]], 4, 4)
    with pytest.raises(ValueError, match="2-D"):
        mask_to_polygons(np.zeros(4, bool))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        box_iou_matrix(np.zeros((2, 3)), np.zeros((1, 4)))
