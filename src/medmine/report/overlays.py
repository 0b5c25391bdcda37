"""Overlay pictures for the report gallery: an image with its ground truth and a prediction.

Ground truth is drawn in green (mask contour, boxes, point), the prediction in magenta
(polygons, boxes, points), with a small legend in the bottom-left corner and class labels on
boxes. ``prediction_value`` is the pixel-space dict a spatial task stores in
``Prediction.value`` (keys ``polygons``, ``boxes``, ``points``); everything is scaled down
with the image so its longer side is at most ``max_edge``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from medmine.core import BoxesTarget, LandmarkTarget, MaskTarget, Target
from medmine.tasks.segmentation import target_mask

GT_COLOUR = (0, 255, 0)
PRED_COLOUR = (255, 0, 255)
TASK_KINDS = ("segmentation", "localization", "detection")


def _open_rgb(image_path: Path) -> Image.Image:
    """The image as RGB (16-bit and float greys stretched to 0..255)."""
    try:
        with Image.open(image_path) as im:
            im.load()
            if im.mode in ("I", "I;16", "I;16B", "F"):
                arr = np.asarray(im, dtype=np.float64)
                lo, hi = float(arr.min()), float(arr.max())
                im = Image.fromarray(((arr - lo) / (hi - lo or 1.0) * 255).astype(np.uint8))
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{image_path}: cannot read image ({exc})") from exc


def _contour(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean mask (foreground with a background 4-neighbour)."""
    p = np.pad(mask, 1)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~inner


def _draw_mask_contour(canvas: Image.Image, mask: np.ndarray, colour: tuple[int, int, int]) -> None:
    """Paint the contour of a mask (resized to the canvas, nearest) in ``colour``, 2 px wide."""
    small = Image.fromarray(mask.astype(np.uint8) * 255).resize(canvas.size, Image.NEAREST)
    m = np.asarray(small) > 127
    edge = _contour(m)
    edge |= np.pad(edge, ((0, 0), (1, 0)))[:, :-1] | np.pad(edge, ((1, 0), (0, 0)))[:-1, :]
    arr = np.asarray(canvas).copy()
    arr[edge] = colour
    canvas.paste(Image.fromarray(arr))


def _draw_box(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    scale: float,
    colour: tuple[int, int, int],
    label: str | None,
) -> None:
    """A box outline (scaled), with its label above it when given."""
    x0, y0, x1, y1 = (v * scale for v in box)
    draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=colour, width=2)
    if label:
        draw.text((x0 + 2, max(0.0, y0 - 11)), label, fill=colour)


def _draw_point(
    draw: ImageDraw.ImageDraw,
    point: tuple[float, float],
    scale: float,
    colour: tuple[int, int, int],
) -> None:
    """A cross marking a point (scaled)."""
    x, y = point[0] * scale, point[1] * scale
    r = 5
    draw.line([x - r, y, x + r, y], fill=colour, width=2)
    draw.line([x, y - r, x, y + r], fill=colour, width=2)


def _draw_target(
    canvas: Image.Image, draw: ImageDraw.ImageDraw, target: Target, scale: float
) -> None:
    """Ground truth in green: mask contour, landmark box and point, or labelled boxes."""
    if isinstance(target, MaskTarget):
        _draw_mask_contour(canvas, target_mask(target), GT_COLOUR)
    elif isinstance(target, LandmarkTarget):
        if target.box is not None:
            b = target.box
            _draw_box(draw, (b.x0, b.y0, b.x1, b.y1), scale, GT_COLOUR, target.structure)
        if target.point is not None:
            _draw_point(draw, target.point, scale, GT_COLOUR)
    elif isinstance(target, BoxesTarget):
        for b in target.boxes:
            _draw_box(draw, (b.x0, b.y0, b.x1, b.y1), scale, GT_COLOUR, b.label)
    else:
        raise ValueError(f"cannot draw a {type(target).__name__} target (not a spatial target)")


def _draw_prediction(
    draw: ImageDraw.ImageDraw, value: Mapping[str, Any] | None, scale: float
) -> None:
    """The prediction in magenta: polygon outlines, boxes with labels, points."""
    if not value:
        return
    for poly in value.get("polygons") or []:
        pts = [(float(x) * scale, float(y) * scale) for x, y in poly]
        if len(pts) >= 2:
            draw.line([*pts, pts[0]], fill=PRED_COLOUR, width=2)
    for item in value.get("boxes") or []:
        box = item["box"] if isinstance(item, Mapping) else item
        label = item.get("label") if isinstance(item, Mapping) else None
        x0, y0, x1, y1 = (float(v) for v in box)
        _draw_box(draw, (x0, y0, x1, y1), scale, PRED_COLOUR, label)
    for x, y in value.get("points") or []:
        _draw_point(draw, (float(x), float(y)), scale, PRED_COLOUR)


def _draw_legend(draw: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    """A small legend in the bottom-left corner: green ground truth, magenta prediction."""
    _, h = size
    x, y = 4, h - 30
    draw.rectangle([x - 2, y - 2, x + 86, y + 26], fill=(0, 0, 0))
    for i, (colour, text) in enumerate(((GT_COLOUR, "ground truth"), (PRED_COLOUR, "prediction"))):
        yy = y + 2 + 12 * i
        draw.rectangle([x + 1, yy + 1, x + 9, yy + 8], fill=colour)
        draw.text((x + 13, yy - 1), text, fill=(255, 255, 255))


def render_overlay(
    image_path: str | Path,
    target: Target,
    prediction_value: Mapping[str, Any] | None,
    task_kind: str,
    out_path: str | Path,
    max_edge: int = 512,
) -> Path:
    """Write a PNG of the image with its ground truth (green) and prediction (magenta).

    The image is scaled down (never up) so its longer side is at most ``max_edge``; the
    geometry is scaled with it. ``task_kind`` is one of ``segmentation``, ``localization``,
    ``detection``. Returns the path written.
    """
    if task_kind not in TASK_KINDS:
        raise ValueError(f"task_kind must be one of {', '.join(TASK_KINDS)}, got {task_kind!r}")
    if isinstance(max_edge, bool) or not isinstance(max_edge, int) or max_edge < 16:
        raise ValueError(f"max_edge must be an integer >= 16, got {max_edge!r}")
    image = _open_rgb(Path(image_path))
    w, h = image.size
    scale = min(1.0, max_edge / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    canvas = image.resize(size, Image.BILINEAR) if size != (w, h) else image.copy()
    draw = ImageDraw.Draw(canvas)
    _draw_target(canvas, draw, target, scale)
    draw = ImageDraw.Draw(canvas)  # the mask contour pastes new pixels
    _draw_prediction(draw, prediction_value, scale)
    _draw_legend(draw, size)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, format="PNG")
    return out
