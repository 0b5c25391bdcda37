"""Point localisation metrics: hit tests and normalised distance errors.

Points are ``(x, y)`` floats in pixel-edge coordinates (see :mod:`medmine.metrics.geometry`):
the image spans ``[0, width] x [0, height]`` and pixel ``(row r, column c)`` is the square
``[c, c + 1) x [r, r + 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "box_center",
    "hit_rate",
    "mean_normalized_distance_error",
    "normalized_distance_error",
    "point_in_region_hit",
]

Point = tuple[float, float]
Region = np.ndarray | Sequence[float]


def _as_point(point: Sequence[float] | np.ndarray, name: str = "point") -> np.ndarray:
    """Validate an ``(x, y)`` point and return it as a float64 array."""
    arr = np.asarray(point, dtype=np.float64)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be two finite numbers (x, y), got {point!r}")
    return arr


def _as_box(box: Sequence[float] | np.ndarray) -> np.ndarray:
    """Validate an ``(x0, y0, x1, y1)`` box and return it as a float64 array."""
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape != (4,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"box must be four finite numbers (x0, y0, x1, y1), got {box!r}")
    if arr[2] < arr[0] or arr[3] < arr[1]:
        raise ValueError(f"box must satisfy x1 >= x0 and y1 >= y0, got {arr.tolist()}")
    return arr


def box_center(box: Sequence[float] | np.ndarray) -> Point:
    """Centre ``((x0 + x1) / 2, (y0 + y1) / 2)`` of an xyxy box."""
    b = _as_box(box)
    return float((b[0] + b[2]) / 2), float((b[1] + b[3]) / 2)


def point_in_region_hit(point: Sequence[float] | np.ndarray, region: Region) -> bool:
    """Whether a predicted point falls inside the target region.

    ``region`` is either a 2-D mask (bool, or numbers where non-zero is foreground) or an
    ``(x0, y0, x1, y1)`` box. For a mask the point hits when the pixel containing it,
    ``(floor(y), floor(x))``, is foreground; points outside ``[0, width) x [0, height)`` miss.
    For a box the test is inclusive on all sides, ``x0 <= x <= x1 and y0 <= y <= y1``, so a point
    on the box outline counts as a hit.
    """
    p = _as_point(point)
    arr = np.asarray(region)
    if arr.ndim == 2:
        if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"mask region must be boolean or numeric, got dtype {arr.dtype}")
        h, w = arr.shape
        if not (0 <= p[0] < w and 0 <= p[1] < h):
            return False
        return bool(arr[int(np.floor(p[1])), int(np.floor(p[0]))])
    if arr.ndim == 1:
        b = _as_box(arr)
        return bool(b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3])
    raise ValueError(f"region must be a 2-D mask or a 4-number box, got shape {arr.shape}")


def normalized_distance_error(
    point: Sequence[float] | np.ndarray,
    target_point: Sequence[float] | np.ndarray,
    height: int,
    width: int,
) -> float:
    """Euclidean distance between two points divided by the image diagonal.

    ``sqrt(dx² + dy²) / sqrt(width² + height²)``: 0 for a perfect answer, 1 for opposite image
    corners, comparable across image sizes (values above 1 mean a point outside the image).
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    d = _as_point(point) - _as_point(target_point, "target_point")
    return float(np.hypot(d[0], d[1]) / np.hypot(float(width), float(height)))


def hit_rate(points: Sequence[Sequence[float] | None], regions: Sequence[Region]) -> float:
    """Fraction of samples whose point hits its region (see :func:`point_in_region_hit`).

    ``None`` stands for a missing or unparseable answer and counts as a miss (never skipped).
    Raises ValueError if the lists differ in length or are empty.
    """
    if len(points) != len(regions):
        raise ValueError(f"points and regions differ in length: {len(points)} vs {len(regions)}")
    if len(points) == 0:
        raise ValueError("hit_rate needs at least one sample")
    hits = sum(
        p is not None and point_in_region_hit(p, r) for p, r in zip(points, regions, strict=True)
    )
    return hits / len(points)


def mean_normalized_distance_error(
    points: Sequence[Sequence[float] | None],
    targets: Sequence[Sequence[float]],
    sizes: Sequence[tuple[int, int]],
) -> float:
    """Mean :func:`normalized_distance_error` over samples; ``sizes`` holds ``(height, width)``.

    A missing answer (``None``) scores 1.0, the distance between opposite corners, so failures
    are penalised rather than dropped. Raises ValueError on length mismatch or no samples.
    """
    if not (len(points) == len(targets) == len(sizes)):
        raise ValueError(
            "points, targets and sizes differ in length: "
            f"{len(points)}, {len(targets)}, {len(sizes)}"
        )
    if len(points) == 0:
        raise ValueError("mean_normalized_distance_error needs at least one sample")
    errors = [
        1.0 if p is None else normalized_distance_error(p, t, h, w)
        for p, t, (h, w) in zip(points, targets, sizes, strict=True)
    ]
    return float(np.mean(errors))
