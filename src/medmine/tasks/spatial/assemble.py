"""Assembly of the final answer: convention, pixel conversion, labels and item count."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from medmine.tasks.coords import ImageGeometry, convention_name, parse_convention
from medmine.tasks.spatial.answer import (
    PLURAL_KINDS,
    Box,
    Point,
    Polygon,
    Reading,
    SpatialAnswer,
)
from medmine.tasks.spatial.convention import stated_form, stated_order, stated_scale
from medmine.tasks.spatial.pixels import Tally, box_from_raw, point_from_raw, polygon_from_raw
from medmine.tasks.spatial.raw import Found, RawItem
from medmine.tasks.spatial.scale import ScaleDecision, decide_fixed, decide_scale
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
    _apply_stated_form(raws, text, found.span, tally)
    spec = parse_convention(expected)
    text_order = stated_order(text, spec.order, found.span)
    orders = [raw.order or text_order for raw in raws]
    stated = stated_scale(text, geometry, found.span)
    decision = _decide(raws, orders, spec.scale, geometry, stated)
    if decision.why:
        prefix = (
            ""
            if decision.scale == spec.scale
            else (f"read as {decision.scale} instead of the expected {spec.scale}: ")
        )
        tally.notes.append(prefix + decision.why if prefix else decision.why)
    read = _convert(raws, orders, decision.scale, kind, family, geometry, labels, tally)
    alternatives = tuple(
        _alternative(raws, orders, rival, kind, family, geometry, labels)
        for rival in decision.rivals
    )
    if decision.fixed_overflow:
        names = ", ".join(a.convention for a in alternatives)
        tally.notes.append(
            f"ambiguous scale: the format's 0..1000 reading ({names}) is kept as the "
            f"alternative; readings differ by up to {decision.disagreement_px:.0f} px"
        )
    elif decision.ambiguous:
        names = ", ".join(a.convention for a in alternatives)
        tally.notes.append(
            f"ambiguous scale: read as {decision.scale} (nothing states the scale), but the "
            f"numbers also fit {names}; readings differ by up to {decision.disagreement_px:.0f} px"
        )
    if tally.n_clamped:
        tally.notes.append(f"{tally.n_clamped} values outside the image clamped to its edges")
    kept = len(read.boxes) + len(read.polygons) + len(read.points)
    if kept == 0:
        return SpatialAnswer(
            status="unparseable",
            convention_seen="|".join(read.seen) or "none",
            n_clamped=tally.n_clamped,
            notes=(*tally.notes, "no valid geometry left"),
        )
    if read.dropped:
        tally.repaired = True
    boxes, polygons, points = read.boxes, read.polygons, read.points
    if kind not in PLURAL_KINDS and kept > 1:
        tally.repaired = True
        tally.notes.append(f"{kept} items given for kind {kind!r}; kept one")
        boxes, polygons, points = _keep_one(boxes), polygons[:1], points[:1]
    return SpatialAnswer(
        status="repaired" if tally.repaired else "ok",
        boxes=tuple(boxes),
        polygons=tuple(polygons),
        points=tuple(points),
        convention_seen="|".join(read.seen),
        n_clamped=tally.n_clamped,
        notes=tuple(tally.notes),
        ambiguous=decision.ambiguous,
        alternatives=alternatives,
        ambiguity_px=round(decision.disagreement_px, 3) if decision.ambiguous else 0.0,
    )


def _decide(
    raws: list[RawItem],
    orders: list[str],
    asked: str,
    geometry: ImageGeometry,
    stated: tuple[str, str] | None,
) -> ScaleDecision:
    """The scale decision, with formats that fix their own scale (``RawItem.fixed``) first.

    A stated scale overrides the ``box_2d`` key (a key is a name the prompt may have asked
    for) but not model tokens. When every item is in a fixed-scale format,
    :func:`decide_fixed` decides; fixed items mixed with plain numbers keep their 0..1000
    reading as percent and the plain numbers are decided as usual.
    """
    if stated is not None:
        for raw in raws:
            if raw.fixed == "key":
                raw.fixed = None
    if raws and all(raw.fixed for raw in raws):
        return decide_fixed(raws, orders, geometry)
    for raw in raws:
        if raw.fixed:
            raw.values = raw.values / 10.0
            raw.units = ("%",) * raw.values.size
            raw.fixed = None
    return decide_scale(raws, orders, asked, geometry, *(stated if stated else (None, "")))


@dataclass
class _Converted:
    """Items of one answer converted to pixels in one scale."""

    boxes: list[Box] = field(default_factory=list)
    polygons: list[Polygon] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    dropped: int = 0


def _convert(
    raws: list[RawItem],
    orders: list[str],
    scale: str,
    kind: str,
    family: str,
    geometry: ImageGeometry,
    labels: tuple[str, ...] | None,
    tally: Tally,
) -> _Converted:
    """Convert every raw item to a pixel box, polygon or point read in ``scale``."""
    out = _Converted()
    shape_name = "box" if family == "box" else "point"
    for idx, (raw, order) in enumerate(zip(raws, orders, strict=True), start=1):
        name = convention_name(scale, order, shape_name)  # type: ignore[arg-type]
        if raw.units is not None and all(u == "%" for u in raw.units):
            name = convention_name("percent", order, shape_name)  # type: ignore[arg-type]
        elif raw.units is not None and all(u == "px" for u in raw.units):
            name = convention_name("pixel", order, shape_name)  # type: ignore[arg-type]
        if raw.form == "cxcywh":
            name += "+center_size"
        elif raw.form == "xywh":
            name += "+corner_size"
        if name not in out.seen:
            out.seen.append(name)
        if family == "box":
            box = box_from_raw(raw, idx, scale, order, geometry, tally)
            if box is not None and kind == "labelled_boxes" and box.label is None:
                tally.notes.append(f"item {idx}: box has no label")
            if box is not None:
                out.boxes.append(_with_label(box, _map_label(box.label, labels, tally)))
            out.dropped += box is None
        elif family == "polygon":
            poly = polygon_from_raw(raw, idx, scale, order, geometry, tally)
            if poly is not None:
                out.polygons.append(poly)
            out.dropped += poly is None
        else:
            pt = point_from_raw(raw, idx, scale, order, geometry, tally)
            if pt is not None:
                out.points.append(pt)
            out.dropped += pt is None
    return out


def _alternative(
    raws: list[RawItem],
    orders: list[str],
    scale: str,
    kind: str,
    family: str,
    geometry: ImageGeometry,
    labels: tuple[str, ...] | None,
) -> Reading:
    """The same items read in another scale (notes of this reading are not kept)."""
    conv = _convert(raws, orders, scale, kind, family, geometry, labels, Tally())
    boxes, polygons, points = conv.boxes, conv.polygons, conv.points
    if kind not in PLURAL_KINDS:
        boxes, polygons, points = _keep_one(boxes), polygons[:1], points[:1]
    return Reading("|".join(conv.seen), tuple(boxes), tuple(polygons), tuple(points))


def _apply_stated_form(
    raws: list[RawItem], text: str, span: tuple[int, int] | None, tally: Tally
) -> None:
    """Bare 4-number boxes follow the layout the answer names ("COCO [x, y, w, h]",
    "[x_min, x_max, y_min, y_max]").

    Only lists without named keys or a known format (their ``order`` unset) are changed.
    """
    form = stated_form(text, span)
    if form is None or form[0] == "xyxy":
        return
    changed = 0
    for raw in raws:
        if raw.shape == "box" and raw.form == "xyxy" and raw.order is None:
            if form[0] == "xxyy":  # [x0, x1, y0, y1] -> corners
                idx = [0, 2, 1, 3]
                raw.values = raw.values[idx]
                raw.units = None if raw.units is None else tuple(raw.units[i] for i in idx)
                raw.order = "xy"
            else:
                raw.form = form[0]  # type: ignore[assignment]
            changed += 1
    if changed:
        tally.notes.append(f"box layout {form[0]} read from the answer ({form[1]!r})")


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


def _label_key(label: str) -> str:
    """A label compared case-, spacing-, hyphen- and plural-insensitively ("Polyps" = "polyp")."""
    key = re.sub(r"[\s_\-]+", " ", label).strip().casefold()
    if len(key) > 4 and key.endswith("ies"):
        return key[:-3] + "y"
    if len(key) > 3 and key.endswith("es") and key[-3] in "sxz":
        return key[:-2]
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        return key[:-1]
    return key


def _map_label(label: str | None, labels: Sequence[str] | None, tally: Tally) -> str | None:
    """Map a label onto the allowed labels (case, spacing, plural, or the one allowed label it
    names among other words); keep unknown ones, noted."""
    if label is None or labels is None:
        return label
    key = _label_key(label)
    for allowed in labels:
        if _label_key(allowed) == key:
            return allowed
    if key.isdigit() and int(key) < len(labels):  # a YOLO class index into the prompt's list
        tally.notes.append(f"class index {key} read as {labels[int(key)]!r}")
        return labels[int(key)]
    words = " ".join(_label_key(w) for w in key.split())
    inside = [a for a in labels if re.search(rf"\b{re.escape(_label_key(a))}\b", words)]
    if len(inside) == 1:  # "Polyp A", "the polyp", "sessile polyps" name one allowed label
        tally.notes.append(f"label {label!r} read as {inside[0]!r}")
        return inside[0]
    tally.notes.append(f"label {label!r} is not one of the given labels; kept as given")
    return label
