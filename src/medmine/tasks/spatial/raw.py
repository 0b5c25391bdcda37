"""Raw items: geometry as written (numbers, units, form, order), before any scale decision."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from medmine.tasks.spatial.keys import SIZE_KEYS


@dataclass
class RawItem:
    """One geometry item as written: numbers, per-number units, form and known order."""

    shape: Literal["box", "point", "polygon"]
    values: np.ndarray
    units: tuple[str | None, ...] | None = None
    has_decimal: bool = False
    form: Literal["xyxy", "xywh", "cxcywh"] = "xyxy"
    order: str | None = None
    label: str | None = None
    score: float | None = None
    converted_from: str | None = None
    # a format whose scale is 0..1000 by definition: "token" (Qwen2-VL, InternVL <box>) or
    # "key" (Gemini's box_2d); see medmine.tasks.spatial.scale.decide_fixed
    fixed: Literal["token", "key"] | None = None


@dataclass
class Found:
    """Items and flags gathered from one source (a block, a span, or prose)."""

    raws: list[RawItem] = field(default_factory=list)
    explicit_empty: bool = False
    notes: list[str] = field(default_factory=list)
    truncated: bool = False
    relaxed: bool = False
    span: tuple[int, int] | None = None  # where in the answer text the items were read


_NUM_STR = re.compile(
    r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))"
    r"\s*(%|px|pixels?)?\s*$",
    re.IGNORECASE,
)


def coerce(value: Any) -> tuple[float, str | None, bool] | None:
    """Read a JSON scalar as (number, unit, written-with-decimal) or None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value), None, False
        except OverflowError:  # an integer beyond float range is as unusable as infinity
            return (math.inf if value > 0 else -math.inf), None, False
    if isinstance(value, float):
        return value, None, True
    if isinstance(value, str):
        m = _NUM_STR.match(value)
        if m is None:
            return None
        text, unit = m.group(1), m.group(2)
        unit = "%" if unit == "%" else ("px" if unit else None)
        return float(text), unit, "." in text or "e" in text.lower()
    return None


def read_numbers(seq: Any) -> RawItem | None:
    """Read a flat list of numbers into a raw item (shape filled in by the caller)."""
    if not isinstance(seq, list) or not seq:
        return None
    if all(type(v) is float or (type(v) is int and abs(v) < 2**53) for v in seq):
        arr = np.array(seq, dtype=np.float64)
        return RawItem("box", arr, None, any(type(v) is float for v in seq))
    vals: list[float] = []
    units: list[str | None] = []
    dec = False
    for v in seq:
        c = coerce(v)
        if c is None:
            return None
        vals.append(c[0])
        units.append(c[1])
        dec = dec or c[2]
    unit_t = tuple(units) if any(u is not None for u in units) else None
    return RawItem("box", np.array(vals, dtype=np.float64), unit_t, dec)


def read_pairs(seq: Any) -> RawItem | None:
    """Read a list of 2-number lists or ``{x, y}`` dicts into one flattened raw item."""
    if not isinstance(seq, list) or not seq:
        return None
    first = seq[0]
    if isinstance(first, dict):
        flat: list[Any] = []
        for item in seq:
            if not isinstance(item, dict):
                return None
            low = lower_keys(item)
            if "x" not in low or "y" not in low or any(k in low for k in SIZE_KEYS):
                return None
            flat += [low["x"], low["y"]]
        raw = read_numbers(flat)
        if raw is not None:
            raw.order = "xy"
        return raw
    if not all(isinstance(v, list) and len(v) == 2 for v in seq):
        return None
    flat = [c for pair in seq for c in pair]
    return read_numbers(flat)


_UNIT_SUFFIX = re.compile(r"_(?:in_)?(?:px|pixels?|norm(?:ali[sz]ed)?|1000|pct|percent)$")


def lower_keys(d: dict[Any, Any]) -> dict[str, Any]:
    """Map a dict's string keys to lower case, spaces and dashes as underscores, unit suffix off.

    ``bbox_px`` and ``x_min_pixels`` become ``bbox`` and ``x_min``: the unit a key names is read
    from the answer text as a stated scale (see :mod:`medmine.tasks.spatial.units`).
    """
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(k, str):
            key = re.sub(r"[\s\-]+", "_", k.strip().lower())
            out.setdefault(_UNIT_SUFFIX.sub("", key) or key, v)
    return out


def first_present(low: dict[str, Any], keys: Sequence[str]) -> Any:
    """Return the value of the first key present in ``low``, else None."""
    for k in keys:
        if k in low:
            return low[k]
    return None
