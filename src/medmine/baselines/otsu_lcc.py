"""The otsu-lcc segmentation baseline: Otsu threshold, largest central component, its outline
polygon.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medmine.baselines.base import Baseline
from medmine.baselines.work_image import (
    WorkImage,
    first_image,
    otsu_threshold,
    request_convention,
    valid_field,
    written_values,
)
from medmine.core import Request
from medmine.metrics.geometry import mask_to_polygons
from medmine.tasks.coords import (
    polygon_from_pixels,
)
from medmine.tasks.spatial_common import point_spelling

MAX_VERTICES = 400


def otsu_lcc_mask(work: WorkImage) -> np.ndarray:
    """The segmented region on the working grid (see :class:`OtsuLCC` for the rule)."""
    from scipy import ndimage

    rgb, grey = work.rgb, work.grey
    valid = valid_field(grey)
    h, w = grey.shape
    ring = valid & ~ndimage.binary_erosion(valid, iterations=max(2, min(h, w) // 10))
    ref_colour = np.median(rgb[ring if ring.any() else valid], axis=0)
    colour_dist = np.linalg.norm(rgb - ref_colour, axis=2)
    best: tuple[float, np.ndarray] | None = None
    channels = []
    for channel in (grey, colour_dist):
        smooth = ndimage.gaussian_filter(channel, 1.0)
        t, eta = otsu_threshold(smooth[valid])
        channels.append((eta, smooth, t))
    _, smooth, t = max(channels, key=lambda c: c[0])
    edge = valid & ~ndimage.binary_erosion(valid, border_value=0)
    yy, xx = np.mgrid[0:h, 0:w]
    for fg in (smooth > t, smooth <= t):
        labels, n = ndimage.label(fg & valid)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        comp = labels == int(np.argmax(sizes)) + 1
        cy, cx = yy[comp].mean(), xx[comp].mean()
        dist = np.hypot((cx + 0.5 - w / 2) / w, (cy + 0.5 - h / 2) / h) / np.hypot(0.5, 0.5)
        touches = float((comp & edge).sum() > 0.02 * (edge.sum() or 1))
        score = dist + touches
        if best is None or score < best[0]:
            best = (score, comp)
    if best is None:
        raise ValueError("otsu-lcc: the image has a single grey level, nothing to segment")
    return ndimage.binary_fill_holes(best[1])


class OtsuLCC(Baseline):
    """Segmentation: Otsu threshold, the more central largest component, its outline.

    Rule: on the image downscaled to 256 px, threshold (Otsu, after a 1-px Gaussian) either the
    grey level or the colour distance to the median colour of the image's outer ring —
    whichever separates better (higher Otsu separability). For each polarity take the largest
    4-connected component inside the field of view; keep the one whose centroid is nearer the
    image centre, penalising (+1) a component that runs along the image or field border. Holes
    are filled and the outline is answered as one polygon.
    """

    name = "otsu-lcc"
    tasks = frozenset({"segmentation"})

    def answer(self, request: Request) -> dict[str, Any]:
        """``{"polygons": [[[a, b], ...]]}`` in the request's convention."""
        convention = point_spelling(request_convention(request))
        work = first_image(request)
        mask = otsu_lcc_mask(work)
        polygons = mask_to_polygons(mask)
        if not polygons:
            return {"polygons": []}
        poly = max(polygons, key=len)
        if len(poly) > MAX_VERTICES:
            poly = poly[:: int(np.ceil(len(poly) / MAX_VERTICES))]
        pixels = poly * np.array([work.sx, work.sy])
        written = polygon_from_pixels(pixels, convention, work.geometry)
        return {"polygons": [written_values(written, convention)]}
