"""Assembly of the final answer: convention, pixel conversion, labels and item count."""

from __future__ import annotations

import re
from collections.abc import Sequence

from medmine.tasks.coords import ImageGeometry, convention_name, parse_convention
from medmine.tasks.spatial.answer import PLURAL_KINDS, Box, Point, Polygon, SpatialAnswer
from medmine.tasks.spatial.convention import decide_scale, stated_order, stated_scale
from medmine.tasks.spatial.pixels import Tally, box_from_raw, point_from_raw, polygon_from_raw
from medmine.tasks.spatial.raw import Found
from medmine.tasks.spatial.shapes import convert_shape


def assemble(
    found: Found,
    kind: str,
    family: str,
    geometry: ImageGeometry,
    expected: str,
    labels: tuple[str, ...] | None,
    text: str,
    notes: list[str],
) -> SpatialAnswer:
    """Decide the convention, convert items to pixels, validate and build the answer."""
    tally = Tally(notes=notes)
    if found.truncated:
        tally.repaired = True
        tally.notes.append("truncated JSON closed after its last complete element")
    elif found.relaxed:
        tally.notes.append("read as relaxed JSON (quotes, tuples, commas or units fixed)")
    raws = convert_shape(found.raws, family, tally)
    spec = parse_convention(expected)
    scale, why = decide_scale(raws, spec.scale, stated_scale(text))
    if scale != spec.scale:
        tally.notes.append(f"read as {scale} instead of the expected {spec.scale}: {why}")
    text_order = stated_order(text, spec.order)
    seen: list[str] = []
    boxes: list[Box] = []
    polygons: list[Polygon] = []
    points: list[Point] = []
    dropped = 0
    for idx, raw in enumerate(raws, start=1):
        order = raw.order or text_order
        shape_name = "box" if family == "box" else "point"
        name = convention_name(scale, order, shape_name)  # type: ignore[arg-type]
        if raw.units is not None and all(u == "%" for u in raw.units):
            name = convention_name("percent", order, shape_name)  # type: ignore[arg-type]
        if raw.form == "cxcywh":
            name += "+center_size"
        elif raw.form == "xywh":
            name += "+corner_size"
        if name not in seen:
            seen.append(name)
        if family == "box":
            box = box_from_raw(raw, idx, scale, order, geometry, tally)
            if box is not None and kind == "labelled_boxes" and box.label is None:
                tally.notes.append(f"item {idx}: box has no label")
            if box is not None:
                boxes.append(_with_label(box, _map_label(box.label, labels, tally)))
            dropped += box is None
        elif family == "polygon":
            poly = polygon_from_raw(raw, idx, scale, order, geometry, tally)
            if poly is not None:
                polygons.append(poly)
            dropped += poly is None
        else:
            pt = point_from_raw(raw, idx, scale, order, geometry, tally)
            if pt is not None:
                points.append(pt)
            dropped += pt is None
    if tally.n_clamped:
        tally.notes.append(f"{tally.n_clamped} values outside the image clamped to its edges")
    kept = len(boxes) + len(polygons) + len(points)
    if kept == 0:
        return SpatialAnswer(
            status="unparseable",
            convention_seen="|".join(seen) or "none",
            n_clamped=tally.n_clamped,
            notes=(*tally.notes, "no valid geometry left"),
        )
    if dropped:
        tally.repaired = True
    if kind not in PLURAL_KINDS and kept > 1:
        tally.repaired = True
        tally.notes.append(f"{kept} items given for kind {kind!r}; kept one")
        boxes, polygons, points = _keep_one(boxes), polygons[:1], points[:1]
    return SpatialAnswer(
        status="repaired" if tally.repaired else "ok",
        boxes=tuple(boxes),
        polygons=tuple(polygons),
        points=tuple(points),
        convention_seen="|".join(seen),
        n_clamped=tally.n_clamped,
        notes=tuple(tally.notes),
    )


def _with_label(box: Box, label: str | None) -> Box:
    """Return ``box`` with another label."""
    if label == box.label:
        return box
    return Box(box.x0, box.y0, box.x1, box.y1, label=label, score=box.score)


def _keep_one(boxes: list[Box]) -> list[Box]:
    """Keep the highest-scoring box if every box has a score, else the first."""
    if not boxes:
        return boxes
    if all(b.score is not None for b in boxes):
        return [max(boxes, key=lambda b: b.score or 0.0)]
    return boxes[:1]


def _map_label(label: str | None, labels: Sequence[str] | None, tally: Tally) -> str | None:
    """Map a label case-insensitively onto the allowed labels; keep unknown ones, noted."""
    if label is None or labels is None:
        return label
    key = re.sub(r"[\s_\-]+", " ", label).strip().casefold()
    for allowed in labels:
        if re.sub(r"[\s_\-]+", " ", allowed).strip().casefold() == key:
            return allowed
    tally.notes.append(f"label {label!r} is not one of the given labels; kept as given")
    return label
