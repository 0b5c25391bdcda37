"""Units and axis orders an answer states in words or keys ("in pixels", "0-1000", "y, x").

A *statement* is a phrase that says which scale the answer's numbers are written in. Phrases
are looked for in prose, in JSON keys (``bbox_px``, ``box_1000``) and in JSON values
(``"unit": "pixels"``). The word "pixels" alone ("I can't measure exact pixels") is no
statement; "in pixels", "pixel coordinates", "(pixels)", "260 pixels", "120px" and a bare
"px" are. Mentions of the image's own size ("the image is 800 pixels wide", "800x600 px")
describe the image, not the answer, and are ignored: a number followed by ``px``/``pixels``
states pixels only when it is not the image's width or height.

When several statements disagree, the one nearest to the geometry that was read wins
(inside it counts as distance 0; on a tie the earlier one): chain-of-thought answers often
reason in one unit and convert to another just before the final answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medmine.tasks.coords import ImageGeometry

_NUM = r"\d+(?:\.\d+)?"
# (pattern, scale) -- "normalized" is resolved later against the numbers and the asked scale.
_STATEMENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), s)
    for p, s in (
        (
            r"\b(?:in|as|using)\s+(?:absolute\s+|image\s+|raw\s+)?pixels?\b"
            r"(?![\s-]*(?:level|perfect|precis|accura))",  # not "with pixel-level precision"
            "pixel",
        ),
        (
            r"\bpixel[\s_-]*(?:coordinates?|coords?|values?|units?|space|positions?|scale)\b",
            "pixel",
        ),
        (r"\babsolute\s+(?:pixel\s+)?(?:coordinates|coords|values)\b", "pixel"),
        (rf"{_NUM}\s*(?:px|pixels?)\b|(?:\b|_)px\b", "pixel-word"),  # "260 pixels", "(px)"
        (r"[)\]]\s*(?:px|pixels?)\b|_pixels?\b|\(\s*pixels?\s*\)", "pixel"),  # "(1, 2) pixels"
        (r"\bunits?[\"']?\s*[:=]\s*[\"']?\s*pixels?\b", "pixel"),
        (r"[\"']\s*(?:absolute[\s_-]*)?pixels?\s*[\"']", "pixel"),  # "unit": "pixel"
        (r"\b0\s*(?:-|–|—|to|\.\.\.?|…)\s*1000\b", "norm1000"),
        (r"\b(?:out\s+of|scale\s+of|range\s+of|per)\s+1000\b|\bper[\s-]*mille\b|‰", "norm1000"),
        (r"\bthousandths\b|(?:_|\bnorm)1000\b", "norm1000"),
        (r"\b1000\s*[x×]\s*1000\b", "norm1000"),  # "on a 1000x1000 grid", "scaled to 1000×1000"
        (r"\b100\s*[x×]\s*100\s+(?:grid|scale|space|canvas|coordinate)", "percent"),
        (r"\b0(?:\.0)?\s*(?:-|–|—|to|\.\.\.?|…)\s*1(?:\.0)?\b(?![\d.])", "norm1"),
        (r"\bnormali[sz]ed\s+(?:to|in|into|on)\s+\[?\s*0(?:\.0)?\s*,\s*1(?:\.0)?\s*\]", "norm1"),
        (r"\bfractions?\s+of\s+the\s+(?:image|width|height)\b", "norm1"),
        (r"\b0\s*(?:-|–|—|to|\.\.\.?|…)\s*100\s*%?(?![\d.])", "percent"),
        (r"\b(?:in|as)\s+(?:percent(?:age)?s?|%)(?!\w)", "percent"),
        (r"[a-z]_(?:pct|percent(?:age)?)\b", "percent"),  # "x_min_pct" keys
        (r"\bpercent(?:age)?s?\s+of\s+(?:the\s+)?(?:image|width|height|dimensions)\b", "percent"),
        (r"\bpercent(?:age)?[\s_-]*(?:coordinates?|coords?|values?|units?)\b", "percent"),
        (
            r"\bnormali[sz]ed\b|(?:_|\b)norm\b|\brelative\s+(?:coordinates|coords|units)\b",
            "normalized",
        ),
    )
)
_COORD_RANGE = re.compile(
    r"\b[xy]\s*(?:=|:|from|ranges?\s+from|spans?|between)?\s*$", re.IGNORECASE
)
_SIZE_PAIR = re.compile(rf"({_NUM})\s*(?:x|×|\*|by)\s*({_NUM})\s*(?:px|pixels?)\b", re.IGNORECASE)
_YX = re.compile(
    r"\by_?(?:min|0|1)\s*,\s*x_?(?:min|0|1)\b|\(\s*y\s*,\s*x\s*\)|\[\s*y\s*,\s*x\s*\]|"
    r"\by\s*,\s*x\s+order\b|\by[\s-]first\b|\btop\s*,\s*left\s*,\s*bottom\s*,\s*right\b|"
    r"\(\s*row\s*,\s*col(?:umn)?\s*\)|\[\s*row\s*,\s*col(?:umn)?\s*\]|\bbox_2d\b",
    re.IGNORECASE,
)
_XY = re.compile(
    r"\bx_?(?:min|0|1)\s*,\s*y_?(?:min|0|1)\b|\(\s*x\s*,\s*y\s*\)|\[\s*x\s*,\s*y\s*\]|"
    r"\bx[\s-]first\b|\bleft\s*,\s*top\s*,\s*right\s*,\s*bottom\b",
    re.IGNORECASE,
)


_WH = r"w(?:idth)?\s*,\s*h(?:eight)?"
_FORMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), f)
    for p, f in (
        (
            rf"[\[(]\s*x(?:_?min|0|1)?\s*,\s*y(?:_?min|0|1)?\s*,\s*{_WH}\s*[\])]|\bx\s*,\s*y\s*,\s*"
            r"width\s*,\s*height\b|\bxywh\b|\bcoco\b|\btop[\s-]left\s+(?:corner\s+)?(?:and|plus|with)"
            r"\s+(?:the\s+)?(?:width|size)",
            "xywh",
        ),
        (rf"\bcxcywh\b|[\[(]\s*c(?:enter_)?x\s*,\s*c(?:enter_)?y\s*,\s*{_WH}", "cxcywh"),
        (
            r"\bxyxy\b|\bx_?(?:min|0|1)\s*,\s*y_?(?:min|0|1)\s*,\s*x_?(?:max|1|2)\b|\bpascal[\s_-]?voc\b",
            "xyxy",
        ),
        (
            r"\bxxyy\b|\bx_?(?:min|0|1)\s*,\s*x_?(?:max|1|2)\s*,\s*y_?(?:min|0|1)\s*,\s*y_?(?:max|1|2)\b"
            r"|\bleft\s*,\s*right\s*,\s*top\s*,\s*bottom\b",
            "xxyy",
        ),
    )
)


@dataclass(frozen=True)
class Statement:
    """One phrase stating a scale (or an axis order): where it is and what it says."""

    start: int
    end: int
    says: str
    phrase: str


def _image_size_mention(text: str, m: re.Match[str], geometry: ImageGeometry) -> bool:
    """True when the px/pixels phrase ``m`` states the image's own width or height."""
    sides = {float(geometry.width), float(geometry.height)}
    number = re.match(_NUM, m.group())
    if number is not None and float(number.group()) in sides:
        return True
    for pair in _SIZE_PAIR.finditer(text, max(0, m.start() - 30), min(len(text), m.end() + 5)):
        if (
            pair.start() <= m.start() < pair.end()
            and {
                float(pair.group(1)),
                float(pair.group(2)),
            }
            & sides
        ):
            return True
    return False


def scale_statements(text: str, geometry: ImageGeometry) -> list[Statement]:
    """Every phrase in ``text`` stating a scale, in text order (image-size mentions left out)."""
    out: list[Statement] = []
    for pattern, says in _STATEMENTS:
        for m in pattern.finditer(text):
            if _COORD_RANGE.search(text, max(0, m.start() - 14), m.start()) and m.group()[0] == "0":
                continue  # "x: 0-100" is a coordinate range, not a scale
            if says == "pixel-word":
                if _image_size_mention(text, m, geometry):
                    continue
                says_now = "pixel"
            else:
                says_now = says
            out.append(Statement(m.start(), m.end(), says_now, m.group()))
    # a phrase matched by two patterns (e.g. "normalized to [0, 1]") keeps the more specific
    out.sort(key=lambda s: (s.start, s.says == "normalized"))
    kept: list[Statement] = []
    for s in out:
        if kept and s.start < kept[-1].end and s.says == "normalized":
            continue
        kept.append(s)
    return kept


def order_statements(text: str) -> list[Statement]:
    """Every phrase spelling an axis order (``[ymin, xmin, ...]``, ``(x, y)``), in text order."""
    found = [Statement(m.start(), m.end(), "yx", m.group()) for m in _YX.finditer(text)]
    found += [Statement(m.start(), m.end(), "xy", m.group()) for m in _XY.finditer(text)]
    return sorted(found, key=lambda s: s.start)


def form_statements(text: str) -> list[Statement]:
    """Every phrase naming a box layout (``[x, y, w, h]``, COCO, ``xyxy``), in text order."""
    found = [
        Statement(m.start(), m.end(), form, m.group())
        for pattern, form in _FORMS
        for m in pattern.finditer(text)
    ]
    return sorted(found, key=lambda s: s.start)


def nearest(statements: list[Statement], span: tuple[int, int] | None) -> Statement | None:
    """The statement nearest to the geometry's ``span`` (inside counts as 0; ties: earlier)."""
    if not statements:
        return None
    if span is None:
        says = {s.says for s in statements}
        return statements[-1] if len(says) == 1 else None
    start, end = span

    def distance(s: Statement) -> int:
        if s.end <= start:
            return start - s.end
        if s.start >= end:
            return s.start - end
        return 0

    return min(statements, key=lambda s: (distance(s), s.start))
