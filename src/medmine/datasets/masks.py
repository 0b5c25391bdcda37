"""Read segmentation mask images from disk: strict binary, thresholded, or mapped to class ids."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


def _binary_values_message(path: Path, values: np.ndarray) -> str:
    """Error text for a mask that is not strictly binary."""
    shown = values[:20].tolist()
    more = "" if values.size <= 20 else f" (and {values.size - 20} more)"
    return (
        f"{path}: mask is not binary, found values {shown}{more}; expected {{0, 255}} or {{0, 1}}. "
        "Pass threshold= for JPEG-compressed masks or value_map= for label masks."
    )


def _present_values(arr: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer image (bincount for 8/16-bit, unique otherwise)."""
    if arr.dtype in (np.uint8, np.uint16):
        return np.flatnonzero(np.bincount(arr.ravel()))
    return np.unique(arr)


def read_mask(
    path: str | os.PathLike[str],
    value_map: Mapping[int, int] | None = None,
    threshold: int | None = None,
) -> np.ndarray:
    """Read a mask image (PNG, BMP, JPEG, GIF, TIFF) with Pillow.

    Exactly one of three modes:

    * ``value_map`` given: raw grey values are mapped to class ids and an integer array
      (uint8 if all ids fit, else int64) is returned; e.g. REFUGE ``{0: 2, 128: 1, 255: 0}``
      (cup, disc, background). A value missing from the map raises ValueError naming the file
      and the unexpected values.
    * ``threshold`` given: foreground is ``value >= threshold`` (``threshold=128`` means > 127,
      right for JPEG-compressed masks such as Kvasir-SEG); returns a bool array. Colour images
      are first converted to grey with Pillow's ``convert("L")`` (ITU-R 601 luma).
    * neither: the mask must be strictly binary, values within {0, 255} or {0, 1}; returns a bool
      array. Anything else raises ValueError naming the file and the values found.

    Palette images (GIF, indexed PNG) are converted to grey levels first. In the value_map and
    strict modes a colour image must have identical R, G and B channels (alpha is ignored).
    Missing files raise FileNotFoundError, unreadable ones ValueError, both naming the file;
    multi-frame images are refused.
    """
    p = Path(path)
    if value_map is not None and threshold is not None:
        raise ValueError(f"{p}: pass either value_map or threshold, not both")
    if not p.is_file():
        raise FileNotFoundError(f"mask file not found: {p}")
    try:
        with Image.open(p) as img:
            if getattr(img, "n_frames", 1) > 1:
                raise ValueError(f"{p}: mask has {img.n_frames} frames, expected a single image")
            img.load()
            if img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            if threshold is not None and img.mode not in ("L", "1", "I", "I;16", "F"):
                img = img.convert("L")
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{p}: cannot read mask image ({exc})") from exc
    if arr.ndim == 3:
        colour = arr[..., :3]
        if not (
            np.array_equal(colour[..., 0], colour[..., 1])
            and np.array_equal(colour[..., 0], colour[..., 2])
        ):
            raise ValueError(f"{p}: mask has differing colour channels; expected a grey-level mask")
        arr = colour[..., 0]
    if arr.dtype == bool:  # 1-bit image: white is 255, as in the documented 0/255 values
        arr = arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{p}: mask has non-integer values")
        arr = arr.astype(np.int64)

    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer):
            raise ValueError(f"threshold must be an integer, got {threshold!r}")
        return arr >= threshold
    values = _present_values(arr)
    if value_map is not None:
        unexpected = sorted(set(values.tolist()) - set(value_map))
        if unexpected:
            raise ValueError(
                f"{p}: mask values {unexpected[:20]} are not in value_map "
                f"(keys {sorted(value_map)})"
            )
        ids = np.array(list(value_map.values()), dtype=np.int64)
        dtype = np.uint8 if ids.size and ids.min() >= 0 and ids.max() < 256 else np.int64
        out = np.zeros(arr.shape, dtype=dtype)
        for raw, cls in value_map.items():
            out[arr == raw] = cls
        return out
    if set(values.tolist()) <= {0, 255} or set(values.tolist()) <= {0, 1}:
        return arr != 0
    raise ValueError(_binary_values_message(p, values))
