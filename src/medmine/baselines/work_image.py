"""The classical baselines' shared image handling: a downscaled grey work image, its valid field,
Otsu's threshold, smoothing, and writing geometry in the request's convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from medmine.core import ImageRef, Request
from medmine.tasks.coords import (
    ImageGeometry,
    parse_convention,
)

WORK_EDGE = 256


DARK_FRAME = 12.0  # grey level (0..255) below which border-connected pixels are a black frame


Polarity = Literal["bright", "dark", "both"]


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
    from scipy import ndimage

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


def written_values(values: np.ndarray, convention: str) -> list[Any]:
    """Written coordinates as JSON-friendly numbers (ints for integer scales)."""
    scale = parse_convention(convention).scale
    if scale in ("norm1000", "pixel"):
        return np.asarray(values).astype(np.int64).tolist()
    return np.asarray(values, dtype=np.float64).tolist()


def request_convention(request: Request) -> str:
    """The request's coordinate convention (required: a spatial intent always has one)."""
    convention = request.intent.convention
    if not convention:
        raise ValueError(f"request for {request.intent.sample_id!r} names no coordinate convention")
    return convention


def first_image(request: Request) -> WorkImage:
    """The request's first image, loaded for processing."""
    if not request.intent.images:
        raise ValueError(f"request for {request.intent.sample_id!r} has no image")
    return load_work_image(request.intent.images[0])


def smooth_within(grey: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing that averages only field-of-view pixels (normalised convolution)."""
    from scipy import ndimage

    weight = ndimage.gaussian_filter(valid.astype(np.float64), sigma)
    total = ndimage.gaussian_filter(np.where(valid, grey, 0.0), sigma)
    return total / np.maximum(weight, 1e-6)


def difference_of_gaussians(grey: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Difference of Gaussians ``G(sigma) - G(3 sigma)`` within the field of view.

    Positive on bright blobs of about that size, negative on dark ones; the black frame of
    fundus or endoscopy images does not leak into the averages.
    """
    return smooth_within(grey, valid, sigma) - smooth_within(grey, valid, 3 * sigma)
