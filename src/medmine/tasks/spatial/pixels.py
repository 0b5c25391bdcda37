"""Conversion of raw items to validated, clamped pixel-space boxes, polygons and points."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from medmine.tasks.coords import ImageGeometry, pixels_per_unit
from medmine.tasks.spatial.answer import Box, Point, Polygon
from medmine.tasks.spatial.raw import RawItem


def to_pixels(raw: RawItem, scale: str, order: str, geometry: ImageGeometry) -> np.ndarray:
    """Multiply a raw item's numbers into pixel units, returning them in x-first order.

    In y-first order every pair of a corner box, point or polygon is swapped; for a
    centre/corner-plus-size box only the leading point is (sizes are always width, height).
    """
    vals = raw.values.astype(np.float64, copy=True)
    units = list(raw.units) if raw.units is not None else None
    if order == "yx":
        n_swap = vals.size // 2 if raw.form == "xyxy" else 1
        idx = np.arange(vals.size)
        idx[: 2 * n_swap] = idx[: 2 * n_swap].reshape(-1, 2)[:, ::-1].reshape(-1)
        vals = vals[idx]
        if units is not None:
            units = [units[i] for i in idx]
    if units is None:
        fx, fy = pixels_per_unit(scale, geometry)
        return vals * np.tile([fx, fy], vals.size // 2)
    out = np.empty(vals.size)
    for i, (v, u) in enumerate(zip(vals, units, strict=True)):
        s = {"%": "percent", "px": "pixel"}.get(u or "", scale)
        out[i] = v * pixels_per_unit(s, geometry)[i % 2]
    return out


@dataclass
class Tally:
    """Running notes, clamp count and repair flag while converting items."""

    notes: list[str] = field(default_factory=list)
    n_clamped: int = 0
    repaired: bool = False


def _clamp(arr: np.ndarray, geometry: ImageGeometry, tally: Tally) -> np.ndarray:
    """Clamp x-first coordinate pairs into the image and count the values moved."""
    pts = arr.reshape(-1, 2)
    lim = np.array([geometry.width, geometry.height], dtype=np.float64)
    moved = int(np.count_nonzero((pts < 0) | (pts > lim)))
    tally.n_clamped += moved
    tally.repaired = tally.repaired or moved > 0  # the numbers were changed: a repair
    return np.clip(pts, 0, lim).reshape(arr.shape)


def box_from_raw(
    raw: RawItem, idx: int, scale: str, order: str, geometry: ImageGeometry, tally: Tally
) -> Box | None:
    """Convert a raw box (any form) into a clamped pixel ``Box``; None if invalid."""
    if raw.values.size != 4:
        tally.notes.append(f"item {idx}: a box needs 4 numbers, got {raw.values.size}; dropped")
        return None
    if not np.all(np.isfinite(raw.values)):
        tally.notes.append(f"item {idx}: NaN or infinite coordinate; dropped")
        return None
    a, b, c, d = to_pixels(raw, scale, order, geometry)
    if raw.form in ("xywh", "cxcywh"):
        if c < 0 or d < 0:
            tally.notes.append(f"item {idx}: negative width or height; dropped")
            return None
        if raw.form == "xywh":
            x0, y0, x1, y1 = a, b, a + c, b + d
        else:
            x0, y0, x1, y1 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x0, y0, x1, y1 = a, b, c, d
    if x0 > x1 or y0 > y1:
        tally.notes.append(f"item {idx}: corners were swapped; put in order")
        tally.repaired = True
        x0, x1 = min(x0, x1), max(x0, x1)
        y0, y1 = min(y0, y1), max(y0, y1)
    x0, y0, x1, y1 = (float(v) for v in _clamp(np.array([x0, y0, x1, y1]), geometry, tally))
    score = raw.score if raw.score is not None and math.isfinite(raw.score) else None
    return Box(x0, y0, x1, y1, label=raw.label, score=score)


def polygon_from_raw(
    raw: RawItem, idx: int, scale: str, order: str, geometry: ImageGeometry, tally: Tally
) -> Polygon | None:
    """Convert a raw polygon into clamped pixel vertices; None if invalid."""
    if raw.values.size % 2:
        tally.notes.append(f"item {idx}: polygon has an odd number of coordinates; dropped")
        return None
    if not np.all(np.isfinite(raw.values)):
        tally.notes.append(f"item {idx}: NaN or infinite coordinate; dropped")
        return None
    pts = to_pixels(raw, scale, order, geometry).reshape(-1, 2)
    if len(pts) >= 2 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
        tally.notes.append(f"item {idx}: repeated closing vertex dropped")
    if len(pts) < 3:
        tally.notes.append(f"item {idx}: polygon has {len(pts)} vertices (needs 3); dropped")
        return None
    pts = _clamp(pts, geometry, tally)
    return tuple(map(tuple, pts.tolist()))


def point_from_raw(
    raw: RawItem, idx: int, scale: str, order: str, geometry: ImageGeometry, tally: Tally
) -> Point | None:
    """Convert a raw point into a clamped pixel point; None if invalid."""
    if raw.values.size != 2:
        tally.notes.append(f"item {idx}: a point needs 2 numbers, got {raw.values.size}; dropped")
        return None
    if not np.all(np.isfinite(raw.values)):
        tally.notes.append(f"item {idx}: NaN or infinite coordinate; dropped")
        return None
    x, y = _clamp(to_pixels(raw, scale, order, geometry), geometry, tally)
    return float(x), float(y)
