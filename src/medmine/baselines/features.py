"""Simple, fast image features for the nearest-centroid baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from medmine.core import ImageRef

_CACHE: dict[tuple[str, int], np.ndarray] = {}


def image_features(ref: ImageRef, size: int = 32) -> np.ndarray:
    """Colour histograms, a coarse thumbnail and edge energy of an image, as one vector.

    Raises ValueError naming the file when it cannot be read.
    """
    key = (str(ref.path), ref.path.stat().st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    arr = _load_rgb(ref.path, size)
    hsv = np.asarray(Image.fromarray(arr).convert("HSV"), dtype=float) / 255.0
    hists = [
        np.histogram(hsv[..., c], bins=8, range=(0, 1))[0] / hsv[..., c].size for c in range(3)
    ]
    grey = arr.mean(axis=2) / 255.0
    thumb = (
        np.asarray(
            Image.fromarray((grey * 255).astype(np.uint8)).resize((8, 8)), dtype=float
        ).ravel()
        / 255.0
    )
    gy, gx = np.gradient(grey)
    stats = [
        grey.mean(),
        grey.std(),
        np.hypot(gx, gy).mean(),
        (grey < 0.15).mean(),
        (grey > 0.85).mean(),
    ]
    vec = np.concatenate([*hists, thumb, stats])
    _CACHE[key] = vec
    return vec


def _load_rgb(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size * 4, size * 4))
            return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: cannot read image ({exc})") from exc
