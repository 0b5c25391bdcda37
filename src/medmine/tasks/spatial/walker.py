"""Collect raw geometry items from a parsed JSON value, guided by its keys."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from medmine.tasks.spatial.keys import (
    BOX_KEYS,
    CENTER_X,
    CENTER_Y,
    CORNER_KEY_SETS,
    HEIGHT,
    LABEL_KEYS,
    POINT_KEYS,
    POLY_KEYS,
    SCORE_KEYS,
    SIZE_PAIRS,
    WIDTH,
    WRAPPER_KEYS,
    X_SPANS,
    Y_SPANS,
    YX_KEYS,
)
from medmine.tasks.spatial.raw import (
    Found,
    RawItem,
    coerce,
    first_present,
    lower_keys,
    read_numbers,
    read_pairs,
)
from medmine.tasks.spatial.relaxed_json import loads_relaxed

MAX_DEPTH = 60


class Walker:
    """Collect raw geometry items from a parsed JSON value for one geometry family."""

    def __init__(self, family: str, label_keys_as_labels: bool) -> None:
        """Prepare a walk for ``family`` ('box', 'polygon' or 'point')."""
        self.family = family
        self.label_keys_as_labels = label_keys_as_labels
        self.found = Found()

    def walk(self, value: Any, label: str | None = None, depth: int = 0) -> None:
        """Visit ``value`` and record every geometry item found in it."""
        if depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            self._dict(value, label, depth)
        elif isinstance(value, list):
            self._list(value, label, depth)

    def add(self, raw: RawItem | None, shape: str, label: str | None, **kw: Any) -> bool:
        """Record ``raw`` as an item of ``shape`` if it was readable."""
        if raw is None:
            return False
        raw.shape = shape  # type: ignore[assignment]
        raw.label = label if raw.label is None else raw.label
        for k, v in kw.items():
            if v is not None:
                setattr(raw, k, v)
        self.found.raws.append(raw)
        return True

    def _list(self, seq: list[Any], label: str | None, depth: int) -> None:
        """Read a list: bare numbers, a list of pairs, or a list of further items."""
        if not seq:
            self.found.explicit_empty = True
            return
        nums = read_numbers(seq)
        if nums is not None:
            self.bare_numbers(nums, label)
            return
        pairs = read_pairs(seq)
        if pairs is not None:
            self._bare_pairs(pairs, label)
            return
        for item in seq:
            self.walk(item, label, depth + 1)

    def bare_numbers(self, raw: RawItem, label: str | None, order: str | None = None) -> None:
        """Interpret a flat number list by its length and the family asked for."""
        n = raw.values.size
        if n == 4:
            self.add(raw, "box", label, order=order)
        elif n == 2:
            self.add(raw, "point", label, order=order)
        elif n >= 6 and n % 2 == 0 and self.family == "polygon":
            self.add(raw, "polygon", label, order=order)
        else:
            self.found.notes.append(f"ignored a list of {n} numbers (not a {self.family})")

    def _bare_pairs(self, raw: RawItem, label: str | None, order: str | None = None) -> None:
        """Interpret a list of (x, y) pairs: corners of a box, points, or a polygon."""
        n_pairs = raw.values.size // 2
        if self.family == "box" and n_pairs == 2:
            self.add(raw, "box", label, order=order)
        elif self.family == "point":
            for i in range(n_pairs):
                sub = RawItem(
                    "point",
                    raw.values[2 * i : 2 * i + 2].copy(),
                    None if raw.units is None else raw.units[2 * i : 2 * i + 2],
                    raw.has_decimal,
                    order=raw.order,
                )
                self.add(sub, "point", label, order=order)
        else:
            self.add(raw, "polygon", label, order=order)

    def _label_of(self, low: dict[str, Any], inherited: str | None) -> str | None:
        """The label an object carries, else the one inherited from an enclosing key."""
        value = first_present(low, LABEL_KEYS)
        if isinstance(value, str) and value.strip():
            return value.strip()
        return inherited

    def _dict(self, d: dict[Any, Any], inherited: str | None, depth: int) -> None:
        """Read an object: geometry keys first, then its values as nested items."""
        low = lower_keys(d)
        label = self._label_of(low, inherited)
        score_raw = first_present(low, SCORE_KEYS)
        score_c = coerce(score_raw) if score_raw is not None else None
        score = None
        if score_c is not None and math.isfinite(score_c[0]):
            score = score_c[0] / 100.0 if score_c[1] == "%" else score_c[0]
        before = len(self.found.raws)
        if self.family == "box":
            self._dict_box(low, label, depth)
        elif self.family == "polygon":
            self._dict_polygon(low, label, depth)
        else:
            self._dict_point(low, label, depth)
        if len(self.found.raws) == before:
            self._dict_other_shapes(low, label)
        if len(self.found.raws) > before:
            for raw in self.found.raws[before:]:
                if raw.score is None:
                    raw.score = score
            return
        for orig_key, value in d.items():
            key = re.sub(r"[\s\-]+", "_", str(orig_key).strip().lower())
            if (key in LABEL_KEYS or key in SCORE_KEYS) and not isinstance(value, list | dict):
                continue
            hint = label
            if self.label_keys_as_labels and key not in WRAPPER_KEYS and label is None:
                hint = str(orig_key).strip()
            self.walk(value, hint, depth + 1)

    def _value_geometry(self, value: Any, label: str | None, order: str | None, depth: int) -> bool:
        """Read the value under a geometry key; return whether anything was recorded."""
        if depth > MAX_DEPTH:
            return False
        before = len(self.found.raws)
        if isinstance(value, dict):
            self._dict(value, label, depth + 1)
        elif isinstance(value, list):
            if not value:
                self.found.explicit_empty = True
                return True
            nums = read_numbers(value)
            if nums is not None:
                self.bare_numbers(nums, label, order)
            else:
                pairs = read_pairs(value)
                if pairs is not None:
                    self._bare_pairs(pairs, label, order)
                else:
                    for item in value:
                        if isinstance(item, list):
                            self._value_geometry(item, label, order, depth + 1)
                        else:
                            self.walk(item, label, depth + 1)
        elif isinstance(value, str):
            # a JSON value, or SVG-style "310,270 620,280 ..." points without brackets
            inner = loads_relaxed(value) or loads_relaxed(f"[{value}]")
            if inner is not None:
                self._value_geometry(inner[0], label, order, depth + 1)
        return len(self.found.raws) > before

    def _named(self, low: dict[str, Any], keys: Sequence[str]) -> RawItem | None:
        """Read the numbers under exactly these keys, if all are present."""
        if not all(k in low for k in keys):
            return None
        return read_numbers([low[k] for k in keys])

    def _size(self, low: dict[str, Any]) -> tuple[Any, Any]:
        """Width and height: ``width``/``height`` keys or a ``size: [w, h]`` pair."""
        w, h = first_present(low, WIDTH), first_present(low, HEIGHT)
        pair = first_present(low, SIZE_PAIRS)
        if (w is None or h is None) and isinstance(pair, list) and len(pair) == 2:
            w, h = pair
        elif (w is None or h is None) and isinstance(pair, dict):
            p_low = lower_keys(pair)
            w, h = first_present(p_low, WIDTH), first_present(p_low, HEIGHT)
        return w, h

    def _center_size(self, low: dict[str, Any]) -> RawItem | None:
        """Read a centre-and-size box (cx/cy/w/h keys, or center + width/height or size)."""
        w, h = self._size(low)
        if w is None or h is None:
            return None
        cx, cy = first_present(low, CENTER_X), first_present(low, CENTER_Y)
        if cx is None or cy is None:
            center = first_present(low, ("center", "centre"))
            if isinstance(center, dict):
                c_low = lower_keys(center)
                cx, cy = c_low.get("x"), c_low.get("y")
            elif isinstance(center, list) and len(center) == 2:
                cx, cy = center
        if cx is None or cy is None:
            return None
        return read_numbers([cx, cy, w, h])

    def _dict_box(self, low: dict[str, Any], label: str | None, depth: int) -> None:
        """Find a box in an object by its keys."""
        for key in BOX_KEYS:
            if key in low:
                order = "yx" if key in YX_KEYS else ("xy" if key == "bbox_2d" else None)
                before = len(self.found.raws)
                if self._value_geometry(low[key], label, order, depth):
                    if key in YX_KEYS:  # Gemini's box_2d is 0..1000 by definition
                        for raw in self.found.raws[before:]:
                            raw.fixed = "key" if raw.units is None else None
                    return
        for keys in CORNER_KEY_SETS:
            if self.add(self._named(low, keys), "box", label, order="xy"):
                return
        if self.add(self._center_size(low), "box", label, form="cxcywh", order="xy"):
            return
        w, h = self._size(low)
        if "x" in low and "y" in low and w is not None and h is not None:
            raw = read_numbers([low["x"], low["y"], w, h])
            if self.add(raw, "box", label, form="xywh", order="xy"):
                return
        xs, ys = first_present(low, X_SPANS), first_present(low, Y_SPANS)
        spans = isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys) == 2
        # {"x": [x0, x1], "y": [y0, y1]}: one interval per axis, not two points
        if spans and self.add(read_numbers([xs[0], ys[0], xs[1], ys[1]]), "box", label, order="xy"):
            return
        tl = first_present(low, ("top_left", "topleft", "upper_left", "start", "p1"))
        br = first_present(low, ("bottom_right", "bottomright", "lower_right", "end", "p2"))
        tl_pt = _point_value(tl) if tl is not None else None
        if tl_pt is not None and br is None and w is not None and h is not None:
            raw = read_numbers([*tl_pt, w, h])
            if self.add(raw, "box", label, form="xywh", order="xy"):
                return
        if tl is not None and br is not None:
            corner_pts = [_point_value(tl), _point_value(br)]
            if all(p is not None for p in corner_pts):
                raw = read_numbers([*corner_pts[0], *corner_pts[1]])  # type: ignore[misc]
                self.add(raw, "box", label)

    def _dict_polygon(self, low: dict[str, Any], label: str | None, depth: int) -> None:
        """Find a polygon in an object by its keys."""
        for key in POLY_KEYS:
            if key in low and self._value_geometry(low[key], label, None, depth):
                return

    def _dict_point(self, low: dict[str, Any], label: str | None, depth: int) -> None:
        """Find a point in an object by its keys."""
        for key in POINT_KEYS:
            if key in low and self._value_geometry(low[key], label, None, depth):
                return
        if "x" in low and "y" in low:
            self.add(read_numbers([low["x"], low["y"]]), "point", label, order="xy")

    def _dict_other_shapes(self, low: dict[str, Any], label: str | None) -> None:
        """Fallback: an object holding another shape than the family asked for."""
        for family in ("box", "polygon", "point"):
            if family == self.family:
                continue
            saved, self.family = self.family, family
            try:
                before = len(self.found.raws)
                getattr(self, f"_dict_{family}")(low, label, MAX_DEPTH - 2)
                if len(self.found.raws) > before:
                    return
            finally:
                self.family = saved


def _point_value(value: Any) -> list[Any] | None:
    """Read ``[x, y]`` or ``{"x":.., "y":..}`` as a 2-list, else None."""
    if isinstance(value, list) and len(value) == 2:
        return value
    if isinstance(value, dict):
        low = lower_keys(value)
        if "x" in low and "y" in low:
            return [low["x"], low["y"]]
    return None
