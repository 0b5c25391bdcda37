"""The public result types of the spatial parser: boxes, polygons, points and the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Kind = Literal["box", "boxes", "polygon", "polygons", "point", "labelled_boxes"]
Status = Literal["ok", "repaired", "refused", "unparseable"]
Point = tuple[float, float]
Polygon = tuple[Point, ...]

KINDS: tuple[str, ...] = get_args(Kind)
PLURAL_KINDS = frozenset({"boxes", "polygons", "labelled_boxes"})
FAMILY: dict[str, str] = {
    "box": "box",
    "boxes": "box",
    "labelled_boxes": "box",
    "polygon": "polygon",
    "polygons": "polygon",
    "point": "point",
}


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel space of the original image (x0 <= x1, y0 <= y1)."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class Reading:
    """Another reading of the same numbers, in another scale (kept for ambiguous answers)."""

    convention: str
    boxes: tuple[Box, ...] = ()
    polygons: tuple[Polygon, ...] = ()
    points: tuple[Point, ...] = ()


@dataclass(frozen=True)
class SpatialAnswer:
    """What ``parse_spatial`` read from one answer, all geometry in pixel space.

    ``ambiguous`` is True when the scale of the numbers cannot be known (they fit the asked
    scale and another one, e.g. this image's pixels, and nothing states which): the geometry is
    then the asked reading, ``alternatives`` holds the other reading(s) and ``ambiguity_px``
    how far apart they are at most (24 px for a 0..1000 box on a 1024 px image, hundreds of
    pixels on a 600 px one).
    """

    status: Status
    boxes: tuple[Box, ...] = ()
    polygons: tuple[Polygon, ...] = ()
    points: tuple[Point, ...] = ()
    convention_seen: str = "none"
    n_clamped: int = 0
    notes: tuple[str, ...] = ()
    ambiguous: bool = False
    alternatives: tuple[Reading, ...] = ()
    ambiguity_px: float = 0.0  # largest distance between this reading and an alternative
