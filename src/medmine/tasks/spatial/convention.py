"""Convention detection: which scale and axis order an answer's numbers are written in."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from medmine.tasks.spatial.raw import RawItem

_PIXEL_STATED = re.compile(
    r"\b(?:in|as)\s+(?:absolute\s+)?pixels?\b|\bpixel\s+(?:coordinates|values|units)\b|"
    r"\d\s*px\b",
    re.IGNORECASE,
)
_PERCENT_STATED = re.compile(
    r"\b(?:in|as)\s+percent(?:age)?s?\b|\bpercent(?:age)?s?\s+of\s+the\s+image\b",
    re.IGNORECASE,
)
_YX_STATED = re.compile(
    r"\by_?min\s*,\s*x_?min\b|\(\s*y\s*,\s*x\s*\)|\[\s*y\s*,\s*x\s*\]|\by\s*,\s*x\s+order\b",
    re.IGNORECASE,
)


def stated_scale(text: str) -> str | None:
    """The scale the answer text states in words ("in pixels", "120px", "percent"), else None."""
    if _PIXEL_STATED.search(text):
        return "pixel"
    if _PERCENT_STATED.search(text):
        return "percent"
    return None


def stated_order(text: str, default: str) -> str:
    """'yx' when the answer text spells a y-first layout, else ``default``."""
    return "yx" if _YX_STATED.search(text) else default


def decide_scale(raws: Sequence[RawItem], expected: str, stated: str | None) -> tuple[str, str]:
    """Choose one scale for an answer's unit-less numbers; return (scale, reason)."""
    chunks = []
    decimal = False
    for r in raws:
        vals = r.values if r.units is None else r.values[[u is None for u in r.units]]
        vals = vals[np.isfinite(vals)]
        if vals.size:
            chunks.append(np.abs(vals))
            decimal = decimal or r.has_decimal
    if not chunks:
        return expected, ""
    vmax = float(max(c.max() for c in chunks))
    if stated is not None:
        return stated, f"the answer states {stated} values"
    if vmax > 1000:
        return "pixel", f"values up to {vmax:g} exceed 1000"
    if vmax <= 1.0 and (decimal or expected == "norm1"):
        return "norm1", "all values lie within 0..1"
    if expected == "norm1":
        return "norm1000", f"values up to {vmax:g} exceed 1 but not 1000"
    if expected == "percent" and vmax > 100:
        return "norm1000", f"values up to {vmax:g} exceed 100 but not 1000"
    return expected, ""
