"""The landmark-intensity localization baseline: the brightest or darkest blob, by a rule table
keyed by structure name; unknown structures get an error answer.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from medmine.baselines.base import Baseline
from medmine.baselines.landmark_rules import LandmarkRule, landmark_rule
from medmine.baselines.work_image import (
    WorkImage,
    difference_of_gaussians,
    first_image,
    otsu_threshold,
    request_convention,
    valid_field,
    written_values,
)
from medmine.core import Request, Response, Usage
from medmine.tasks.coords import (
    box_from_pixels,
    polygon_from_pixels,
)
from medmine.tasks.spatial_common import box_spelling, point_spelling


def find_landmark(
    work: WorkImage, rule: LandmarkRule
) -> tuple[tuple[float, float, float, float], tuple[float, float]]:
    """Box and point (original pixels) of the strongest blob the rule asks for."""
    from scipy import ndimage

    grey = work.grey
    h, w = grey.shape
    sigma = max(1.0, rule.size * max(h, w))
    valid = valid_field(grey)
    if rule.polarity == "enclosed-dark":
        found = _enclosed_dark(work, valid, rule.window)
        if found is not None:
            return found
        rule = LandmarkRule("dark", rule.size, rule.window, rule.why)
    response = difference_of_gaussians(grey, valid, sigma)
    if rule.polarity == "dark":
        response = -response
    inner = ndimage.binary_erosion(valid, iterations=max(1, int(sigma)))
    search = inner if inner.any() else valid
    x0, y0, x1, y1 = rule.window
    window = np.zeros_like(search)
    window[
        int(np.floor(y0 * h)) : max(int(np.ceil(y1 * h)), int(np.floor(y0 * h)) + 1),
        int(np.floor(x0 * w)) : max(int(np.ceil(x1 * w)), int(np.floor(x0 * w)) + 1),
    ] = True
    allowed = search & window if (search & window).any() else window
    masked = np.where(allowed, response, -np.inf)
    r, c = np.unravel_index(int(np.argmax(masked)), masked.shape)
    peak = response[r, c]
    region = (response >= 0.5 * peak) & valid if peak > 0 else np.zeros_like(valid)
    labels, _ = ndimage.label(region)
    comp = labels == labels[r, c] if labels[r, c] else np.zeros_like(region)
    if comp.any():
        ys, xs = np.nonzero(comp)
        box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    else:
        box = (c - sigma, r - sigma, c + 1 + sigma, r + 1 + sigma)
    bx0, by0, bx1, by1 = (float(v) for v in box)
    pixel_box = (
        max(0.0, bx0 * work.sx),
        max(0.0, by0 * work.sy),
        min(float(work.geometry.width), bx1 * work.sx),
        min(float(work.geometry.height), by1 * work.sy),
    )
    return pixel_box, ((c + 0.5) * work.sx, (r + 0.5) * work.sy)


def _enclosed_dark(
    work: WorkImage, valid: np.ndarray, window: tuple[float, float, float, float]
) -> tuple[tuple[float, float, float, float], tuple[float, float]] | None:
    """The largest dark (Otsu) region not touching the image border whose centroid lies in the
    window: box and centroid in original pixels, or None when there is none."""
    from scipy import ndimage

    grey = ndimage.gaussian_filter(work.grey, 1.5)
    h, w = grey.shape
    t, _ = otsu_threshold(grey[valid])
    labels, n = ndimage.label((grey <= t) & valid)
    if n == 0:
        return None
    border = np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    index = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(np.ones_like(grey), labels, index)
    centres = np.asarray(ndimage.center_of_mass(np.ones_like(grey), labels, index)).reshape(-1, 2)
    cys, cxs = centres[:, 0], centres[:, 1]
    x0, y0, x1, y1 = window
    ok = (
        ~np.isin(index, border)
        & ((cxs + 0.5) / w >= x0)
        & ((cxs + 0.5) / w <= x1)
        & ((cys + 0.5) / h >= y0)
        & ((cys + 0.5) / h <= y1)
    )
    if not ok.any():
        return None
    k = int(index[ok][np.argmax(sizes[ok])])
    ys, xs = np.nonzero(labels == k)
    box = (
        xs.min() * work.sx,
        ys.min() * work.sy,
        (xs.max() + 1) * work.sx,
        (ys.max() + 1) * work.sy,
    )
    point = ((xs.mean() + 0.5) * work.sx, (ys.mean() + 0.5) * work.sy)
    return tuple(float(v) for v in box), (float(point[0]), float(point[1]))  # type: ignore[return-value]


class UnknownStructure(Exception):
    """The baseline has no rule for the structure asked about (not an input-file problem)."""


class LandmarkIntensity(Baseline):
    """Localization: the brightest or darkest blob, by structure name (:func:`landmark_rule`).

    The blob is the peak of a difference of Gaussians at the rule's scale within the rule's
    search window and the field of view; the box is the connected region around the peak where
    the response is at least half the peak. Answers both a box and a point, plus ``notes``
    naming the rule used. An unknown structure is answered with an error Response.
    """

    name = "landmark-intensity"
    tasks = frozenset({"localization"})

    def answer(self, request: Request) -> dict[str, Any]:
        """``{"box": [...], "point": [...], "notes": "..."}`` in the request's convention."""
        convention = request_convention(request)
        structure = request.intent.structure
        if not structure:
            raise UnknownStructure("landmark-intensity: the request names no structure")
        try:
            rule, note = landmark_rule(structure)
        except ValueError as exc:
            raise UnknownStructure(str(exc)) from None
        work = first_image(request)
        box, point = find_landmark(work, rule)
        bconv, pconv = box_spelling(convention), point_spelling(convention)
        written_box = np.array(box_from_pixels(box, bconv, work.geometry))
        written_point = polygon_from_pixels([point], pconv, work.geometry)[0]
        return {
            "box": written_values(written_box, bconv),
            "point": written_values(written_point, pconv),
            "notes": note,
        }

    async def generate(self, request: Request) -> Response:
        """As the base class, but an unknown structure is a model error, not a bad input file."""
        start = time.perf_counter()
        try:
            return await super().generate(request)
        except UnknownStructure as exc:
            return _unknown(self, exc, start)


def _unknown(model: Baseline, exc: Exception, start: float) -> Response:
    """The error Response for a structure the baseline has no rule for."""
    return Response(
        text="",
        model=model.cache_id,
        usage=Usage(0, 0),
        error=str(exc),
        error_kind="unsupported",
        latency_s=time.perf_counter() - start,
    )
