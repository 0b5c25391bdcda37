"""Coordinates written in prose: tuples, x=/y=, x_min:, ranges, centre + size, bare lists.

Also: ``x1=.. y2=..`` and ``left/top/right/bottom`` corners (and markdown tables of them),
Molmo's quoted ``x="31.3"``, "box: a, b, c, d", ``<box>a b c d</box>``, "163 to 382 pixels
horizontally" / "31% to 62% of the width", an axis and its interval ("from x=101 to
x=256", "x between 230 and 520 pixels", "left-right 230 to 520 px"), corner words without
brackets ("Top-left: 544px, 208px") and per-axis intervals ("x ∈ [310, 620], y ∈ [270, 740]",
see extract_intervals).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medmine.tasks.spatial.raw import Found, RawItem
from medmine.tasks.spatial.walker import Walker

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_UNIT = r"(?:\s*(%|px\b|pixels?\b))?"
_NU = rf"({_NUM}){_UNIT}"
_TUPLE = re.compile(rf"[(\[]\s*{_NU}\s*,\s*{_NU}(?:\s*,\s*{_NU}\s*,\s*{_NU})?\s*[)\]]")
_Q = "[\"']?"  # Molmo writes <point x="31.3" y="31.7">
_XY = re.compile(
    rf"\b(x|y)\s*(?:=|:|is|of|≈|~)\s*~?{_Q}{_NU}{_Q}\s*[,;]?\s*(?:and\s+)?\b(x|y)\s*(?:=|:|is|of|≈|~)\s*~?"
    rf"{_Q}{_NU}",
    re.IGNORECASE,
)
_NAMED = re.compile(  # also markdown table rows: "| x_min | 402 |"
    rf"\b([xy])_?(min|max|0|1|2)\b\s*\|?\s*(?:=|:|is|of)?\s*\|?\s*{_Q}{_NU}", re.IGNORECASE
)
_SIDES = re.compile(rf"\b(left|top|right|bottom)\b\s*(?:=|:|is|at)?\s*{_Q}{_NU}", re.IGNORECASE)
_SIDE_KEY = {"left": "xmin", "top": "ymin", "right": "xmax", "bottom": "ymax"}
# Four bare numbers after "box:", "bbox =", "the bounding box is", "x_min, y_min, x_max, y_max ="
# or inside <box>...</box> (MiniCPM-V style).
_LOOSE_BOX = re.compile(
    r"(?:\b(?:b?box|bounding\s+box|coordinates)(?:\s*(?:[:=]|\bis\b|\bare\b))+\s*|<b?box>\s*|"
    r"\b[xy]_?min\s*,\s*[xy]_?min\s*,\s*[xy]_?max\s*,\s*[xy]_?max\s*[:=]\s*)"
    rf"{_NU}\s*[,\s]\s*{_NU}\s*[,\s]\s*{_NU}\s*[,\s]\s*{_NU}",
    re.IGNORECASE,
)
_RANGE = re.compile(
    r"\b([xy])\s*(?:=|:|from|ranges?\s+from|spans?)?\s*(\d+(?:\.\d*)?)\s*(%|px\b)?\s*"
    r"(?:-|–|—|to|→|->|\.\.|through)\s*(\d+(?:\.\d*)?)\s*(%|px\b)?",
    re.IGNORECASE,
)
_SIZE = re.compile(
    rf"\b(width|height)\b\s*(?:=|:|is|of)?\s*{_NU}|\b(w|h)\s*(?:=|:)\s*{_NU}", re.IGNORECASE
)
# "333×362 in size"
_SIZE_PAIR_AFTER = re.compile(
    rf"(?<![\d.])(?=\d[\d.]*\s*(?:x|×|by|\*))(?!.{{0,40}}?[\n\[\]{{}}])(?=.{{0,40}}?\bin\s)"
    rf"{_NU}\s*(?:x|×|by|\*)\s*{_NU}\s*(?:pixels?\s+)?in\s+(?:size|extent)",
    re.IGNORECASE,
)
# "333 wide and 362 tall"
_SIZE_AFTER = re.compile(
    rf"(?<![\d.])(?=[\d.]+\s*(?:px\s*|pixels?\s*)?[wthi])(?:{_NU})\s*"
    r"(wide|tall|high|in\s+width|in\s+height)\b",
    re.IGNORECASE,
)
# "center_x=478.5, center_y=379" (a named centre in prose)
_CENTER_NAMED = re.compile(
    rf"\b(?:c(?:ent(?:er|re))?_?([xy])|([xy])_?c(?:ent(?:er|re))?)\b\s*(?:=|:)\s*{_NU}",
    re.IGNORECASE,
)
_TOP_LEFT = re.compile(r"\b(?:top|upper)[\s-]*left\b", re.IGNORECASE)
# "163 to 382 pixels horizontally", "from 35% to 61% horizontally"
_AXIS_RANGE = re.compile(
    rf"(?:from\s+)?{_NU}\s*(?:-|–|to)\s*{_NU}\s*(?:\w+\s+)?"
    r"(horizontally|vertically|of\s+(?:the|its)\s+(?:image(?:'s)?\s+)?(?:width|height)"
    r"|(?:on|along)\s+the\s+[xy][\s-]*axis)",
    re.IGNORECASE,
)
# "horizontally it runs from 312 to 645", "from x = 1248 to x = 2580"
_AXIS_FIRST = re.compile(
    r"\b(horizontal(?:ly)?|vertical(?:ly)?|left[\s-]+to[\s-]+right|top[\s-]+to[\s-]+bottom)\b"
    rf"[^\d.;\n]{{0,30}}?\bfrom\s+{_NU}\s*(?:-|–|to)\s*{_NU}",
    re.IGNORECASE,
)
# One axis and its interval, the axis named first: "x=101 to x=256", "x from 230 to 520",
# "between x = 230 and 520 pixels", "the x coordinate ranges from 230 to 520", "y: 80-211",
# "left-right 230 to 520 px", "vertically between 310 and 640". A single letter needs "=",
# ":", "from" or "between" before its first number (so "3 x 4" is no axis).
_SPAN_TO = r"\s*(?:-|–|—|to|and|through|→|->)\s*(?:([xy])\s*(?:=|:)\s*)?"
_FILL = r"(?:(?!\band\b)[^\d\n;.,]){0,30}?"  # words between an axis and its numbers
_AXIS_SPAN = re.compile(
    r"\b(?:([xy])(?![\w'’]|-(?!axis|coord))"
    r"(?:[\s-]*(?:axis|coordinates?|values?|direction|extent|range|span))?"
    rf"(?:\s*(?:=|:)\s*(?:from\s+|between\s+)?|{_FILL}\b(?:from|between)\s+)"
    r"|(horizontal(?:ly)?|vertical(?:ly)?|left[\s-]*(?:to[\s-]*)?right|top[\s-]*(?:to[\s-]*)?bottom)"
    rf"\b{_FILL}(?:\b(?:from|between)\s+)?)"
    rf"{_NU}{_SPAN_TO}{_NU}",
    re.IGNORECASE,
)
# "rows 594–1680, columns 1248–2580": rows run along y, columns along x
_ROWS_COLS = re.compile(
    rf"\b(rows?|columns?|cols?)\s*(?:=|:|from)?\s*{_NU}\s*(?:-|–|to)\s*{_NU}", re.IGNORECASE
)
_FROM_TO = re.compile(
    rf"\b(?:from|between)\s+([xy])\s*(?:=|:)\s*{_NU}\s*(?:-|–|to|and)\s*([xy])\s*(?:=|:)\s*{_NU}",
    re.IGNORECASE,
)
_SIZE_PAIR = re.compile(
    rf"\b(?:size|dimensions)\b\s*(?:=|:|is|of)?\s*{_NU}\s*(?:x|×|by|\*)\s*{_NU}", re.IGNORECASE
)
# "x ∈ [310, 620], y ∈ [270, 740]": intervals per axis (these brackets are not points)
_INTERVAL = re.compile(
    rf"\b([xy])\s*(?:∈|in|:|=|within|between|range)\s*[\[(]\s*{_NU}\s*[,;]\s*{_NU}\s*[\])]",
    re.IGNORECASE,
)
# "Top-left: 544px, 208px" (a named corner without brackets)
_CORNER = re.compile(r"\b(?:top|upper)[\s-]*left|\b(?:bottom|lower)[\s-]*right", re.IGNORECASE)
_CORNER_PAIR = re.compile(
    rf"(?:\s*corner)?\s*(?:[:=]|\bat\b|\bis\b)?\s*[(\[]?\s*{_NU}\s*,\s*{_NU}", re.IGNORECASE
)
# one "x, y" pair per list line ("- 312, 198"), and SVG paths ("M 312 198 L 645 198 ... Z")
_PAIR_LINE = re.compile(
    rf"^[ \t]*(?:[-*•]|\d+[.)])?[ \t]*{_NU}[ \t]*[,;][ \t]*{_NU}[ \t]*$", re.MULTILINE
)
_SVG_PATH = re.compile(rf"\bM\s*{_NUM}[\s,]+{_NUM}(?:\s*[LM]?\s*{_NUM}[\s,]+{_NUM})+\s*Z?")
_CENTER_WORD = re.compile(r"\bcent(?:er|re)(?:ed|d)?\b|\bmidpoint\b", re.IGNORECASE)
_BARE_LIST = re.compile(rf"^\s*{_NUM}%?(?:\s*[,;\s]\s*{_NUM}%?)+\s*$")


def _unit(u: str | None) -> str | None:
    """Normalise a matched unit to '%', 'px' or None."""
    if not u:
        return None
    return "%" if u.strip() == "%" else "px"


def _raw_from(pairs: Sequence[tuple[str, str | None]], shape: str = "box") -> RawItem:
    """Build a raw item of ``shape`` from matched (number text, unit) pairs."""
    vals = np.array([float(v) for v, _ in pairs], dtype=np.float64)
    units = tuple(_unit(u) for _, u in pairs)
    dec = any("." in v or "e" in v.lower() for v, _ in pairs)
    return RawItem(shape, vals, units if any(units) else None, dec)  # type: ignore[arg-type]


_Pairs = list[tuple[str, str | None]]


@dataclass
class _ProseEvent:
    """One coordinate group found in prose: its numbers, position and context."""

    pos: int
    numbers: _Pairs
    after_centre_word: bool = False
    order: str | None = None

    def raw(self, shape: str) -> RawItem:
        """The event's numbers as a raw item of ``shape``."""
        raw = _raw_from(self.numbers, shape)
        raw.order = self.order
        return raw


def _prose_events(text: str) -> tuple[list[_ProseEvent], list[_ProseEvent]]:
    """Point-like (2 numbers) and box-like (4 numbers) groups in prose, in text order."""
    centre_ends = [m.end() for m in _CENTER_WORD.finditer(text)]

    def near_centre(pos: int) -> bool:
        """True when ``pos`` follows a centre word by at most 30 characters."""
        return any(0 <= pos - e <= 30 for e in centre_ends)

    points: list[_ProseEvent] = []
    boxes: list[_ProseEvent] = []
    for m in _TUPLE.finditer(text):
        g = m.groups()
        if g[4] is None:
            points.append(_ProseEvent(m.start(), [g[0:2], g[2:4]], near_centre(m.start())))
        else:
            boxes.append(_ProseEvent(m.start(), [g[0:2], g[2:4], g[4:6], g[6:8]]))
    for m in _LOOSE_BOX.finditer(text):
        g = m.groups()
        boxes.append(_ProseEvent(m.start(), [g[0:2], g[2:4], g[4:6], g[6:8]]))
    boxes.sort(key=lambda e: e.pos)
    for m in _XY.finditer(text):
        a, av, au, b, bv, bu = m.groups()
        if a.lower() != b.lower():
            xy = [(av, au), (bv, bu)] if a.lower() == "x" else [(bv, bu), (av, au)]
            points.append(_ProseEvent(m.start(), xy, near_centre(m.start()), "xy"))
    for c in _CORNER.finditer(text):  # only corners whose numbers no other pattern read
        m = _CORNER_PAIR.match(text, c.end())
        if m is not None and not any(c.start() <= e.pos < m.end() for e in points):
            g = m.groups()
            points.append(_ProseEvent(c.start(), [g[0:2], g[2:4]], False, "xy"))
    if not points:
        for m in _PAIR_LINE.finditer(text):
            g = m.groups()
            points.append(_ProseEvent(m.start(), [g[0:2], g[2:4]]))
    if not points:
        for m in _SVG_PATH.finditer(text):
            nums = re.findall(_NUM, m.group()[1:])
            for i in range(0, len(nums) - 1, 2):
                points.append(_ProseEvent(m.start() + i, [(nums[i], None), (nums[i + 1], None)]))
    points.sort(key=lambda e: e.pos)
    return points, boxes


def _named_corners(text: str) -> dict[str, tuple[str, str | None]]:
    """``x_min: 120``, ``x1=120 ... x2=380`` or ``left: 120`` values keyed xmin/ymin/xmax/ymax."""
    found: dict[str, tuple[str, str | None]] = {}
    for m in _NAMED.finditer(text):
        found.setdefault(f"{m.group(1).lower()}{m.group(2).lower()}", (m.group(3), m.group(4)))
    for lo, hi in (("0", "1"), ("1", "2")):
        for axis in "xy":
            if f"{axis}{lo}" in found and f"{axis}{hi}" in found:
                found.setdefault(f"{axis}min", found[f"{axis}{lo}"])
                found.setdefault(f"{axis}max", found[f"{axis}{hi}"])
    for m in _SIDES.finditer(text):
        found.setdefault(_SIDE_KEY[m.group(1).lower()], (m.group(2), m.group(3)))
    return found


def _named_centre(text: str) -> _ProseEvent | None:
    """A centre written with named coordinates ("center_x=478.5, center_y=379"), else None."""
    named: dict[str, tuple[str, str | None]] = {}
    for m in _CENTER_NAMED.finditer(text):
        named.setdefault((m.group(1) or m.group(2)).lower(), (m.group(3), m.group(4)))
    if "x" not in named or "y" not in named:
        return None
    return _ProseEvent(0, [named["x"], named["y"]], True, "xy")


def _prose_box(text: str, points: list[_ProseEvent], boxes: list[_ProseEvent]) -> Found:
    """Boxes in prose: named corners, x/y ranges, centre + size, 4-tuples or corner points."""
    found = Found()
    named = _named_corners(text)
    ranges: dict[str, _Pairs] = {}
    for m in _RANGE.finditer(text):
        ranges.setdefault(m.group(1).lower(), [(m.group(2), m.group(3)), (m.group(4), m.group(5))])
    for m in _AXIS_RANGE.finditer(text):
        axis = "x" if re.search(r"horizont|width|\bx", m.group(5), re.IGNORECASE) else "y"
        ranges.setdefault(axis, [(m.group(1), m.group(2)), (m.group(3), m.group(4))])
    for m in _AXIS_FIRST.finditer(text):
        axis = "y" if re.match("vert|top", m.group(1), re.IGNORECASE) else "x"
        ranges.setdefault(axis, [(m.group(2), m.group(3)), (m.group(4), m.group(5))])
    for m in _ROWS_COLS.finditer(text):
        axis = "y" if m.group(1).lower().startswith("row") else "x"
        ranges.setdefault(axis, [m.groups()[1:3], m.groups()[3:5]])
    for m in _FROM_TO.finditer(text):
        if m.group(1).lower() == m.group(4).lower():
            ranges.setdefault(m.group(1).lower(), [m.groups()[1:3], m.groups()[4:6]])
    for m in _AXIS_SPAN.finditer(text):  # the general form, after the specific ones
        word = (m.group(1) or m.group(2)).lower()
        axis = "y" if word == "y" or word.startswith(("vert", "top")) else "x"
        if m.group(5) and m.group(5).lower() != axis:  # "y=80 to x=300" joins two corners
            continue
        unit = m.group(4) or m.group(7)  # "230 and 520 pixels": the unit covers the interval
        ranges.setdefault(
            axis, [(m.group(3), m.group(4) or unit), (m.group(6), m.group(7) or unit)]
        )
    sizes: dict[str, tuple[str, str | None]] = {}
    for m in _SIZE.finditer(text):
        if m.group(1):
            sizes.setdefault(m.group(1).lower(), (m.group(2), m.group(3)))
        else:
            name = "width" if m.group(4).lower() == "w" else "height"
            sizes.setdefault(name, (m.group(5), m.group(6)))
    for m in (*_SIZE_PAIR.finditer(text), *_SIZE_PAIR_AFTER.finditer(text)):
        sizes.setdefault("width", (m.group(1), m.group(2)))
        sizes.setdefault("height", (m.group(3), m.group(4)))
    for m in _SIZE_AFTER.finditer(text):
        name = (
            "width"
            if m.group(3).lower() in ("wide",) or "width" in m.group(3).lower()
            else "height"
        )
        sizes.setdefault(name, (m.group(1), m.group(2)))
    centres = [e for e in points if e.after_centre_word]
    centre = _named_centre(text)
    if not centres and centre is not None:
        centres = [centre]
    top_left = [m.end() for m in _TOP_LEFT.finditer(text)]
    corners = [e for e in points if e.order == "xy" and not e.after_centre_word]
    if not corners:  # "Top-left at (312, 198), width 333, height 362"
        corners = [e for e in points if any(0 <= e.pos - t <= 12 for t in top_left)]
    if all(k in named for k in ("xmin", "ymin", "xmax", "ymax")):
        raw = _raw_from([named["xmin"], named["ymin"], named["xmax"], named["ymax"]])
        raw.order = "xy"
        found.raws.append(raw)
    elif "x" in ranges and "y" in ranges:
        (x0, x1), (y0, y1) = ranges["x"], ranges["y"]
        raw = _raw_from([x0, y0, x1, y1])
        raw.order = "xy"
        found.raws.append(raw)
    elif "xmin" in named and "ymin" in named and "width" in sizes and "height" in sizes:
        raw = _raw_from([named["xmin"], named["ymin"], sizes["width"], sizes["height"]])
        raw.form = "xywh"
        raw.order = "xy"
        found.raws.append(raw)
    elif centres and "width" in sizes and "height" in sizes:
        centre = centres[0]
        raw = _raw_from([*centre.numbers, sizes["width"], sizes["height"]])
        raw.form = "cxcywh"
        raw.order = centre.order  # a bare (a, b) centre follows the answer's axis order
        found.raws.append(raw)
    elif len(corners) == 1 and "width" in sizes and "height" in sizes:
        # "x=163, y=176, w=219, h=152": a named corner and a size
        raw = _raw_from([*corners[0].numbers, sizes["width"], sizes["height"]])
        raw.form = "xywh"
        raw.order = "xy"
        found.raws.append(raw)
    else:
        # Corner points are paired into boxes later, by convert_shape.
        found.raws = [e.raw("box") for e in boxes] or [e.raw("point") for e in points]
        if len(points) == 1 and not boxes:
            found.notes.append("a single point in prose is not a box")
    return found


def extract_prose(text: str, family: str) -> Found:
    """Read coordinates written in prose (tuples, x=/y=, x_min:, ranges, centre + size)."""
    found = _extract_prose(text, family)
    if found.raws:
        found.span = _coordinate_span(text)
    return found


def _coordinate_span(text: str) -> tuple[int, int] | None:
    """Where the coordinate phrases of a prose answer start and end."""
    hits = [
        (m.start(), m.end())
        for pattern in (
            _TUPLE,
            _XY,
            _NAMED,
            _RANGE,
            _AXIS_SPAN,
            _SIZE,
            _SIDES,
            _LOOSE_BOX,
            _AXIS_RANGE,
            _AXIS_FIRST,
            _FROM_TO,
            _ROWS_COLS,
            _PAIR_LINE,
            _SVG_PATH,
            _SIZE_PAIR,
            _SIZE_AFTER,
            _SIZE_PAIR_AFTER,
            _CENTER_NAMED,
            _INTERVAL,
            _CORNER,
        )
        for m in pattern.finditer(text)
    ]
    if not hits:
        return (0, len(text))  # a bare list of numbers: the whole answer
    return min(h[0] for h in hits), max(h[1] for h in hits)


def _extract_prose(text: str, family: str) -> Found:
    """The prose reader behind :func:`extract_prose` (span not yet set)."""
    if _BARE_LIST.match(text):
        raw = _raw_from(
            [(v.rstrip("%"), v[-1] if v.endswith("%") else None) for v in _number_tokens(text)]
        )
        walker = Walker(family, False)
        if raw.values.size in (2, 4):
            walker.bare_numbers(raw, None)
        elif raw.values.size >= 6 and raw.values.size % 2 == 0:
            walker.add(raw, "polygon", None)
        return walker.found
    points, boxes = _prose_events(text)
    if family == "box":
        return _prose_box(text, points, boxes)
    found = Found()
    if family == "point":
        ordered = sorted(points, key=lambda e: not e.after_centre_word)  # centre-marked first
        found.raws = [e.raw("point") for e in ordered] or [e.raw("box") for e in boxes]
        centre = _named_centre(text)
        if not found.raws and centre is not None:
            found.raws = [centre.raw("point")]
    elif len(points) >= 3:
        raw = _raw_from([pair for e in points for pair in e.numbers], "polygon")
        raw.order = points[0].order
        found.raws.append(raw)
    else:
        found.raws = [e.raw("box") for e in boxes]
    return found


def _number_tokens(text: str) -> list[str]:
    """The number tokens (with an optional %) of a bare number list."""
    return re.findall(rf"{_NUM}%?", text)


def extract_intervals(text: str) -> Found | None:
    """A box written as one interval per axis (``x ∈ [310, 620], y ∈ [270, 740]``), else None.

    Checked before the JSON-like sources: read as JSON, the two intervals would be two points.
    """
    spans: dict[str, tuple[_Pairs, int, int]] = {}
    for m in _INTERVAL.finditer(text):
        spans.setdefault(m.group(1).lower(), ([m.groups()[1:3], m.groups()[3:5]], *m.span()))
    if "x" not in spans or "y" not in spans:
        return None
    (x0, x1), (y0, y1) = spans["x"][0], spans["y"][0]
    raw = _raw_from([x0, y0, x1, y1])
    raw.order = "xy"
    found = Found(raws=[raw], notes=["box read from per-axis intervals"])
    found.span = (min(spans["x"][1], spans["y"][1]), max(spans["x"][2], spans["y"][2]))
    return found
