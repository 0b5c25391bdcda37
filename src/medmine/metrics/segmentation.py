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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "SegmentationScores",
    "asd",
    "assd",
    "dice",
    "empty_mask_value",
    "hd",
    "hd95",
    "iou",
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
    from scipy.spatial import cKDTree

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
