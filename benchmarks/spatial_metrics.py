"""Speed and agreement of medmine's spatial metrics against medpy and pycocotools.

Usage: ``python benchmarks/spatial_metrics.py [--n-masks 1000] [--n-images 1000]
[--n-boxes 10000] [--seed 0]``

Segmentation: Dice + IoU + HD95 on random 512x512 mask pairs (wobbly ellipses of varied size,
some cut by the image border; predictions are jittered, rescaled copies of the truth, some
with an extra false-positive blob), medmine vs ``medpy.metric.binary`` (dc, jc, hd95).
Detection: AP@[.5:.95] and AP50 on random labelled boxes over many images, medmine vs
pycocotools ``COCOeval`` (evaluate + accumulate + summarize; building the COCO objects is not
timed). Prints times, speed ratios (reference time / medmine time, measured in this run) and
the largest absolute difference.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from collections.abc import Callable

import numpy as np

from medmine.metrics import segmentation as seg
from medmine.metrics.detection import coco_average_precision

SIZE = 512


def _blob(rng: np.random.Generator, cy: float, cx: float, a: float, b: float) -> np.ndarray:
    """A rotated ellipse with a wavy outline, centred at (cy, cx) with semi-axes a, b."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    th = rng.uniform(0, np.pi)
    x = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
    y = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
    r = (x / a) ** 2 + (y / b) ** 2
    r *= 1 + 0.25 * np.sin(rng.integers(2, 7) * np.arctan2(y, x) + rng.uniform(0, 6))
    return r < 1


def make_mask_pairs(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-empty (pred, gt) pairs; about a fifth of the lesions touch the image border."""
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < n:
        a, b = rng.uniform(8, 110, 2)
        if rng.random() < 0.2:
            cy, cx = rng.choice([0.0, SIZE - 1.0]), rng.uniform(0, SIZE)
        else:
            cy, cx = rng.uniform(a, SIZE - a), rng.uniform(b, SIZE - b)
        gt = _blob(rng, cy, cx, a, b)
        s = rng.uniform(0.7, 1.3)
        pred = _blob(rng, cy + rng.normal(0, 10), cx + rng.normal(0, 10), a * s, b * s)
        if rng.random() < 0.2:
            pred |= _blob(rng, rng.uniform(0, SIZE), rng.uniform(0, SIZE), 12.0, 9.0)
        if gt.any() and pred.any():
            pairs.append((pred, gt))
    return pairs


def make_boxes(
    n_images: int, n_boxes: int, seed: int, n_classes: int = 5
) -> tuple[
    list[tuple[int, int, tuple[float, ...]]], list[tuple[int, int, tuple[float, ...], float]]
]:
    """Half ground truths, half predictions (jittered truths, confusions and noise)."""
    rng = np.random.default_rng(seed)
    n_gt = n_boxes // 2
    xy = rng.uniform(0, 900, (n_gt, 2))
    wh = rng.uniform(4, 150, (n_gt, 2))
    gts = [
        (int(i), int(c), (float(x), float(y), float(x + w), float(y + h)))
        for i, c, (x, y), (w, h) in zip(
            rng.integers(0, n_images, n_gt), rng.integers(0, n_classes, n_gt), xy, wh, strict=True
        )
    ]
    preds = []
    for _ in range(n_boxes - n_gt):
        if rng.random() < 0.7:
            img, cls, box = gts[int(rng.integers(n_gt))]
            bx = np.asarray(box) + rng.normal(0, 6, 4)
            bx[2:] = np.maximum(bx[2:], bx[:2])
            if rng.random() < 0.1:
                cls = int(rng.integers(n_classes))
        else:
            img, cls = int(rng.integers(n_images)), int(rng.integers(n_classes))
            x, y = rng.uniform(0, 900, 2)
            w, h = rng.uniform(4, 150, 2)
            bx = np.array([x, y, x + w, y + h])
        preds.append((img, cls, tuple(float(v) for v in bx), float(rng.random())))
    return gts, preds


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Run ``fn`` once and return (seconds, result)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_segmentation(n: int, seed: int) -> None:
    """Dice + IoU + HD95 on ``n`` mask pairs: medpy vs medmine (separate and combined calls)."""
    from medpy.metric import binary as mb

    pairs = make_mask_pairs(n, seed)
    border = sum(
        bool(g[0].any() or g[-1].any() or g[:, 0].any() or g[:, -1].any()) for _, g in pairs
    )
    print(f"segmentation: {n} pairs of {SIZE}x{SIZE} masks, {border} gt lesions touch the border")

    def run_medpy() -> list[tuple[float, float, float]]:
        return [(mb.dc(p, g), mb.jc(p, g), mb.hd95(p, g)) for p, g in pairs]

    def run_medmine() -> list[tuple[float, float, float]]:
        return [(seg.dice(p, g), seg.iou(p, g), seg.hd95(p, g)) for p, g in pairs]

    def run_combined() -> list[tuple[float, float, float]]:
        out = []
        for p, g in pairs:
            s = seg.segmentation_scores(p, g)
            out.append((s.dice, s.iou, s.hd95))
        return out

    t_ref, ref = _timed(run_medpy)
    t_mm, mm = _timed(run_medmine)
    t_comb, comb = _timed(run_combined)
    ref_a = np.asarray(ref, dtype=np.float64)
    for name, t, res in (
        ("medmine dice+iou+hd95", t_mm, mm),
        ("medmine segmentation_scores", t_comb, comb),
    ):
        diff = float(np.max(np.abs(np.asarray(res, dtype=np.float64) - ref_a)))
        print(
            f"  medpy {t_ref:8.3f} s | {name} {t:7.3f} s | ratio {t_ref / t:6.1f}x | "
            f"max |diff| {diff:.3g}"
        )


def bench_detection(n_images: int, n_boxes: int, seed: int) -> None:
    """AP@[.5:.95] and AP50: pycocotools COCOeval vs medmine on the same boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gts, preds = make_boxes(n_images, n_boxes, seed)
    print(f"detection: {len(gts)} gt + {len(preds)} predicted boxes over {n_images} images")
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
        {
            "image_id": i,
            "category_id": c,
            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            "score": s,
        }
        for i, c, b, s in preds
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {
            "images": [{"id": i} for i in range(n_images)],
            "annotations": anns,
            "categories": [{"id": c} for c in range(5)],
        }
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")

        def run_coco() -> np.ndarray:
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            return ev.stats

        t_ref, stats = _timed(run_coco)
    t_mm, res = _timed(lambda: coco_average_precision(gts, preds))
    assert isinstance(stats, np.ndarray)
    d_ap = abs(res.ap - stats[0])  # type: ignore[attr-defined]
    d_ap50 = abs(res.ap50 - stats[1])  # type: ignore[attr-defined]
    print(
        f"  pycocotools {t_ref:7.3f} s | medmine {t_mm:7.3f} s | ratio {t_ref / t_mm:6.1f}x | "
        f"AP {stats[0]:.6f} AP50 {stats[1]:.6f} | max |diff| {max(d_ap, d_ap50):.3g}"
    )


def main() -> None:
    """Parse the command line and run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-masks", type=int, default=1000)
    parser.add_argument("--n-images", type=int, default=1000)
    parser.add_argument("--n-boxes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bench_segmentation(args.n_masks, args.seed)
    bench_detection(args.n_images, args.n_boxes, args.seed)


if __name__ == "__main__":
    main()
