"""medmine.metrics.detection against pycocotools COCOeval on the same boxes."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest

from medmine.metrics.detection import (
    ClassCounts,
    GroundTruthBox,
    PredictedBox,
    coco_average_precision,
)

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

Gt = tuple[int, int, tuple[float, float, float, float]]
Pred = tuple[int, int, tuple[float, float, float, float], float]


def _random_case(
    seed: int, n_img: int, n_gt: int, n_pred: int, n_cls: int, tied: bool
) -> tuple[list[Gt], list[Pred], int]:
    """Random boxes: predictions jitter ground truths, some are wrong-class or pure noise.

    Predictions may land on images without ground truth and on class ``n_cls`` that has none.
    """
    rng = np.random.default_rng(seed)
    gts: list[Gt] = []
    for _ in range(n_gt):
        x, y = rng.uniform(0, 400, 2)
        w, h = rng.uniform(1, 120, 2)
        gts.append((int(rng.integers(n_img)), int(rng.integers(n_cls)), (x, y, x + w, y + h)))
    preds: list[Pred] = []
    for _ in range(n_pred):
        if gts and rng.random() < 0.65:
            img, cls, box = gts[int(rng.integers(len(gts)))]
            b = np.asarray(box) + rng.normal(0, 6, 4)
            b[2], b[3] = max(b[2], b[0]), max(b[3], b[1])
            if rng.random() < 0.15:
                cls = int(rng.integers(n_cls + 1))
        else:
            img, cls = int(rng.integers(n_img + 4)), int(rng.integers(n_cls + 1))
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(1, 120, 2)
            b = np.array([x, y, x + w, y + h])
        score = float(rng.integers(0, 4)) / 3 if tied else float(rng.random())
        preds.append((img, cls, (float(b[0]), float(b[1]), float(b[2]), float(b[3])), score))
    return gts, preds, n_cls + 1


def _cocoeval(gts: list[Gt], preds: list[Pred], n_cats: int, thresholds: Any = None) -> COCOeval:
    """Run pycocotools on in-memory COCO objects (prints suppressed)."""
    images = sorted({g[0] for g in gts} | {p[0] for p in preds})
    anns = []
    for k, (img, cls, (x0, y0, x1, y1)) in enumerate(gts):
        w, h = x1 - x0, y1 - y0
        anns.append(
            {
                "id": k + 1,
                "image_id": img,
                "category_id": cls,
                "bbox": [x0, y0, w, h],
                "area": w * h,
                "iscrowd": 0,
            }
        )
    results = [
        {"image_id": img, "category_id": cls, "bbox": [x0, y0, x1 - x0, y1 - y0], "score": s}
        for img, cls, (x0, y0, x1, y1), s in preds
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": [{"id": i} for i in images],
            "annotations": anns,
            "categories": [{"id": c} for c in range(n_cats)],
        }
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        if thresholds is not None:
            ev.params.iouThrs = np.asarray(thresholds, dtype=float)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


CASES = [
    (seed, n_img, n_gt, n_pred, n_cls, tied)
    for seed, (n_img, n_gt, n_pred, n_cls) in enumerate(
        [
            (1, 5, 8, 1),
            (3, 20, 30, 2),
            (10, 60, 90, 3),
            (25, 80, 200, 4),
            (8, 40, 15, 2),
            (40, 150, 300, 5),
            (2, 3, 40, 1),
            (15, 1, 30, 3),
        ]
    )
    for tied in (False, True)
]


@pytest.mark.parametrize(("seed", "n_img", "n_gt", "n_pred", "n_cls", "tied"), CASES)
def test_matches_cocoeval_exactly(
    seed: int, n_img: int, n_gt: int, n_pred: int, n_cls: int, tied: bool
) -> None:
    gts, preds, n_cats = _random_case(seed, n_img, n_gt, n_pred, n_cls, tied)
    ev = _cocoeval(gts, preds, n_cats)
    res = coco_average_precision(gts, preds)
    assert abs(res.ap - ev.stats[0]) < 1e-12
    assert abs(res.ap50 - ev.stats[1]) < 1e-12
    assert abs(res.ap75 - ev.stats[2]) < 1e-12
    assert abs(res.ar - ev.stats[8]) < 1e-12
    precision = ev.eval["precision"][:, :, :, 0, -1]
    for cls in range(n_cats):
        if precision[0, 0, cls] == -1:
            assert cls in res.classes_without_gt and cls not in res.ap_per_class
        else:
            assert abs(res.ap_per_class[cls] - precision[:, :, cls].mean()) < 1e-12


def test_precision_recall_f1_at_05_follow_coco_matches() -> None:
    gts, preds, n_cats = _random_case(4, 12, 50, 80, 3, False)
    ev = _cocoeval(gts, preds, n_cats)
    res = coco_average_precision(gts, preds)
    tp = {c: 0 for c in range(n_cats)}
    n_dt = {c: 0 for c in range(n_cats)}
    for e in ev.evalImgs:
        if e is None or e["aRng"] != [0, 1e10]:
            continue
        tp[e["category_id"]] += int(np.count_nonzero(e["dtMatches"][0]))
        n_dt[e["category_id"]] += len(e["dtIds"])
    n_gt = {c: sum(g[1] == c for g in gts) for c in range(n_cats)}
    for c in range(n_cats):
        if n_gt[c] == 0 and n_dt[c] == 0:
            continue
        assert res.counts_per_class[c] == ClassCounts(tp[c], n_dt[c] - tp[c], n_gt[c] - tp[c])
    assert res.overall.tp == sum(tp.values())
    assert res.overall.fn == len(gts) - sum(tp.values())
    assert res.recall == sum(tp.values()) / len(gts)


def test_max_dets_truncation_per_image_and_class() -> None:
    gts, preds, n_cats = _random_case(7, 2, 60, 500, 1, True)
    ev = _cocoeval(gts, preds, n_cats)
    res = coco_average_precision(gts, preds)
    assert abs(res.ap - ev.stats[0]) < 1e-12 and abs(res.ar - ev.stats[8]) < 1e-12
    kept = sum(c.tp + c.fp for c in res.counts_per_class.values())
    assert kept < len(preds)


def test_custom_thresholds_and_missing_ap75() -> None:
    gts, preds, n_cats = _random_case(9, 10, 40, 60, 2, False)
    thr = [0.3, 0.5, 0.7]
    ev = _cocoeval(gts, preds, n_cats, thresholds=thr)
    res = coco_average_precision(gts, preds, iou_thresholds=thr)
    assert abs(res.ap - ev.stats[0]) < 1e-12
    assert res.ap75 is None and res.ap50 == res.ap_per_threshold[0.5]
    only_high = coco_average_precision(gts, preds, iou_thresholds=[0.9])
    assert only_high.ap50 is None
    assert only_high.overall == res.overall  # P/R/F1 always use IoU 0.5


def test_scoreless_predictions_rank_by_image_then_order() -> None:
    gts = [GroundTruthBox(1, "polyp", (0, 0, 10, 10)), GroundTruthBox(2, "polyp", (0, 0, 10, 10))]
    preds = [
        PredictedBox(2, "polyp", (0, 0, 10, 10)),
        PredictedBox(1, "polyp", (50, 50, 60, 60)),
        PredictedBox(1, "polyp", (0, 0, 10, 10)),
    ]
    res = coco_average_precision(gts, preds)
    # Order: image 1 miss, image 1 hit, image 2 hit -> precision envelope 2/3 up to recall 1.
    assert abs(res.ap50 - 2 / 3) < 1e-9  # given order (image 2 first) would give 7/9
    assert res.counts_per_class["polyp"] == ClassCounts(2, 1, 0)
    as_tuples = coco_average_precision(
        [(1, "polyp", (0, 0, 10, 10)), (2, "polyp", (0, 0, 10, 10))],
        [
            (2, "polyp", (0, 0, 10, 10)),
            (1, "polyp", (50, 50, 60, 60)),
            (1, "polyp", (0, 0, 10, 10)),
        ],
    )
    assert as_tuples.ap == res.ap


def test_perfect_and_empty_predictions() -> None:
    gts = [(i, i % 2, (i, i, i + 20.0, i + 30.0)) for i in range(6)]
    perfect = coco_average_precision(gts, [(*g, 0.9) for g in gts])
    assert perfect.ap == 1.0 and perfect.f1 == 1.0
    nothing = coco_average_precision(gts, [])
    assert nothing.ap == 0.0 and nothing.recall == 0.0 and nothing.precision == 0.0


def test_bad_inputs() -> None:
    good = [(1, 0, (0, 0, 5, 5))]
    with pytest.raises(ValueError, match="gts is empty"):
        coco_average_precision([], [(1, 0, (0, 0, 1, 1), 0.5)])
    with pytest.raises(ValueError, match=r"preds\[0\].*x1 >= x0"):
        coco_average_precision(good, [(1, 0, (5, 0, 1, 5), 0.5)])
    with pytest.raises(ValueError, match="ints or all strings"):
        coco_average_precision(good, [(1, "a", (0, 0, 1, 1), 0.5)])
    with pytest.raises(ValueError, match="score"):
        coco_average_precision(good, [(1, 0, (0, 0, 1, 1), float("nan"))])
    with pytest.raises(ValueError, match="iou_thresholds"):
        coco_average_precision(good, [], iou_thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="area"):
        coco_average_precision([(1, 0, (0, 0, 2e5, 2e5))], [])
    with pytest.raises(ValueError, match=r"gts\[0\]"):
        coco_average_precision([(1, 0)], [])  # type: ignore[list-item]
