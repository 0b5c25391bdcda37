"""Coordinate conventions for boxes, polygons and points in model answers.

A *convention* names how a model writes geometry: the **scale** of the numbers and the
**order** of the axes. Pixel space (what scorers use) is always the original image's
float pixel-edge coordinates: x to the right, y down, ``(0, 0)`` the top-left corner of
the top-left pixel and ``(width, height)`` the bottom-right corner of the image.

Scales (``v`` is the written number, ``W``/``H`` the image width/height):

* ``norm1000`` -- integers 0..1000: ``x_px = v / 1000 * W`` (Gemini, and medmine's default);
* ``norm1``    -- floats 0..1:      ``x_px = v * W``;
* ``percent``  -- 0..100:           ``x_px = v / 100 * W``;
* ``pixel``    -- absolute pixels:  ``x_px = v`` (Qwen2.5-VL).

Orders: ``xy`` (x first: boxes ``[x_min, y_min, x_max, y_max]``, points ``[x, y]``) or
``yx`` (y first: boxes ``[y_min, x_min, y_max, x_max]``, points ``[y, x]``; Gemini).

Box convention names end in ``_xyxy``/``_yxyx``; point and polygon names end in
``_xy``/``_yx``. The two spellings of one scale and order are the same convention, so a
box name can be used to convert points and vice versa.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

Scale = Literal["norm1000", "norm1", "percent", "pixel"]
Order = Literal["xy", "yx"]

Convention = Literal[
    "norm1000_xyxy",
    "norm1000_yxyx",
    "pixel_xyxy",
    "pixel_yxyx",
    "norm1_xyxy",
    "norm1_yxyx",
    "percent_xyxy",
    "percent_yxyx",
    "norm1000_xy",
    "norm1000_yx",
    "pixel_xy",
    "pixel_yx",
    "norm1_xy",
    "norm1_yx",
    "percent_xy",
    "percent_yx",
]

CONVENTIONS: tuple[str, ...] = get_args(Convention)
BOX_CONVENTIONS: tuple[str, ...] = tuple(c for c in CONVENTIONS if c.endswith(("xyxy", "yxyx")))
POINT_CONVENTIONS: tuple[str, ...] = tuple(c for c in CONVENTIONS if c not in BOX_CONVENTIONS)
DEFAULT_CONVENTION: Convention = "norm1000_xyxy"
SCALES: tuple[str, ...] = get_args(Scale)

# Number of decimals a convention is written with when ``rounded=True``.
_DECIMALS: dict[str, int] = {"norm1000": 0, "pixel": 0, "norm1": 3, "percent": 1}
# Written units per full image side (None: pixels, i.e. the side length itself).
_FULL_SCALE: dict[str, float | None] = {
    "norm1000": 1000.0,
    "norm1": 1.0,
    "percent": 100.0,
    "pixel": None,
}


@dataclass(frozen=True)
class ImageGeometry:
    """Size of the original image in pixels, the reference frame of every conversion."""

    width: int
    height: int

    def __post_init__(self) -> None:
        """Reject sizes that cannot describe an image."""
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"ImageGeometry.{name} must be an int, got {value!r}")
            if value <= 0:
                raise ValueError(f"ImageGeometry.{name} must be positive, got {value}")


@dataclass(frozen=True)
class ConventionSpec:
    """The scale and axis order that a convention name stands for."""

    scale: Scale
    order: Order


def parse_convention(convention: str) -> ConventionSpec:
    """Split a convention name such as ``"norm1000_yxyx"`` into its scale and order."""
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown coordinate convention {convention!r}; "
            f"expected one of {', '.join(CONVENTIONS)}"
        )
    scale, _, suffix = convention.partition("_")
    order: Order = "xy" if suffix.startswith("x") else "yx"
    return ConventionSpec(scale=scale, order=order)  # type: ignore[arg-type]


def convention_name(scale: str, order: str, shape: Literal["box", "point"] = "box") -> str:
    """Build the convention name for a scale, an order and a shape (box or point/polygon)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if order not in ("xy", "yx"):
        raise ValueError(f"unknown axis order {order!r}; expected 'xy' or 'yx'")
    if shape not in ("box", "point"):
        raise ValueError(f"unknown shape {shape!r}; expected 'box' or 'point'")
    return f"{scale}_{order * 2 if shape == 'box' else order}"


def pixels_per_unit(scale: str, geometry: ImageGeometry) -> tuple[float, float]:
    """Pixels per written unit along x and y for a scale on an image of this size."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    full = _FULL_SCALE[scale]
    if full is None:
        return 1.0, 1.0
    return geometry.width / full, geometry.height / full


def resolution(convention: str, geometry: ImageGeometry) -> tuple[float, float]:
    """Largest pixel error (x, y) that rounding to the convention's written precision causes."""
    spec = parse_convention(convention)
    fx, fy = pixels_per_unit(spec.scale, geometry)
    half_step = 0.5 * 10.0 ** (-_DECIMALS[spec.scale])
    return fx * half_step, fy * half_step


def _as_pairs(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    """Return ``values`` as a finite float array of shape (N, 2) or raise ValueError."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1 and arr.size % 2 == 0:
        arr = arr.reshape(-1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{what} must be pairs of numbers, got shape {np.shape(values)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return arr


def _round(arr: np.ndarray, scale: str) -> np.ndarray:
    """Round written values to the precision a convention is written with."""
    return np.round(arr, _DECIMALS[scale])


def points_to_pixels(
    points: Sequence[Sequence[float]] | np.ndarray, convention: str, geometry: ImageGeometry
) -> np.ndarray:
    """Convert written points (N, 2) in ``convention`` to pixel-space ``(x, y)`` rows."""
    spec = parse_convention(convention)
    arr = _as_pairs(points, "points")
    if spec.order == "yx":
        arr = arr[:, ::-1]
    fx, fy = pixels_per_unit(spec.scale, geometry)
    return arr * np.array([fx, fy])


def points_from_pixels(
    points: Sequence[Sequence[float]] | np.ndarray,
    convention: str,
    geometry: ImageGeometry,
    *,
    rounded: bool = True,
) -> np.ndarray:
    """Write pixel-space ``(x, y)`` rows in ``convention`` (rounded to its precision)."""
    spec = parse_convention(convention)
    arr = _as_pairs(points, "points")
    fx, fy = pixels_per_unit(spec.scale, geometry)
    out = arr / np.array([fx, fy])
    if spec.order == "yx":
        out = out[:, ::-1]
    return _round(out, spec.scale) if rounded else out


def point_to_pixels(
    point: Sequence[float], convention: str, geometry: ImageGeometry
) -> tuple[float, float]:
    """Convert one written point in ``convention`` to pixel-space ``(x, y)``."""
    if len(point) != 2:
        raise ValueError(f"a point needs 2 numbers, got {len(point)}")
    x, y = points_to_pixels([point], convention, geometry)[0]
    return float(x), float(y)


def point_from_pixels(
    point: Sequence[float], convention: str, geometry: ImageGeometry, *, rounded: bool = True
) -> tuple[float, float]:
    """Write one pixel-space point ``(x, y)`` in ``convention`` (ints for integer scales)."""
    if len(point) != 2:
        raise ValueError(f"a point needs 2 numbers, got {len(point)}")
    row = points_from_pixels([point], convention, geometry, rounded=rounded)[0]
    a, b = (_python_number(v, convention, rounded) for v in row)
    return a, b


def polygon_to_pixels(
    vertices: Sequence[Sequence[float]] | np.ndarray, convention: str, geometry: ImageGeometry
) -> np.ndarray:
    """Convert written polygon vertices (N, 2) in ``convention`` to pixel space."""
    return points_to_pixels(vertices, convention, geometry)


def polygon_from_pixels(
    vertices: Sequence[Sequence[float]] | np.ndarray,
    convention: str,
    geometry: ImageGeometry,
    *,
    rounded: bool = True,
) -> np.ndarray:
    """Write pixel-space polygon vertices (N, 2) in ``convention``."""
    return points_from_pixels(vertices, convention, geometry, rounded=rounded)


def box_to_pixels(
    box: Sequence[float], convention: str, geometry: ImageGeometry
) -> tuple[float, float, float, float]:
    """Convert a written box in ``convention`` to pixel-space ``(x0, y0, x1, y1)``.

    The corners are converted as written; they are not sorted.
    """
    if len(box) != 4:
        raise ValueError(f"a box needs 4 numbers, got {len(box)}")
    (x0, y0), (x1, y1) = points_to_pixels([box[:2], box[2:]], convention, geometry)
    return float(x0), float(y0), float(x1), float(y1)


def box_from_pixels(
    box: Sequence[float], convention: str, geometry: ImageGeometry, *, rounded: bool = True
) -> tuple[float, float, float, float]:
    """Write a pixel-space box ``(x0, y0, x1, y1)`` in ``convention`` (e.g. for prompts/tests)."""
    if len(box) != 4:
        raise ValueError(f"a box needs 4 numbers, got {len(box)}")
    rows = points_from_pixels([box[:2], box[2:]], convention, geometry, rounded=rounded)
    a, b, c, d = (_python_number(v, convention, rounded) for v in rows.reshape(-1))
    return a, b, c, d


def _python_number(value: float, convention: str, rounded: bool) -> float:
    """Return an int for integer conventions when rounded (so JSON shows ``120`` not ``120.0``)."""
    if rounded and _DECIMALS[parse_convention(convention).scale] == 0:
        return int(value)
    return float(value)


_SCALE_WORDS: dict[str, str] = {
    "norm1000": (
        "integers from 0 to 1000 normalised to the image size (0 is the left or top edge, "
        "1000 the right or bottom edge)"
    ),
    "norm1": (
        "decimal fractions from 0.0 to 1.0 of the image size (0.0 is the left or top edge, "
        "1.0 the right or bottom edge)"
    ),
    "percent": (
        "percentages from 0 to 100 of the image size (0 is the left or top edge, "
        "100 the right or bottom edge), written as plain numbers without a % sign"
    ),
    "pixel": "integer pixel coordinates of the original image",
}


def describe(convention: str, geometry: ImageGeometry | None = None) -> str:
    """State a convention in words, for prompts that ask a model to answer in it."""
    spec = parse_convention(convention)
    is_box = convention in BOX_CONVENTIONS
    if spec.order == "xy":
        shape = "[x_min, y_min, x_max, y_max]" if is_box else "[x, y]"
    else:
        shape = "[y_min, x_min, y_max, x_max]" if is_box else "[y, x]"
    what = "a bounding box" if is_box else "a point (a polygon is a list of such points)"
    scale = _SCALE_WORDS[spec.scale]
    if spec.scale == "pixel" and geometry is not None:
        scale += f" (the image is {geometry.width} pixels wide and {geometry.height} pixels high)"
    return (
        f"Write {what} as a JSON array {shape} using {scale}. "
        "x runs from left to right and y from top to bottom; the origin is the top-left corner."
    )
