"""The scale decision: which scale an answer's unit-less numbers are in, and whether it is known.

One decision per answer (numbers with their own ``%``/``px`` unit keep it). In this order:

1. **A stated scale wins** ("in pixels", "260 pixels", "0-1000", "normalized", "0-1", "%",
   ``"unit": "px"``, ``bbox_px``; see :mod:`medmine.tasks.spatial.units`). "normalized" alone
   means 0..1 when every number is within 0..1, else the asked scale if that is a normalised
   one, else 0..1000. (Pixels stated for numbers that are all 0..1 fractions would make a box
   smaller than a pixel; rule 2 reads them as 0..1.)
2. **0..1 fractions**: every number within 0..1 and one written with a decimal point -> 0..1
   (on any other scale the answer would be smaller than a pixel). Fractions overshooting
   the edge a little (every number within -0.2..1.2, e.g. ``1.02``) are 0..1 too, clamped.
3. **The asked scale**, when every number fits it (a value may overshoot a scale's range by
   1%; it is then clamped). When numbers do not fit it, another scale is used only on
   evidence: values *far* beyond the asked range (more than 20% past it, e.g. above 1200 for
   0..1000) in at least two places or in every item, *and* the other scale fitting every
   number. The other scale is pixels when 0..1000 was asked, 0..1000 (then pixels) when
   percent was asked, 0..1000 (then pixels, then percent) when 0..1 was asked, 0..1000 when
   pixels were asked; rule 4 then flags the answer if a further scale also fits. Anything
   less (one far value among several items, or values just past the edge, as a box
   overshooting the image would be) is not such evidence: the answer stays on the asked
   scale, those values are clamped (status ``repaired``), and if another scale fits every
   number, the answer is *ambiguous* with that reading recorded (the odds of rule 4 do not
   apply: values past the asked range are themselves evidence for the other scale). The
   answer's convention is never switched because of one value.
4. **Ambiguity**: after 1-3 (unless the scale was stated), each other scale that fits every
   number is a rival reading. A rival makes the answer ambiguous when its reading differs
   from the chosen one by more than 2 px somewhere and the numbers do not favour the chosen
   scale at least 4 to 1. The odds compare how much room each scale leaves for a number:
   per item ``(range_rival_x * range_rival_y) / (range_chosen_x * range_chosen_y)``, the
   ranges being 1000, 1, 100 or the image's width/height in pixels, multiplied over items.
   So 0..1000 numbers on a 4000x3000 image are not ambiguous (a pixel answer would have to sit
   in the top-left twelfth of the image, odds 12:1), the same numbers on an 800x600 image that
   also fit its pixels are (odds 0.48:1), and percent answers are never confused with pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medmine.tasks.coords import ImageGeometry, pixels_per_unit
from medmine.tasks.spatial.pixels import to_pixels
from medmine.tasks.spatial.raw import RawItem

OVERSHOOT = 0.01  # a value may exceed its scale's range by this fraction and still fit it
FAR = 0.20  # beyond this fraction a value cannot be a sloppy edge on the asked scale
AGREE_PX = 2.0  # readings closer than this everywhere are the same reading
MIN_ODDS = 4.0  # the numbers must favour the chosen scale this much over a rival
_FALLBACKS: dict[str, tuple[str, ...]] = {
    "norm1000": ("pixel",),
    "percent": ("norm1000", "pixel"),
    "norm1": ("norm1000", "pixel", "percent"),
    "pixel": ("norm1000",),
}
_RIVALS = ("norm1000", "pixel", "percent")
_LIMIT = {"norm1000": "1000", "norm1": "1", "percent": "100", "pixel": "the image size"}


@dataclass(frozen=True)
class ScaleDecision:
    """The scale chosen for an answer, why, and the rival scales that make it ambiguous."""

    scale: str
    why: str = ""
    rivals: tuple[str, ...] = ()
    disagreement_px: float = 0.0
    out_of_range: int = 0
    fixed_overflow: bool = False  # a fixed 0..1000 format's values exceed 1000 (decide_fixed)

    @property
    def ambiguous(self) -> bool:
        """True when another reading of the numbers cannot be ruled out."""
        return bool(self.rivals)


def _unitless(raw: RawItem) -> np.ndarray:
    """The finite numbers of an item that carry no unit of their own."""
    vals = raw.values if raw.units is None else raw.values[[u is None for u in raw.units]]
    return vals[np.isfinite(vals)]


def item_points(raw: RawItem, scale: str, order: str, geometry: ImageGeometry) -> np.ndarray:
    """The pixel points (corners or vertices) an item stands for when read in ``scale``."""
    vals = to_pixels(raw, scale, order, geometry)
    if raw.shape == "box" and vals.size == 4 and raw.form in ("xywh", "cxcywh"):
        a, b, c, d = vals
        if raw.form == "xywh":
            vals = np.array([a, b, a + c, b + d])
        else:
            vals = np.array([a - c / 2, b - d / 2, a + c / 2, b + d / 2])
    if vals.size % 2:
        vals = vals[:-1]
    return vals.reshape(-1, 2)


def _ranges(scale: str, geometry: ImageGeometry) -> tuple[float, float]:
    """Written units per image side of a scale (pixels: the side lengths)."""
    full = {"norm1000": 1000.0, "norm1": 1.0, "percent": 100.0}.get(scale)
    return (float(geometry.width), float(geometry.height)) if full is None else (full, full)


class _Readings:
    """The pixel points of every item of one answer under each scale, stacked in one array.

    Items without units of their own are converted once to written units (x first, corners
    of centre/size boxes worked out); a scale is then one multiplication by its pixels per
    unit. Items with per-number units are converted per scale.
    """

    def __init__(
        self, raws: Sequence[RawItem], orders: Sequence[str], geometry: ImageGeometry
    ) -> None:
        kept = [(r, o) for r, o in zip(raws, orders, strict=True) if _unitless(r).size]
        self.raws = [r for r, _ in kept]
        self.geometry = geometry
        self._lim = np.array([geometry.width, geometry.height], dtype=np.float64)
        written: list[np.ndarray] = []
        owner: list[np.ndarray] = []
        self._with_units: list[tuple[int, RawItem, str]] = []
        for i, (raw, order) in enumerate(kept):
            if raw.units is None:
                pts = item_points(raw, "pixel", order, geometry)  # written units, x first
                written.append(pts)
                owner.append(np.full(len(pts), i))
            else:
                self._with_units.append((i, raw, order))
        self._written = np.concatenate(written) if written else np.empty((0, 2))
        self._owner = np.concatenate(owner) if owner else np.empty(0, dtype=np.int64)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def points(self, scale: str) -> tuple[np.ndarray, np.ndarray]:
        """All points read in ``scale`` (P, 2) and the item each belongs to (P,)."""
        if scale not in self._cache:
            fx, fy = pixels_per_unit(scale, self.geometry)
            pts = [self._written * np.array([fx, fy])]
            owner = [self._owner]
            for i, raw, order in self._with_units:
                p = item_points(raw, scale, order, self.geometry)
                pts.append(p)
                owner.append(np.full(len(p), i))
            self._cache[scale] = (np.concatenate(pts), np.concatenate(owner))
        return self._cache[scale]

    def violations(self, scale: str, tol: float = OVERSHOOT) -> list[int]:
        """Coordinates per item beyond the image by more than ``tol`` of a side, read in scale."""
        pts, owner = self.points(scale)
        margin = tol * self._lim
        bad = np.isfinite(pts) & ((pts < -margin) | (pts > self._lim + margin))
        per_item = np.bincount(owner, weights=bad.sum(axis=1), minlength=len(self.raws))
        return [int(v) for v in per_item]

    def disagreement(self, a: str, b: str) -> float:
        """Largest distance in pixels between the two readings' points (inside the image)."""
        pa, pb = self.points(a)[0], self.points(b)[0]
        ok = np.isfinite(pa).all(axis=1) & np.isfinite(pb).all(axis=1)
        if not ok.any():
            return 0.0
        diff = np.abs(np.clip(pa[ok], 0, self._lim) - np.clip(pb[ok], 0, self._lim))
        return float(diff.max())

    def log_odds(self, chosen: str, rival: str) -> float:
        """log of how much the numbers favour ``chosen`` over ``rival`` (see module doc)."""
        cx, cy = _ranges(chosen, self.geometry)
        rx, ry = _ranges(rival, self.geometry)
        return len(self.raws) * (math.log(rx * ry) - math.log(cx * cy))


def _fractions(raws: Sequence[RawItem], slack: float = 0.0) -> bool:
    """Every unit-less number within 0..1 (+- ``slack``), at least one with a decimal point."""
    vals = [_unitless(r) for r in raws]
    if not any(v.size for v in vals):
        return False
    within = all(np.all((v >= -slack) & (v <= 1 + slack)) for v in vals if v.size)
    return within and any(r.has_decimal for r, v in zip(raws, vals, strict=True) if v.size)


def _resolve_normalized(raws: Sequence[RawItem], asked: str) -> str:
    """What "normalized" means for these numbers: 0..1, the asked normalised scale, or 0..1000."""
    if _fractions(raws):
        return "norm1"
    vals = [_unitless(r) for r in raws]
    vmax = max((float(np.abs(v).max()) for v in vals if v.size), default=0.0)
    if asked in ("norm1000", "percent") and vmax <= {"norm1000": 1010, "percent": 101}[asked]:
        return asked
    return "norm1000"


def decide_scale(
    raws: Sequence[RawItem],
    orders: Sequence[str],
    asked: str,
    geometry: ImageGeometry,
    stated: str | None,
    stated_phrase: str = "",
) -> ScaleDecision:
    """Choose one scale for an answer's unit-less numbers and find rival readings."""
    readings = _Readings(raws, orders, geometry)
    if not readings.raws:
        return ScaleDecision(asked)
    if stated is not None and not (stated == "pixel" and _fractions(raws)):
        scale = _resolve_normalized(raws, asked) if stated == "normalized" else stated
        why = f"the answer states the scale ({stated_phrase.strip()!r})"
        return ScaleDecision(scale, why, out_of_range=sum(readings.violations(scale)))
    if _fractions(raws):
        why = "all values lie within 0..1" if asked != "norm1" else ""
        return _with_rivals(ScaleDecision("norm1", why), readings, asked)
    if _fractions(raws, FAR):  # 0..1 fractions just past the edge: any other scale is < 2 px
        why = "fractions just past 0..1 read as 0..1 and clamped"
        return ScaleDecision("norm1", why, out_of_range=sum(readings.violations("norm1")))
    bad = readings.violations(asked)
    if not any(bad):
        return _with_rivals(ScaleDecision(asked), readings, asked)
    hard = readings.violations(asked, FAR)
    fits = [s for s in _FALLBACKS[asked] if not any(readings.violations(s))]
    if fits and (sum(hard) >= 2 or all(hard)):
        why = f"{sum(hard)} value(s) exceed {_LIMIT[asked]} by over 20%; all values fit {fits[0]}"
        return _with_rivals(ScaleDecision(fits[0], why), readings, asked)
    rivals = tuple(r for r in fits if readings.disagreement(asked, r) > AGREE_PX)
    if rivals:
        why = (
            f"{sum(bad)} value(s) beyond {_LIMIT[asked]} kept on the asked scale and clamped; "
            f"the {'/'.join(rivals)} reading fits every value"
        )
        gap = max(readings.disagreement(asked, r) for r in rivals)
        return ScaleDecision(asked, why, rivals, gap, sum(bad))
    why = f"{sum(bad)} value(s) beyond {_LIMIT[asked]} and no other scale fits; clamped"
    return ScaleDecision(asked, why, out_of_range=sum(bad))


def decide_fixed(
    raws: Sequence[RawItem], orders: Sequence[str], geometry: ImageGeometry
) -> ScaleDecision:
    """The scale of an answer written in a format whose scale is 0..1000 by definition.

    Qwen2-VL box tokens, InternVL/Qwen-VL ``<ref>..<box>`` and Gemini's ``box_2d`` state
    their scale: their numbers are read on 0..1000, never ambiguous. Values that contradict
    that scale (beyond 1000 by more than 1%) are not clamped silently: when every value fits
    the image in pixels, the answer is read in pixels and flagged ambiguous with the
    0..1000 reading recorded; otherwise it stays on 0..1000, clamped and noted.
    """
    readings = _Readings(raws, orders, geometry)
    over = sum(readings.violations("norm1000"))
    if not over:
        return ScaleDecision("norm1000", "the format states its scale (0..1000)")
    if not any(readings.violations("pixel")):
        why = (
            f"{over} value(s) exceed the format's 0..1000 range and every value fits the "
            "image in pixels"
        )
        gap = readings.disagreement("pixel", "norm1000")
        return ScaleDecision("pixel", why, ("norm1000",), gap, fixed_overflow=True)
    why = (
        f"{over} value(s) exceed the format's 0..1000 range and do not fit the image in "
        "pixels either; kept on 0..1000 and clamped"
    )
    return ScaleDecision("norm1000", why, out_of_range=over)


def _with_rivals(decision: ScaleDecision, readings: _Readings, asked: str) -> ScaleDecision:
    """Add the rival scales that fit every number and cannot be ruled out (rule 4)."""
    rivals: list[str] = []
    worst = 0.0
    for rival in _RIVALS:
        if rival == decision.scale or any(readings.violations(rival)):
            continue
        gap = readings.disagreement(decision.scale, rival)
        if gap <= AGREE_PX:
            continue
        if readings.log_odds(decision.scale, rival) >= math.log(MIN_ODDS):
            continue
        rivals.append(rival)
        worst = max(worst, gap)
    return ScaleDecision(decision.scale, decision.why, tuple(rivals), worst)
