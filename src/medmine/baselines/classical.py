"""Classical image-processing baselines for the spatial tasks (numpy + scipy, images via Pillow).

Each answers in the same JSON text an MLLM is asked for, in the request's coordinate convention
(``request.intent.convention``), from ``request.intent`` alone (never the prompt text):

* ``otsu-lcc`` (segmentation): Otsu threshold, largest central component, its outline polygon.
* ``landmark-intensity`` (localization): the brightest or darkest blob, by a rule table keyed
  by structure name (:data:`LANDMARK_RULES`); unknown structures get an error answer.
* ``blob-detector`` (detection): scale-normalised Laplacian-of-Gaussian blobs, labelled with
  the first class of ``intent.labels``; polarity by :data:`BLOB_POLARITY`.

All work on the image downscaled to at most :data:`WORK_EDGE` pixels per side; geometry is
scaled back to the original pixel grid before it is written in the convention.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from medmine.baselines.base import Baseline
from medmine.baselines.registry import register_baseline
from medmine.core import ImageRef, Request, Response, Usage
from medmine.metrics.geometry import box_iou_matrix, mask_to_polygons
from medmine.tasks.coords import (
    ImageGeometry,
    box_from_pixels,
    parse_convention,
    polygon_from_pixels,
)
from medmine.tasks.spatial_common import box_spelling, point_spelling

WORK_EDGE = 256
DARK_FRAME = 12.0  # grey level (0..255) below which border-connected pixels are a black frame
MAX_VERTICES = 400

Polarity = Literal["bright", "dark", "both"]


# --------------------------------------------------------------------------- image helpers


@dataclass(frozen=True)
class WorkImage:
    """An image downscaled for processing, with the factors back to original pixels."""

    rgb: np.ndarray  # (h, w, 3) float64 in 0..255
    geometry: ImageGeometry  # the original image size
    sx: float  # original pixels per working pixel along x
    sy: float

    @property
    def grey(self) -> np.ndarray:
        """ITU-R 601 luma of the working image."""
        return self.rgb @ np.array([0.299, 0.587, 0.114])


def load_work_image(ref: ImageRef, max_edge: int = WORK_EDGE) -> WorkImage:
    """Read an image with Pillow as RGB, downscaled so its longer side is at most ``max_edge``."""
    try:
        with Image.open(ref.path) as im:
            if ref.frame is not None:
                im.seek(ref.frame)
            width, height = im.size
            if im.mode in ("I", "I;16", "I;16B", "F"):
                arr = np.asarray(im, dtype=np.float64)
                lo, hi = float(arr.min()), float(arr.max())
                grey = (arr - lo) / (hi - lo or 1.0) * 255.0
                im = Image.fromarray(grey.astype(np.uint8))
            im = im.convert("RGB")
            scale = min(1.0, max_edge / max(width, height))
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            if (w, h) != (width, height):
                im = im.resize((w, h), Image.BILINEAR)
            rgb = np.asarray(im, dtype=np.float64)
    except (UnidentifiedImageError, OSError, EOFError) as exc:
        raise ValueError(f"{ref.path}: cannot read image ({exc})") from exc
    return WorkImage(rgb, ImageGeometry(width, height), width / w, height / h)


def valid_field(grey: np.ndarray) -> np.ndarray:
    """Pixels outside a black frame (dark pixels connected to the image border are excluded).

    Fundus photographs and endoscopy frames have such frames; elsewhere this keeps everything.
    """
    dark = grey < DARK_FRAME
    labels, n = ndimage.label(dark)
    if n == 0:
        return np.ones_like(dark)
    edge = np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    frame = np.isin(labels, edge[edge > 0])
    valid = ~frame
    return valid if valid.mean() > 0.05 else np.ones_like(dark)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu's threshold of 1-D values and its separability ``sigma_between² / sigma_total²``.

    The threshold maximises the between-class variance ``w0 w1 (mu0 - mu1)²`` over histogram
    bin edges; values ``> threshold`` form the upper class.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("Otsu threshold needs at least one value")
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo, 0.0
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    p = hist / hist.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    mt = m0[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0.0
    k = int(np.argmax(between[:-1]))
    total = float(v.var())
    return float(edges[k + 1]), float(between[k] / total) if total > 0 else 0.0


def _written(values: np.ndarray, convention: str) -> list[Any]:
    """Written coordinates as JSON-friendly numbers (ints for integer scales)."""
    scale = parse_convention(convention).scale
    if scale in ("norm1000", "pixel"):
        return np.asarray(values).astype(np.int64).tolist()
    return np.asarray(values, dtype=np.float64).tolist()


def _convention(request: Request) -> str:
    """The request's coordinate convention (required: a spatial intent always has one)."""
    convention = request.intent.convention
    if not convention:
        raise ValueError(f"request for {request.intent.sample_id!r} names no coordinate convention")
    return convention


def _first_image(request: Request) -> WorkImage:
    """The request's first image, loaded for processing."""
    if not request.intent.images:
        raise ValueError(f"request for {request.intent.sample_id!r} has no image")
    return load_work_image(request.intent.images[0])


def _smooth_within(grey: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing that averages only field-of-view pixels (normalised convolution)."""
    weight = ndimage.gaussian_filter(valid.astype(np.float64), sigma)
    total = ndimage.gaussian_filter(np.where(valid, grey, 0.0), sigma)
    return total / np.maximum(weight, 1e-6)


def _dog(grey: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Difference of Gaussians ``G(sigma) - G(3 sigma)`` within the field of view.

    Positive on bright blobs of about that size, negative on dark ones; the black frame of
    fundus or endoscopy images does not leak into the averages.
    """
    return _smooth_within(grey, valid, sigma) - _smooth_within(grey, valid, 3 * sigma)


# --------------------------------------------------------------------------- otsu-lcc


def otsu_lcc_mask(work: WorkImage) -> np.ndarray:
    """The segmented region on the working grid (see :class:`OtsuLCC` for the rule)."""
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
        convention = point_spelling(_convention(request))
        work = _first_image(request)
        mask = otsu_lcc_mask(work)
        polygons = mask_to_polygons(mask)
        if not polygons:
            return {"polygons": []}
        poly = max(polygons, key=len)
        if len(poly) > MAX_VERTICES:
            poly = poly[:: int(np.ceil(len(poly) / MAX_VERTICES))]
        pixels = poly * np.array([work.sx, work.sy])
        written = polygon_from_pixels(pixels, convention, work.geometry)
        return {"polygons": [_written(written, convention)]}


# --------------------------------------------------------------------------- landmark-intensity


@dataclass(frozen=True)
class LandmarkRule:
    """How to find a structure: bright or dark blob, its size, and where to search."""

    polarity: Literal["bright", "dark", "enclosed-dark"]
    size: float  # blob scale as a fraction of the longer image side
    window: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, x1, y1 fractions
    why: str = ""


# Exact structure names (lower case). Radiographs follow the radiological convention: the
# patient's right is on the image's left.
LANDMARK_RULES: dict[str, LandmarkRule] = {
    "optic disc": LandmarkRule("bright", 0.06, why="the disc is the brightest fundus blob"),
    "optic disk": LandmarkRule("bright", 0.06, why="the disc is the brightest fundus blob"),
    "optic cup": LandmarkRule("bright", 0.04, why="the cup is the brightest part of the disc"),
    "fovea": LandmarkRule(
        "dark", 0.035, (0.3, 0.3, 0.7, 0.7), "the fovea is the darkest central fundus blob"
    ),
    "macula": LandmarkRule(
        "dark", 0.07, (0.25, 0.25, 0.75, 0.75), "the macula is the darkest central fundus region"
    ),
    "heart": LandmarkRule(
        "bright", 0.08, (0.3, 0.4, 0.8, 0.72), "the heart is a bright mediastinal mass"
    ),
    "right lung": LandmarkRule(
        "enclosed-dark",
        0.12,
        (0.0, 0.0, 0.5, 1.0),
        "the lung is a dark region enclosed by the body; patient's right is image left",
    ),
    "left lung": LandmarkRule(
        "enclosed-dark",
        0.12,
        (0.5, 0.0, 1.0, 1.0),
        "the lung is a dark region enclosed by the body; patient's left is image right",
    ),
}
# Chest radiograph findings (NIH ChestX-ray14 box labels): naive intensity priors, so the
# baseline answers every NIH sample and its notes say which prior it used.
_FINDING_PRIORS: tuple[tuple[tuple[str, ...], LandmarkRule], ...] = (
    (
        ("atelecta", "infiltrat", "pneumonia", "consolidat", "opacity", "mass", "nodule"),
        LandmarkRule("bright", 0.05, (0.1, 0.1, 0.9, 0.85), "a lung finding: bright chest blob"),
    ),
    (
        ("cardiomegaly",),
        LandmarkRule("bright", 0.10, (0.3, 0.4, 0.8, 0.75), "cardiomegaly: the heart blob"),
    ),
    (
        ("effusion",),
        LandmarkRule("bright", 0.06, (0.0, 0.55, 1.0, 0.95), "effusion: bright blob at the bases"),
    ),
    (
        ("pneumothorax",),
        LandmarkRule("dark", 0.06, (0.0, 0.0, 1.0, 0.6), "pneumothorax: dark upper-chest blob"),
    ),
)
# Fallbacks by keyword, stated in the answer's notes when used.
LANDMARK_KEYWORDS: tuple[tuple[str, LandmarkRule], ...] = (
    ("lung", LandmarkRule("enclosed-dark", 0.12, why="keyword 'lung': aerated lung is dark")),
    ("disc", LandmarkRule("bright", 0.06, why="keyword 'disc': bright blob")),
    ("cardiac", LandmarkRule("bright", 0.10, why="keyword 'cardiac': bright mass")),
    ("bone", LandmarkRule("bright", 0.08, why="keyword 'bone': bone is bright on radiographs")),
    *((word, rule) for words, rule in _FINDING_PRIORS for word in words),
)
_TOOTH = re.compile(r"^tooth\s*([1-4])([1-8])$")


def landmark_rule(structure: str) -> tuple[LandmarkRule, str]:
    """The rule for a structure and a note saying which rule applied.

    Teeth use FDI numbers (``tooth 36``): quadrant 1/2 upper, 3/4 lower; quadrants 1 and 4 are
    the patient's right, on the image's left; the n-th tooth from the midline is searched in a
    band centred ``(n - 0.5) / 8 * 0.45`` image widths from the midline (the dentition spans
    about 90% of a panoramic radiograph). Raises ValueError for an unknown structure.
    """
    key = re.sub(r"\s+", " ", structure.strip().lower())
    if key in LANDMARK_RULES:
        rule = LANDMARK_RULES[key]
        return rule, f"rule for {key!r}: {rule.polarity} blob ({rule.why})"
    m = _TOOTH.match(key)
    if m:
        quadrant, n = int(m.group(1)), int(m.group(2))
        side = -1 if quadrant in (1, 4) else 1
        centre = 0.5 + side * (n - 0.5) / 8 * 0.45
        y0, y1 = (0.15, 0.55) if quadrant in (1, 2) else (0.45, 0.85)
        window = (centre - 0.02, y0, centre + 0.02, y1)
        note = f"rule for FDI tooth {quadrant}{n}: bright blob in its arch band"
        return LandmarkRule("bright", 0.012, window, "teeth are bright"), note
    for word, rule in LANDMARK_KEYWORDS:
        if word in key:
            return rule, f"fallback rule for {structure!r}: {rule.polarity} blob ({rule.why})"
    raise ValueError(f"landmark-intensity does not know structure {structure!r}")


def find_landmark(
    work: WorkImage, rule: LandmarkRule
) -> tuple[tuple[float, float, float, float], tuple[float, float]]:
    """Box and point (original pixels) of the strongest blob the rule asks for."""
    grey = work.grey
    h, w = grey.shape
    sigma = max(1.0, rule.size * max(h, w))
    valid = valid_field(grey)
    if rule.polarity == "enclosed-dark":
        found = _enclosed_dark(work, valid, rule.window)
        if found is not None:
            return found
        rule = LandmarkRule("dark", rule.size, rule.window, rule.why)
    response = _dog(grey, valid, sigma)
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
        convention = _convention(request)
        structure = request.intent.structure
        if not structure:
            raise UnknownStructure("landmark-intensity: the request names no structure")
        try:
            rule, note = landmark_rule(structure)
        except ValueError as exc:
            raise UnknownStructure(str(exc)) from None
        work = _first_image(request)
        box, point = find_landmark(work, rule)
        bconv, pconv = box_spelling(convention), point_spelling(convention)
        written_box = np.array(box_from_pixels(box, bconv, work.geometry))
        written_point = polygon_from_pixels([point], pconv, work.geometry)[0]
        return {
            "box": _written(written_box, bconv),
            "point": _written(written_point, pconv),
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


# --------------------------------------------------------------------------- blob-detector

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
        convention = box_spelling(_convention(request))
        if not request.intent.labels:
            raise ValueError(f"request for {request.intent.sample_id!r} lists no classes")
        label = request.intent.labels[0]
        key = label.strip().lower()
        polarity = next((p for word, p in BLOB_POLARITY.items() if word in key), None)
        note = f"{polarity} blobs for class {label!r}"
        if polarity is None:
            polarity = "both"
            note = f"class {label!r} has no polarity rule: searched bright and dark blobs"
        work = _first_image(request)
        lesions = [
            {
                "label": label,
                "box": _written(
                    np.array(box_from_pixels(box, convention, work.geometry)), convention
                ),
                "score": round(score, 4),
            }
            for box, score in detect_blobs(work, polarity)
        ]
        return {"lesions": lesions, "notes": note}


register_baseline("otsu-lcc", lambda: OtsuLCC(), default=True)
register_baseline("landmark-intensity", lambda: LandmarkIntensity(), default=True)
register_baseline("blob-detector", lambda: BlobDetector(), default=True)
