"""The blob-detector detection baseline: scale-normalised Laplacian-of-Gaussian blobs, labelled
with the first class of the request's labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medmine.baselines.base import Baseline
from medmine.baselines.work_image import (
    WORK_EDGE,
    Polarity,
    WorkImage,
    first_image,
    request_convention,
    valid_field,
    written_values,
)
from medmine.core import Request
from medmine.metrics.geometry import box_iou_matrix
from medmine.tasks.coords import (
    box_from_pixels,
)
from medmine.tasks.spatial_common import box_spelling

# Polarity of a lesion class on its usual image: dark spots or bright blobs.
BLOB_POLARITY: dict[str, Polarity] = {
    "caries": "dark",
    "cavity": "dark",
    "haemorrhage": "dark",
    "hemorrhage": "dark",
    "microaneurysm": "dark",
    "exudate": "bright",
    "polyp": "bright",
    "opacity": "bright",
    "nodule": "bright",
    "mass": "bright",
    "consolidation": "bright",
}


BLOB_SIGMAS = (2.0, 3.0, 4.5, 6.5, 9.0, 13.0, 18.0, 25.0)  # at WORK_EDGE pixels


BLOB_THRESHOLD = 6.0  # response above this many robust noise SDs of its scale


BLOB_FLOOR = 5.0  # ... and above this many grey levels (so flat images give no blob)


BLOB_RELATIVE = 0.3  # ... and at least this share of the strongest blob's response


MAX_BLOBS = 10


def detect_blobs(
    work: WorkImage, polarity: Polarity
) -> list[tuple[tuple[float, float, float, float], float]]:
    """Blobs as (original-pixel box, score in 0..1), strongest first, after box NMS (IoU 0.3).

    Scale-normalised LoG ``sigma² ∇²G`` at :data:`BLOB_SIGMAS` (scaled to the working size);
    a blob is a local maximum over space and scale of the polarity's response that exceeds
    :data:`BLOB_THRESHOLD` times the scale's robust noise (1.4826 × MAD within the field) and
    :data:`BLOB_FLOOR` grey levels, and reaches :data:`BLOB_RELATIVE` of the strongest blob.
    Its box is the centre ± ``sigma √2``; its score ``1 - exp(-(r / threshold - 1))``.
    """
    from scipy import ndimage

    grey = work.grey
    h, w = grey.shape
    valid = valid_field(grey)
    factor = max(h, w) / WORK_EDGE
    # Below sigma 1 scipy's truncated LoG kernel no longer sums to zero: clip, and remove the
    # mean so a flat image has no response at all.
    sigmas = sorted({max(1.0, s * factor) for s in BLOB_SIGMAS})
    grey = grey - grey[valid].mean()
    signs = {"bright": (-1.0,), "dark": (1.0,), "both": (-1.0, 1.0)}[polarity]
    found: list[tuple[float, float, float, float, float]] = []
    for sign in signs:
        stack = np.stack([sign * s * s * ndimage.gaussian_laplace(grey, s) for s in sigmas])
        thresholds = []
        for k, s in enumerate(sigmas):
            inner = ndimage.binary_erosion(valid, iterations=max(1, int(2 * s)))
            vals = stack[k][inner] if inner.any() else stack[k][valid]
            mad = float(np.median(np.abs(vals - np.median(vals)))) * 1.4826
            thresholds.append(max(BLOB_THRESHOLD * mad, BLOB_FLOOR))
            stack[k][~inner] = -np.inf
        peaks = stack == ndimage.maximum_filter(stack, size=(3, 5, 5), mode="nearest")
        thr = np.array(thresholds)[:, None, None]
        ks, rs, cs = np.nonzero(peaks & (stack > thr) & np.isfinite(stack))
        for k, r, c in zip(ks, rs, cs, strict=True):
            radius = sigmas[k] * np.sqrt(2)
            ratio = float(stack[k, r, c] / thresholds[k])
            found.append((c + 0.5 - radius, r + 0.5 - radius, radius, ratio, stack[k, r, c]))
    found.sort(key=lambda f: -f[3])
    if found:
        strongest = max(f[4] for f in found)
        found = [f for f in found if f[4] >= BLOB_RELATIVE * strongest]
    boxes = np.array(
        [[x, y, x + 2 * rad, y + 2 * rad] for x, y, rad, _, _ in found], dtype=np.float64
    ).reshape(-1, 4)
    keep: list[int] = []
    if len(boxes):
        iou = box_iou_matrix(boxes, boxes)
        for i in range(len(boxes)):
            if all(iou[i, j] <= 0.3 for j in keep):
                keep.append(i)
            if len(keep) == MAX_BLOBS:
                break
    out = []
    for i in keep:
        x0, y0, x1, y1 = boxes[i]
        pixel_box = (
            float(np.clip(x0 * work.sx, 0, work.geometry.width)),
            float(np.clip(y0 * work.sy, 0, work.geometry.height)),
            float(np.clip(x1 * work.sx, 0, work.geometry.width)),
            float(np.clip(y1 * work.sy, 0, work.geometry.height)),
        )
        out.append((pixel_box, float(1 - np.exp(-(found[i][3] - 1)))))
    return out


class BlobDetector(Baseline):
    """Detection: LoG blobs labelled with the first class of ``intent.labels``.

    The class decides the polarity (:data:`BLOB_POLARITY`, matched by keyword); a class not in
    the table searches both polarities and says so in the answer's ``notes``.
    """

    name = "blob-detector"
    tasks = frozenset({"detection"})

    def answer(self, request: Request) -> dict[str, Any]:
        """``{"lesions": [{"label", "box", "score"}, ...], "notes": "..."}``."""
        convention = box_spelling(request_convention(request))
        if not request.intent.labels:
            raise ValueError(f"request for {request.intent.sample_id!r} lists no classes")
        label = request.intent.labels[0]
        key = label.strip().lower()
        polarity = next((p for word, p in BLOB_POLARITY.items() if word in key), None)
        note = f"{polarity} blobs for class {label!r}"
        if polarity is None:
            polarity = "both"
            note = f"class {label!r} has no polarity rule: searched bright and dark blobs"
        work = first_image(request)
        lesions = [
            {
                "label": label,
                "box": written_values(
                    np.array(box_from_pixels(box, convention, work.geometry)), convention
                ),
                "score": round(score, 4),
            }
            for box, score in detect_blobs(work, polarity)
        ]
        return {"lesions": lesions, "notes": note}
