"""COCO-style box detection metrics, identical to pycocotools ``COCOeval`` (bbox, area "all").

:func:`coco_average_precision` reproduces ``COCOeval(iouType="bbox")`` with
``maxDets=[.., .., max_dets]`` and area range "all" to the last bit, without pycocotools and
without a Python loop per box pair. Every choice COCO makes is kept and listed here:

* **Images and classes.** The evaluated images are all image ids seen in ``gts`` or ``preds``
  (COCO evaluates the images of the ground-truth file; an image with predictions but no boxes
  must be listed there too). Image ids and labels are sorted (COCO sorts ``imgIds`` and
  ``catIds``); they must be all ints or all strings.
* **Box IoU.** Boxes come in as pixel ``(x0, y0, x1, y1)`` and are converted to COCO's
  ``(x, y, w = x1 - x0, h = y1 - y0)``; IoU is computed as pycocotools' C code does:
  ``iw = min(x_a + w_a, x_b + w_b) - max(x_a, x_b)`` (no +1), likewise ``ih``, zero if either is
  <= 0, else ``iw*ih / (w_a*h_a + w_b*h_b - iw*ih)``. No crowd boxes.
* **Per image and class truncation.** Within one (image, class) predictions are stably sorted
  by descending score (mergesort) and only the first ``max_dets`` are kept; the dropped ones
  take no part in any metric here (AP, AR, precision, recall, F1).
* **Greedy matching.** For each IoU threshold ``t`` (used as ``min(t, 1 - 1e-10)``) and in that
  score order, a prediction takes the still unmatched ground truth of its image and class with
  the highest IoU ``>= t``; on equal IoU the one listed *last* in ``gts`` wins (COCO's scan).
* **Ranking across images.** Per class, all kept predictions are stably sorted by descending
  score with ties kept in ascending image-id order, then their order within the image. So
  predictions without a score (MLLM answers, score 1.0) are ranked by image id and, inside one
  image, by the order given.
* **Precision/recall curve.** ``recall = TP / n_gt``, ``precision = TP / (TP + FP + eps)`` with
  ``eps = np.spacing(1)``; precision is made monotone from the right and sampled at COCO's 101
  recall points ``0, 0.01, ..., 1`` (``searchsorted(..., side="left")``); recall points beyond
  the last reached recall get precision 0.
* **Classes without ground truth** have no AP (COCO stores -1 and excludes them): they are
  absent from ``ap_per_class`` and listed in ``classes_without_gt``. Their predictions still
  count as false positives in the micro-averaged ``overall`` counts.
* **Averages.** AP is the mean over (thresholds x 101 recall points x classes with ground
  truth), computed as COCO does with one ``np.mean``; AP50/AP75 take the 0.5 / 0.75 threshold
  only (``None`` if that threshold was not requested); AR is COCO's AR@max_dets.
* **Box limits.** COCO's area range "all" is ``[0, 1e10]`` px²; a box with a larger area
  (which COCO would silently ignore) is refused with a ValueError.

Precision, recall and F1 "at all predictions" use the matches at IoU 0.5 (added internally when
0.5 is not among the thresholds): ``TP`` = matched predictions, ``FP`` = the other kept
predictions, ``FN`` = unmatched ground truths; 0/0 gives 0.0 (as scikit-learn's
``zero_division=0``).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "ClassCounts",
    "DetectionResult",
    "GroundTruthBox",
    "PredictedBox",
    "coco_average_precision",
]

COCO_IOU_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, 10)
_RECALL_POINTS = np.linspace(0.0, 1.00, 101)
_MAX_AREA = 1e5**2

Label = int | str


@dataclass(frozen=True, slots=True)
class GroundTruthBox:
    """One ground-truth box: image id, class label and ``(x0, y0, x1, y1)`` pixel box."""

    image_id: Hashable
    label: Label
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class PredictedBox:
    """One predicted box with its confidence (1.0 when the model gives none)."""

    image_id: Hashable
    label: Label
    box: tuple[float, float, float, float]
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class ClassCounts:
    """True positives, false positives and false negatives at one IoU threshold."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """``tp / (tp + fp)``; 0.0 when there are no predictions."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """``tp / (tp + fn)``; 0.0 when there is no ground truth."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean ``2 tp / (2 tp + fp + fn)``; 0.0 when all counts are zero."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0


@dataclass(frozen=True)
class DetectionResult:
    """COCO metrics over a set of images (see the module docstring for every convention)."""

    ap: float
    ap50: float | None
    ap75: float | None
    ar: float
    ap_per_class: dict[Label, float]
    ap_per_threshold: dict[float, float]
    counts_per_class: dict[Label, ClassCounts]
    overall: ClassCounts
    classes_without_gt: tuple[Label, ...]
    iou_thresholds: tuple[float, ...] = field(default=())

    @property
    def precision(self) -> float:
        """Micro-averaged precision at IoU 0.5 over all classes."""
        return self.overall.precision

    @property
    def recall(self) -> float:
        """Micro-averaged recall at IoU 0.5 over all classes."""
        return self.overall.recall

    @property
    def f1(self) -> float:
        """Micro-averaged F1 at IoU 0.5 over all classes."""
        return self.overall.f1


def _codes(values: list[Any], what: str) -> tuple[np.ndarray, list[Any]]:
    """Sorted distinct values and each value's index among them (ints or strings only)."""
    if all(isinstance(v, str) for v in values):
        arr = np.array(values, dtype=str) if values else np.array([], dtype=str)
    elif all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        arr = np.array(values, dtype=np.int64)
    else:
        kinds = sorted({type(v).__name__ for v in values})
        raise ValueError(f"{what} must be all ints or all strings, got types {kinds}")
    uniq, inverse = np.unique(arr, return_inverse=True)
    return inverse.astype(np.int64), uniq.tolist()


def _unpack(items: Sequence[Any], kind: str) -> tuple[list[Any], list[Any], np.ndarray, np.ndarray]:
    """Image ids, labels, boxes ``(n, 4)`` and scores from boxes or plain tuples."""
    images: list[Any] = []
    labels: list[Any] = []
    boxes: list[Any] = []
    scores: list[float] = []
    for i, item in enumerate(items):
        if isinstance(item, GroundTruthBox | PredictedBox):
            images.append(item.image_id)
            labels.append(item.label)
            boxes.append(item.box)
            scores.append(item.score if isinstance(item, PredictedBox) else 1.0)
            continue
        if not isinstance(item, Sequence) or len(item) not in ((3,) if kind == "gts" else (3, 4)):
            need = "(image_id, label, box)" + ("" if kind == "gts" else " or (..., score)")
            raise ValueError(f"{kind}[{i}] must be {need}, got {item!r}")
        images.append(item[0])
        labels.append(item[1])
        boxes.append(item[2])
        scores.append(float(item[3]) if len(item) == 4 else 1.0)
    try:
        box_arr = np.array(boxes, dtype=np.float64) if boxes else np.zeros((0, 4))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{kind}: every box must be 4 numbers (x0, y0, x1, y1)") from exc
    if box_arr.ndim != 2 or box_arr.shape[1] != 4:
        raise ValueError(f"{kind}: every box must be 4 numbers (x0, y0, x1, y1)")
    score_arr = np.array(scores, dtype=np.float64)
    bad = ~np.all(np.isfinite(box_arr), axis=1) | (box_arr[:, 2] < box_arr[:, 0])
    bad |= box_arr[:, 3] < box_arr[:, 1]
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"{kind}[{i}] box must be finite with x1 >= x0, y1 >= y0: {boxes[i]!r}")
    too_big = (box_arr[:, 2] - box_arr[:, 0]) * (box_arr[:, 3] - box_arr[:, 1]) > _MAX_AREA
    if np.any(too_big):
        i = int(np.argmax(too_big))
        raise ValueError(f"{kind}[{i}] box area exceeds COCO's 'all' area range (1e10 px²)")
    if not np.all(np.isfinite(score_arr)):
        i = int(np.argmax(~np.isfinite(score_arr)))
        raise ValueError(f"{kind}[{i}] score must be finite, got {scores[i]!r}")
    return images, labels, box_arr, score_arr


def _coco_iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Row-wise IoU of xyxy boxes ``d`` and ``g`` with pycocotools' xywh arithmetic."""
    dx, dy, dw, dh = d[:, 0], d[:, 1], d[:, 2] - d[:, 0], d[:, 3] - d[:, 1]
    gx, gy, gw, gh = g[:, 0], g[:, 1], g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    iw = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    ih = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = iw * ih
    union = dw * dh + gw * gh - inter
    ok = (iw > 0) & (ih > 0)
    out = np.zeros(d.shape[0])
    np.divide(inter, union, out=out, where=ok)
    return out


def _greedy_match(
    thresholds: np.ndarray,
    det_rank: np.ndarray,
    gt_start: np.ndarray,
    gt_count: np.ndarray,
    det_boxes: np.ndarray,
    gt_boxes: np.ndarray,
) -> np.ndarray:
    """COCO's greedy matching; returns a ``(T, n_det)`` bool array of matched predictions.

    Works rank by rank: the r-th prediction of every (image, class) group is matched at once,
    since groups never share ground truths. Inside a rank, each prediction's candidate pairs
    form a contiguous segment and the best candidate is found with ``reduceat``.
    """
    n_det = det_rank.size
    matched = np.zeros((thresholds.size, n_det), dtype=bool)
    has = np.flatnonzero(gt_count > 0)
    if has.size == 0:
        return matched
    has = has[np.lexsort((has, det_rank[has]))]  # by rank, then original order
    counts = gt_count[has]
    seg = np.cumsum(counts) - counts
    total = int(counts.sum())
    pair_owner = np.repeat(np.arange(has.size), counts)
    pair_gt = gt_start[has][pair_owner] + (np.arange(total) - seg[pair_owner])
    pair_iou = _coco_iou(det_boxes[has][pair_owner], gt_boxes[pair_gt])
    thr = np.minimum(thresholds, 1 - 1e-10)[:, None]
    gt_taken = np.zeros((thresholds.size, gt_boxes.shape[0]), dtype=bool)
    ranks = det_rank[has]
    bounds = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1], True])
    for a, b in itertools.pairwise(bounds):
        pa, pb = int(seg[a]), int(seg[b - 1] + counts[b - 1])
        starts = seg[a:b] - pa
        ious = pair_iou[pa:pb]
        gts = pair_gt[pa:pb]
        valid = (ious[None, :] >= thr) & ~gt_taken[:, gts]
        key = np.where(valid, ious[None, :], -1.0)
        best = np.maximum.reduceat(key, starts, axis=1)
        is_best = valid & (key == np.repeat(best, counts[a:b], axis=1))
        pos = np.where(is_best, np.arange(pb - pa)[None, :], -1)
        last = np.maximum.reduceat(pos, starts, axis=1)
        t_idx, d_idx = np.nonzero(last >= 0)
        gt_taken[t_idx, gts[last[t_idx, d_idx]]] = True
        matched[t_idx, has[a + d_idx]] = True
    return matched


def _check_thresholds(iou_thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Validate IoU thresholds: a non-empty 1-D array of distinct values in [0, 1]."""
    thr = np.asarray(iou_thresholds, dtype=np.float64)
    if thr.ndim != 1 or thr.size == 0:
        raise ValueError(f"iou_thresholds must be a non-empty 1-D sequence, got shape {thr.shape}")
    if not np.all(np.isfinite(thr)) or np.any(thr < 0) or np.any(thr > 1):
        raise ValueError(f"iou_thresholds must lie in [0, 1], got {thr.tolist()}")
    if np.unique(thr).size != thr.size:
        raise ValueError(f"iou_thresholds must be distinct, got {thr.tolist()}")
    return thr


def coco_average_precision(
    gts: Sequence[GroundTruthBox | tuple[Any, ...]],
    preds: Sequence[PredictedBox | tuple[Any, ...]],
    iou_thresholds: Sequence[float] | np.ndarray = COCO_IOU_THRESHOLDS,
    max_dets: int = 100,
) -> DetectionResult:
    """COCO bbox evaluation of labelled boxes over many images (pycocotools-identical).

    ``gts`` holds :class:`GroundTruthBox` or ``(image_id, label, (x0, y0, x1, y1))`` tuples;
    ``preds`` holds :class:`PredictedBox` or ``(image_id, label, box, score)`` tuples (score
    optional, default 1.0). Boxes are pixel xyxy with exclusive far edges. See the module
    docstring for the exact conventions. Raises ValueError on malformed input or when ``gts`` is
    empty (AP is undefined without ground truth).
    """
    thresholds = _check_thresholds(iou_thresholds)
    if isinstance(max_dets, bool) or not isinstance(max_dets, int) or max_dets < 1:
        raise ValueError(f"max_dets must be a positive integer, got {max_dets!r}")
    g_img, g_lab, g_box, _ = _unpack(gts, "gts")
    p_img, p_lab, p_box, p_score = _unpack(preds, "preds")
    if not g_img:
        raise ValueError("gts is empty: average precision is undefined without ground truth")
    img_codes, _ = _codes(g_img + p_img, "image ids")
    lab_codes, labels = _codes(g_lab + p_lab, "labels")
    n_gt, n_img, n_lab = len(g_img), int(img_codes.max()) + 1, len(labels)
    gi, pi_ = img_codes[:n_gt], img_codes[n_gt:]
    gl, pl = lab_codes[:n_gt], lab_codes[n_gt:]

    # Ground truths grouped by (label, image), original order inside a group.
    g_order = np.lexsort((np.arange(n_gt), gi, gl))
    g_key = (gl * n_img + gi)[g_order]
    g_box = g_box[g_order]

    # Predictions grouped by (label, image), stably by descending score, truncated.
    n_p = p_box.shape[0]
    p_order = np.lexsort((np.arange(n_p), -p_score, pi_, pl))
    p_key = (pl * n_img + pi_)[p_order]
    first = np.r_[True, p_key[1:] != p_key[:-1]] if n_p else np.zeros(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(n_p), 0)) if n_p else first
    rank = np.arange(n_p) - group_start
    keep = p_order[rank < max_dets]
    rank = rank[rank < max_dets]
    d_key = (pl * n_img + pi_)[keep]
    gs = np.searchsorted(g_key, d_key, side="left")
    gc = np.searchsorted(g_key, d_key, side="right") - gs

    match_thr = thresholds if np.any(thresholds == 0.5) else np.r_[thresholds, 0.5]
    t50 = int(np.flatnonzero(match_thr == 0.5)[0])
    matched = _greedy_match(match_thr, rank, gs, gc, p_box[keep], g_box)

    # Accumulate per class: order by label, descending score, image, rank (COCO's concat+sort).
    d_lab, d_img, d_score = pl[keep], pi_[keep], p_score[keep]
    acc = np.lexsort((rank, d_img, -d_score, d_lab))
    d_lab_sorted = d_lab[acc]
    matched_sorted = matched[:, acc]
    lab_start = np.searchsorted(d_lab_sorted, np.arange(n_lab + 1))
    gt_per_lab = np.bincount(gl, minlength=n_lab)
    n_thr = thresholds.size
    with_gt = np.flatnonzero(gt_per_lab > 0)
    precision = np.zeros((n_thr, _RECALL_POINTS.size, with_gt.size))
    recall = np.zeros((n_thr, with_gt.size))
    eps = np.spacing(1)
    for col, k in enumerate(with_gt):
        tps = matched_sorted[:n_thr, lab_start[k] : lab_start[k + 1]]
        nd = tps.shape[1]
        if nd == 0:
            continue
        tp_sum = np.cumsum(tps, axis=1).astype(float)
        fp_sum = np.cumsum(~tps, axis=1).astype(float)
        rc = tp_sum / gt_per_lab[k]
        pr = tp_sum / (fp_sum + tp_sum + eps)
        recall[:, col] = rc[:, -1]
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        for t in range(n_thr):
            idx = np.searchsorted(rc[t], _RECALL_POINTS, side="left")
            reached = idx < nd
            precision[t, reached, col] = pr[t, idx[reached]]

    ap = float(np.mean(precision))
    ap_per_threshold = {float(t): float(np.mean(precision[i])) for i, t in enumerate(thresholds)}
    ap50 = ap_per_threshold.get(0.5)
    ap75 = ap_per_threshold.get(0.75)
    ap_per_class = {labels[k]: float(np.mean(precision[:, :, c])) for c, k in enumerate(with_gt)}

    tp50 = np.bincount(d_lab, weights=matched[t50], minlength=n_lab).astype(np.int64)
    n_pred = np.bincount(d_lab, minlength=n_lab)
    counts = {
        labels[k]: ClassCounts(int(tp50[k]), int(n_pred[k] - tp50[k]), int(gt_per_lab[k] - tp50[k]))
        for k in range(n_lab)
    }
    overall = ClassCounts(int(tp50.sum()), int(n_pred.sum() - tp50.sum()), int(n_gt - tp50.sum()))
    return DetectionResult(
        ap=ap,
        ap50=ap50,
        ap75=ap75,
        ar=float(np.mean(recall)),
        ap_per_class=ap_per_class,
        ap_per_threshold=ap_per_threshold,
        counts_per_class=counts,
        overall=overall,
        classes_without_gt=tuple(labels[k] for k in range(n_lab) if gt_per_lab[k] == 0),
        iou_thresholds=tuple(float(t) for t in thresholds),
    )
