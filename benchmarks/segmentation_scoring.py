"""Segmentation scoring in worker processes against the same scoring in one process.

N samples, each a 512x512 PNG mask on disk (a wobbly ellipse) with a polygon answer (a
jittered outline of it, some answers unusable); ``SegmentationTask.score`` reads each mask,
rasterises the answer and computes Dice, IoU, HD95 and ASSD. The reference, measured in the
same run, is the very same call with the worker processes turned off. Prints both times, the
ratio, the peak RSS of this process, and whether every per-sample score is identical.

    python benchmarks/segmentation_scoring.py [--n 1000] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import medmine.tasks.segmentation as seg_module
from medmine.core import ImageRef, MaskTarget, Response, Sample
from medmine.core.parallel import default_workers
from medmine.tasks.segmentation import SegmentationTask

SIZE = 512


def make_case(folder: Path, i: int, rng: np.random.Generator) -> tuple[Sample, str]:
    """One sample (image, mask on disk) and a model's polygon answer for it."""
    cx, cy = rng.uniform(120, 390, 2)
    rx, ry = rng.uniform(30, 110, 2)
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    wobble = 1 + 0.1 * np.sin(5 * t + rng.uniform(0, 6))
    xs, ys = cx + rx * wobble * np.cos(t), cy + ry * wobble * np.sin(t)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    mask_path, image_path = folder / f"m{i}.png", folder / f"i{i}.png"
    Image.fromarray((mask * 255).astype(np.uint8)).save(mask_path)
    if i == 0:
        Image.fromarray(np.zeros((SIZE, SIZE), np.uint8)).save(image_path)
    else:
        os.link(folder / "i0.png", image_path)
    sample = Sample(f"s{i:05d}", "bench", (ImageRef(image_path, (SIZE, SIZE)),),
                    category="dermatology",
                    targets={"segmentation": MaskTarget(mask_path, "lesion")}, meta={})  # fmt: skip
    if i % 10 == 9:
        return sample, "I am unable to outline the lesion in this image."
    jitter = rng.normal(0, 4, (2, t.size))
    points = [
        [round(float(x), 1), round(float(y), 1)]
        for x, y in zip(xs + jitter[0], ys + jitter[1], strict=True)
    ]
    return sample, json.dumps({"polygons": [points]})


def main() -> None:
    """Time both ways on the same inputs and check the scores are identical."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    task = SegmentationTask()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [make_case(folder, i, rng) for i in range(args.n)]
        samples = [s for s, _ in cases]
        preds = [task.parse(Response(text=a, model="bench"), s) for s, a in cases]
        print(f"{args.n} samples, 512x512 masks on disk, {default_workers()} worker processes, "
              f"cpu cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        one, many = [], []
        for _ in range(args.trials):
            seg_module.PARALLEL_FROM = 10**12  # the reference: this process only
            start = time.perf_counter()
            here = task.score(preds, samples)
            one.append(time.perf_counter() - start)
            seg_module.PARALLEL_FROM = 64
            start = time.perf_counter()
            workers = task.score(preds, samples)
            many.append(time.perf_counter() - start)
            same = here.per_sample == workers.per_sample and here.tables == workers.tables
            print(
                f"one process {one[-1]:.2f} s, workers {many[-1]:.2f} s, "
                f"x{one[-1] / many[-1]:.2f}, identical: {same}",
                flush=True,
            )
        print(f"median x{statistics.median(one) / statistics.median(many):.2f}; "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
              f"load average {os.getloadavg()[0]:.1f} at end")  # fmt: skip


if __name__ == "__main__":
    main()
