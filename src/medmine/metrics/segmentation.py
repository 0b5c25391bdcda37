"""Binary segmentation metrics identical to ``medpy.metric.binary`` (pure numpy + scipy).

``dice``/``iou`` equal medpy's ``dc``/``jc``; ``hd``, ``hd95``, ``assd`` and ``asd`` equal medpy's
functions of the same name with ``connectivity=1``, bit for bit on non-empty masks. Surfaces are
defined as medpy does: the foreground minus its binary erosion by the connectivity-1 cross
(pixels outside the array count as background), and each surface pixel's distance is the
Euclidean distance, scaled per axis by ``spacing``, to the nearest surface pixel of the other
mask, computed as ``sqrt(sum((delta_i * spacing_i) ** 2))`` exactly like
``scipy.ndimage.distance_transform_edt``.

Speed: everything is computed on the bounding box of ``pred | gt`` (exactly equivalent, since
outside it both masks are background), and nearest surface pixels are found by brute force for
small surfaces or a ``scipy.spatial.cKDTree`` otherwise; the distance of each found pair is then
recomputed with the distance-transform formula so results stay identical to medpy.

Empty masks (medpy raises, medmine never skips a case) follow :func:`empty_mask_value`.

Masks may have any number of dimensions (2-D images, 3-D volumes); any non-zero value is
foreground. ``spacing`` gives the physical size of a pixel along each axis in array-axis order,
i.e. ``(row spacing, column spacing)`` for 2-D (``(dy, dx)``), or one number for all axes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy.spatial import cKDTree

__all__ = [
    "SegmentationScores",
    "asd",
    "assd",
    "dice",
    "empty_mask_value",
    "hd",
    "hd95",
    "iou",
    "read_mask",
    "segmentation_scores",
    "surface_distances",
]

Spacing = float | Sequence[float] | None

# Above this many (source x target) surface-pixel pairs the nearest neighbour search uses a
# k-d tree instead of a dense distance matrix.
_BRUTE_FORCE_PAIRS = 40_000


def _as_mask_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two masks of equal shape and return them as boolean arrays."""
    out = []
    for name, value in (("pred", pred), ("gt", gt)):
        arr = np.asarray(value)
        if arr.ndim == 0:
            raise ValueError(f"{name} must be an array with at least one dimension, got a scalar")
        if arr.dtype != bool:
            if not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"{name} must be boolean or numeric, got dtype {arr.dtype}")
            if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
                raise ValueError(f"{name} contains NaN values")
            arr = arr != 0
        out.append(arr)
    if out[0].shape != out[1].shape:
        raise ValueError(
            f"pred and gt must have the same shape, got {out[0].shape} and {out[1].shape}"
        )
    return out[0], out[1]


def _as_spacing(spacing: Spacing, ndim: int) -> np.ndarray | None:
    """Validate ``spacing`` (None, one number, or one number per axis); None means unit spacing."""
    if spacing is None:
        return None
    arr = np.asarray(spacing, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(ndim, float(arr))
    if arr.shape != (ndim,):
        raise ValueError(
            f"spacing must be one number or {ndim} numbers (one per axis), got {spacing!r}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"spacing must be positive and finite, got {arr.tolist()}")
    return arr


def empty_mask_value(
    kind: Literal["overlap", "distance"],
    pred_empty: bool,
    gt_empty: bool,
    shape: tuple[int, ...],
    spacing: Spacing = None,
) -> float | None:
    """The fixed outcome of a metric when one or both masks are empty, or None if neither is.

    Policy (constant, never a skipped case):

    * ``overlap`` metrics (Dice, IoU): both empty -> 1.0 (perfect agreement on "no lesion",
      as medpy's ``dc``); exactly one empty -> 0.0.
    * ``distance`` metrics (HD, HD95, ASSD, ASD): both empty -> 0.0; exactly one empty -> the
      image diagonal in physical units, ``sqrt(sum((shape_i * spacing_i) ** 2))``, the worst
      possible distance, so a missed or hallucinated lesion is penalised rather than dropped.
    """
    if kind not in ("overlap", "distance"):
        raise ValueError(f"kind must be 'overlap' or 'distance', got {kind!r}")
    if not pred_empty and not gt_empty:
        return None
    if kind == "overlap":
        return 1.0 if (pred_empty and gt_empty) else 0.0
    if pred_empty and gt_empty:
        return 0.0
    sp = _as_spacing(spacing, len(shape))
    extent = np.asarray(shape, dtype=np.float64) * (1.0 if sp is None else sp)
    return float(np.sqrt(np.sum(extent * extent)))


def _union_crop(pred: np.ndarray, gt: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box (as slices) of ``pred | gt``, or None when both are empty."""
    union = pred | gt
    slices: list[slice] = []
    for axis in range(union.ndim):
        # Restrict the search to the ranges already found on earlier axes.
        view = union[(*slices, *([slice(None)] * (union.ndim - len(slices))))]
        other = tuple(a for a in range(union.ndim) if a != axis)
        hits = np.flatnonzero(view.any(axis=other) if other else view)
        if hits.size == 0:
            return None
        slices.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(slices)


def _surface(mask: np.ndarray) -> np.ndarray:
    """Coordinates ``(n, ndim)`` of surface pixels in C order (mask minus its cross erosion).

    Pixels outside the array count as background, so foreground pixels on the array edge are
    surface pixels (as with ``binary_erosion(border_value=0)``).
    """
    border = mask.copy()
    if all(n > 2 for n in mask.shape):
        core = tuple(slice(1, -1) for _ in range(mask.ndim))
        interior = mask[core].copy()
        for axis in range(mask.ndim):
            for shift in (0, 2):
                sl = list(core)
                sl[axis] = slice(shift, shift + mask.shape[axis] - 2)
                interior &= mask[tuple(sl)]
        border[core] &= ~interior
    return np.argwhere(border)


def _directed(src: np.ndarray, dst: np.ndarray, spacing: np.ndarray | None) -> np.ndarray:
    """Distance from each ``src`` surface pixel to its nearest ``dst`` surface pixel."""
    scale = np.ones(src.shape[1]) if spacing is None else spacing
    if src.shape[0] * dst.shape[0] <= _BRUTE_FORCE_PAIRS:
        diff = (src[:, None, :] - dst[None, :, :]) * scale
        nearest = np.argmin(np.einsum("ijk,ijk->ij", diff, diff), axis=1)
    else:
        tree = cKDTree(dst * scale, balanced_tree=False, compact_nodes=False)
        _, nearest = tree.query(src * scale, k=1)
    # Recompute with distance_transform_edt's arithmetic: (ndim, n) rows, scaled, squared,
    # reduced over axis 0, square root.
    delta = (dst[nearest] - src).T.astype(np.float64)
    if spacing is not None:
        delta *= spacing[:, None]
    np.multiply(delta, delta, delta)
    return np.sqrt(np.add.reduce(delta, axis=0))


def _distances_or_empty(
    pred: np.ndarray, gt: np.ndarray, spacing: Spacing
) -> tuple[np.ndarray, np.ndarray] | float:
    """Both directed surface distance arrays, or the empty-mask policy value."""
    p, g = _as_mask_pair(pred, gt)
    sp = _as_spacing(spacing, p.ndim)
    crop = _union_crop(p, g)
    if crop is None:
        return 0.0
    pc, gc = p[crop], g[crop]
    pred_empty, gt_empty = not pc.any(), not gc.any()
    if pred_empty or gt_empty:
        value = empty_mask_value("distance", pred_empty, gt_empty, p.shape, sp)
        assert value is not None
        return value
    ps, gs = _surface(pc), _surface(gc)
    return _directed(ps, gs, sp), _directed(gs, ps, sp)


def surface_distances(
    pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances ``(pred -> gt, gt -> pred)`` as float64 arrays.

    Each array lists, in C order of the surface pixels, the distance to the nearest surface pixel
    of the other mask (medpy's private ``__surface_distances``). Raises ValueError if either mask
    is empty, since no distance exists then.
    """
    out = _distances_or_empty(pred, gt, spacing)
    if isinstance(out, float):
        raise ValueError("surface distances need a non-empty pred and a non-empty gt mask")
    return out


def _overlap_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int]:
    """Intersection size and the two foreground sizes of two masks."""
    p, g = _as_mask_pair(pred, gt)
    crop = _union_crop(p, g)
    if crop is None:
        return 0, 0, 0
    pc, gc = p[crop], g[crop]
    return int(np.count_nonzero(pc & gc)), int(np.count_nonzero(pc)), int(np.count_nonzero(gc))


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice coefficient ``2 |P ∩ G| / (|P| + |G|)``; both masks empty -> 1.0 (medpy ``dc``)."""
    inter, n_pred, n_gt = _overlap_counts(pred, gt)
    if n_pred + n_gt == 0:
        return 1.0
    return 2.0 * inter / float(n_pred + n_gt)


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Jaccard index ``|P ∩ G| / |P ∪ G|`` (medpy ``jc``); both masks empty -> 1.0."""
    inter, n_pred, n_gt = _overlap_counts(pred, gt)
    union = n_pred + n_gt - inter
    if union == 0:
        return 1.0
    return float(inter) / float(union)


def hd(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> float:
    """Hausdorff distance: the largest directed surface distance (medpy ``hd``)."""
    out = _distances_or_empty(pred, gt, spacing)
    if isinstance(out, float):
        return out
    return float(max(out[0].max(), out[1].max()))


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> float:
    """95th percentile of both directed surface distances pooled (medpy ``hd95``).

    ``np.percentile(concat(d(P->G), d(G->P)), 95)`` with numpy's default linear interpolation.
    """
    out = _distances_or_empty(pred, gt, spacing)
    if isinstance(out, float):
        return out
    return float(np.percentile(np.hstack(out), 95))


def assd(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> float:
    """Average symmetric surface distance: mean of both directed distances pooled (medpy)."""
    out = _distances_or_empty(pred, gt, spacing)
    if isinstance(out, float):
        return out
    return float(np.concatenate(out).mean())


def asd(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> float:
    """Average surface distance from ``pred`` to ``gt`` (directed; medpy ``asd``)."""
    out = _distances_or_empty(pred, gt, spacing)
    if isinstance(out, float):
        return out
    return float(out[0].mean())


@dataclass(frozen=True, slots=True)
class SegmentationScores:
    """Dice, IoU, HD95 and ASSD of one prediction (distances in ``spacing`` units)."""

    dice: float
    iou: float
    hd95: float
    assd: float


def segmentation_scores(
    pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None
) -> SegmentationScores:
    """All four scores at once, sharing the crop and the surface search (same values as apart)."""
    p, g = _as_mask_pair(pred, gt)
    sp = _as_spacing(spacing, p.ndim)
    crop = _union_crop(p, g)
    if crop is None:
        return SegmentationScores(1.0, 1.0, 0.0, 0.0)
    pc, gc = p[crop], g[crop]
    inter, n_pred, n_gt = (
        int(np.count_nonzero(pc & gc)),
        int(np.count_nonzero(pc)),
        int(np.count_nonzero(gc)),
    )
    d = 2.0 * inter / float(n_pred + n_gt)
    j = float(inter) / float(n_pred + n_gt - inter)
    if n_pred == 0 or n_gt == 0:
        worst = empty_mask_value("distance", n_pred == 0, n_gt == 0, p.shape, sp)
        assert worst is not None
        return SegmentationScores(d, j, worst, worst)
    ps, gs = _surface(pc), _surface(gc)
    d1, d2 = _directed(ps, gs, sp), _directed(gs, ps, sp)
    return SegmentationScores(
        d, j, float(np.percentile(np.hstack((d1, d2)), 95)), float(np.concatenate([d1, d2]).mean())
    )


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
