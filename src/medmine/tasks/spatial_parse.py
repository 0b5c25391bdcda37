"""Turn a model's free-text answer into boxes, polygons or points in pixel space.

``parse_spatial`` never raises on a string answer: whatever the model wrote comes back as a
:class:`SpatialAnswer` whose ``status`` says whether geometry was read (``ok``), read after a
repair (``repaired``), refused, or unreadable. What was detected and repaired is written in
``convention_seen`` and ``notes``.

Where geometry is looked for, in this order (the first source that yields geometry wins):

1. Fenced code blocks (```` ```json ... ``` ````, any or no language tag; an unclosed last
   fence runs to the end of the text). The **last** block that yields geometry of the
   requested kind is used: models put worked examples or a first try before their final
   answer. A block that only parses after truncation repair is used only when no complete
   block yields geometry.
2. Bracketed JSON-like values ``[...]``/``{...}`` anywhere in the text. For the plural kinds
   (``boxes``, ``polygons``, ``labelled_boxes``) the items of every such value are joined in
   order; for the singular kinds the last value that yields geometry is used.
3. Prose: ``(x, y)`` tuples, ``x=120, y=80``, ``x_min: 120``..., ``centered at (x, y)`` with
   ``width``/``height``, ranges ``x: 120-300, y: 80-260``, 4-tuples ``(x0, y0, x1, y1)``,
   or a bare list of numbers.

Relaxed JSON is accepted: single quotes, Python tuples, ``True/None``, trailing commas,
unquoted keys, missing commas between numbers or brackets, ``NaN``/``Infinity``, numbers
with ``%`` or ``px``. Truncated JSON (an answer cut off by the token limit) is closed after
its last complete element: ``[[10, 20], [30, 40], [50, 60], [70,`` is read as the
three-vertex polygon before the cut, with status ``repaired``. If too little is left, e.g.
``[[10, 20], [30,`` for a polygon (one vertex), the answer is ``unparseable``. A number
right at the cut may itself be cut short, so it is dropped: ``[61, 9, 691, 639`` keeps three
numbers and is no box.

Convention detection (one decision per answer; values with their own ``%``/``px`` unit
keep it). The expected convention is assumed unless the numbers contradict it:

* the answer text states pixels (``in pixels``, ``pixel coordinates``, ``120px``) -> pixel;
* any value above 1000 -> pixel;
* all values within 0..1 and at least one written with a decimal point -> norm1;
* expected norm1 but values above 1 -> norm1000; expected percent but values above 100 ->
  norm1000;
* otherwise the expected scale. (An answer in pixels of an image no larger than 1000 px,
  when norm1000 was expected, cannot be told apart and is read as norm1000.)

Axis order: named keys (``x_min``, ``x``, ``cx``, ``width``...) are unambiguous. Bare
lists follow the expected order, except under the key ``box_2d`` (Gemini writes
``[y_min, x_min, y_max, x_max]`` there) and when the answer text spells a y-first layout
(``[ymin, xmin, ...]``, ``(y, x)``); both switch to y-first. ``bbox_2d`` (Qwen2.5-VL) is
x-first. Prompts that want x-first answers should therefore not ask for a ``box_2d`` key.

Boxes may be written as corners (``[x0, y0, x1, y1]``, two corner points), as a corner and
a size (``x, y, width, height``) or as a centre and a size (``cx, cy, w, h`` or ``center``,
``width``, ``height``). Swapped corners are put in order (``repaired``). Items with NaN or
infinite values, negative sizes or the wrong number of values are dropped with a note; an
answer with some items dropped is ``repaired``, with none left ``unparseable``. Values
outside the image are clamped to its edges and counted in ``n_clamped``. A polygon's
repeated closing vertex is dropped. When the requested shape is missing but another is
present, it is converted and marked ``repaired``: a polygon's bounding box for box kinds, a
box's centre for points, a box's four corners for polygons. Singular kinds keep one item
(the highest ``score`` if every item has one, else the first) and are ``repaired`` when
more were given.

Empty answers: for the plural kinds an explicit empty list (``[]``, ``{"boxes": []}``) or a
statement such as "No lesion detected" / "none found" is a valid answer with zero items
(``ok``). For singular kinds it is ``unparseable``. A refusal ("I cannot...", "I'm unable
to...", "as an AI...") with no geometry is ``refused``; it is checked before the
empty-statement rule, so "I cannot see any lesion" counts as a refusal.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from medmine.tasks.coords import (
    CONVENTIONS,
    ImageGeometry,
    convention_name,
    parse_convention,
    pixels_per_unit,
)

PARSER_VERSION = "1"

Kind = Literal["box", "boxes", "polygon", "polygons", "point", "labelled_boxes"]
Status = Literal["ok", "repaired", "refused", "unparseable"]
Point = tuple[float, float]
Polygon = tuple[Point, ...]

KINDS: tuple[str, ...] = get_args(Kind)
_PLURAL_KINDS = frozenset({"boxes", "polygons", "labelled_boxes"})
_FAMILY: dict[str, str] = {
    "box": "box",
    "boxes": "box",
    "labelled_boxes": "box",
    "polygon": "polygon",
    "polygons": "polygon",
    "point": "point",
}
_MAX_DEPTH = 60


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
class SpatialAnswer:
    """What ``parse_spatial`` read from one answer, all geometry in pixel space."""

    status: Status
    boxes: tuple[Box, ...] = ()
    polygons: tuple[Polygon, ...] = ()
    points: tuple[Point, ...] = ()
    convention_seen: str = "none"
    n_clamped: int = 0
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# Raw items: geometry as written, before scale/order decisions.


@dataclass
class _Raw:
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


@dataclass
class _Found:
    """Items and flags gathered from one source (a block, a span, or prose)."""

    raws: list[_Raw] = field(default_factory=list)
    explicit_empty: bool = False
    notes: list[str] = field(default_factory=list)
    truncated: bool = False
    relaxed: bool = False


_NUM_STR = re.compile(
    r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))"
    r"\s*(%|px|pixels?)?\s*$",
    re.IGNORECASE,
)


def _coerce(value: Any) -> tuple[float, str | None, bool] | None:
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


def _numbers(seq: Any) -> _Raw | None:
    """Read a flat list of numbers into a raw item (shape filled in by the caller)."""
    if not isinstance(seq, list) or not seq:
        return None
    if all(type(v) is float or (type(v) is int and abs(v) < 2**53) for v in seq):
        arr = np.array(seq, dtype=np.float64)
        return _Raw("box", arr, None, any(type(v) is float for v in seq))
    vals: list[float] = []
    units: list[str | None] = []
    dec = False
    for v in seq:
        c = _coerce(v)
        if c is None:
            return None
        vals.append(c[0])
        units.append(c[1])
        dec = dec or c[2]
    unit_t = tuple(units) if any(u is not None for u in units) else None
    return _Raw("box", np.array(vals, dtype=np.float64), unit_t, dec)


def _pairs(seq: Any) -> _Raw | None:
    """Read a list of 2-number lists or ``{x, y}`` dicts into one flattened raw item."""
    if not isinstance(seq, list) or not seq:
        return None
    first = seq[0]
    if isinstance(first, dict):
        flat: list[Any] = []
        for item in seq:
            if not isinstance(item, dict):
                return None
            low = _lower_keys(item)
            if "x" not in low or "y" not in low or any(k in low for k in _SIZE_KEYS):
                return None
            flat += [low["x"], low["y"]]
        raw = _numbers(flat)
        if raw is not None:
            raw.order = "xy"
        return raw
    if not all(isinstance(v, list) and len(v) == 2 for v in seq):
        return None
    flat = [c for pair in seq for c in pair]
    return _numbers(flat)


def _lower_keys(d: dict[Any, Any]) -> dict[str, Any]:
    """Map a dict's string keys to lower case with spaces and dashes as underscores."""
    return {
        re.sub(r"[\s\-]+", "_", k.strip().lower()): v for k, v in d.items() if isinstance(k, str)
    }


# fmt: off
_LABEL_KEYS = ("label", "name", "class", "category", "finding", "class_name", "lesion", "type")
_SCORE_KEYS = ("score", "confidence", "probability", "prob", "conf")
_BOX_KEYS = (
    "box_2d", "bbox_2d", "bbox", "box", "bounding_box", "boundingbox", "rect", "rectangle",
    "xyxy", "coordinates", "coords", "location",
)
_YX_KEYS = frozenset({"box_2d"})
_POLY_KEYS = (
    "polygon", "points", "vertices", "contour", "segmentation", "outline", "boundary",
    "coordinates", "coords", "mask",
)
_POINT_KEYS = (
    "point", "point_2d", "center", "centre", "coordinates", "coords", "location", "position",
    "xy", "points",
)
_CORNER_KEY_SETS = (
    ("x_min", "y_min", "x_max", "y_max"),
    ("xmin", "ymin", "xmax", "ymax"),
    ("x1", "y1", "x2", "y2"),
    ("x0", "y0", "x1", "y1"),
    ("left", "top", "right", "bottom"),
)
_CENTER_X = ("cx", "center_x", "centre_x", "x_center", "x_centre")
_CENTER_Y = ("cy", "center_y", "centre_y", "y_center", "y_centre")
_WIDTH = ("width", "w")
_HEIGHT = ("height", "h")
_SIZE_KEYS = (*_WIDTH, *_HEIGHT)
_WRAPPER_KEYS = frozenset(
    {
        "boxes", "bboxes", "detections", "objects", "results", "findings", "lesions", "annotations",
        "predictions", "answer", "output", "regions", "items", "data", "polygons", "result",
        "response",
    }
)
# fmt: on


def _first(low: dict[str, Any], keys: Sequence[str]) -> Any:
    """Return the value of the first key present in ``low``, else None."""
    for k in keys:
        if k in low:
            return low[k]
    return None


class _Walker:
    """Collect raw geometry items from a parsed JSON value for one geometry family."""

    def __init__(self, family: str, label_keys_as_labels: bool) -> None:
        """Prepare a walk for ``family`` ('box', 'polygon' or 'point')."""
        self.family = family
        self.label_keys_as_labels = label_keys_as_labels
        self.found = _Found()

    def walk(self, value: Any, label: str | None = None, depth: int = 0) -> None:
        """Visit ``value`` and record every geometry item found in it."""
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, dict):
            self._dict(value, label, depth)
        elif isinstance(value, list):
            self._list(value, label, depth)

    def _add(self, raw: _Raw | None, shape: str, label: str | None, **kw: Any) -> bool:
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
        nums = _numbers(seq)
        if nums is not None:
            self._bare_numbers(nums, label)
            return
        pairs = _pairs(seq)
        if pairs is not None:
            self._bare_pairs(pairs, label)
            return
        for item in seq:
            self.walk(item, label, depth + 1)

    def _bare_numbers(self, raw: _Raw, label: str | None, order: str | None = None) -> None:
        """Interpret a flat number list by its length and the family asked for."""
        n = raw.values.size
        if n == 4:
            self._add(raw, "box", label, order=order)
        elif n == 2:
            self._add(raw, "point", label, order=order)
        elif n >= 6 and n % 2 == 0 and self.family == "polygon":
            self._add(raw, "polygon", label, order=order)
        else:
            self.found.notes.append(f"ignored a list of {n} numbers (not a {self.family})")

    def _bare_pairs(self, raw: _Raw, label: str | None, order: str | None = None) -> None:
        """Interpret a list of (x, y) pairs: corners of a box, points, or a polygon."""
        n_pairs = raw.values.size // 2
        if self.family == "box" and n_pairs == 2:
            self._add(raw, "box", label, order=order)
        elif self.family == "point":
            for i in range(n_pairs):
                sub = _Raw(
                    "point",
                    raw.values[2 * i : 2 * i + 2].copy(),
                    None if raw.units is None else raw.units[2 * i : 2 * i + 2],
                    raw.has_decimal,
                    order=raw.order,
                )
                self._add(sub, "point", label, order=order)
        else:
            self._add(raw, "polygon", label, order=order)

    def _label_of(self, low: dict[str, Any], inherited: str | None) -> str | None:
        """The label an object carries, else the one inherited from an enclosing key."""
        value = _first(low, _LABEL_KEYS)
        if isinstance(value, str) and value.strip():
            return value.strip()
        return inherited

    def _dict(self, d: dict[Any, Any], inherited: str | None, depth: int) -> None:
        """Read an object: geometry keys first, then its values as nested items."""
        low = _lower_keys(d)
        label = self._label_of(low, inherited)
        score_raw = _first(low, _SCORE_KEYS)
        score_c = _coerce(score_raw) if score_raw is not None else None
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
            if (key in _LABEL_KEYS or key in _SCORE_KEYS) and not isinstance(value, list | dict):
                continue
            hint = label
            if self.label_keys_as_labels and key not in _WRAPPER_KEYS and label is None:
                hint = str(orig_key).strip()
            self.walk(value, hint, depth + 1)

    def _value_geometry(self, value: Any, label: str | None, order: str | None, depth: int) -> bool:
        """Read the value under a geometry key; return whether anything was recorded."""
        if depth > _MAX_DEPTH:
            return False
        before = len(self.found.raws)
        if isinstance(value, dict):
            self._dict(value, label, depth + 1)
        elif isinstance(value, list):
            if not value:
                self.found.explicit_empty = True
                return True
            nums = _numbers(value)
            if nums is not None:
                self._bare_numbers(nums, label, order)
            else:
                pairs = _pairs(value)
                if pairs is not None:
                    self._bare_pairs(pairs, label, order)
                else:
                    for item in value:
                        if isinstance(item, list):
                            self._value_geometry(item, label, order, depth + 1)
                        else:
                            self.walk(item, label, depth + 1)
        elif isinstance(value, str):
            inner = _loads_relaxed(value)
            if inner is not None:
                self._value_geometry(inner[0], label, order, depth + 1)
        return len(self.found.raws) > before

    def _named(self, low: dict[str, Any], keys: Sequence[str]) -> _Raw | None:
        """Read the numbers under exactly these keys, if all are present."""
        if not all(k in low for k in keys):
            return None
        return _numbers([low[k] for k in keys])

    def _center_size(self, low: dict[str, Any]) -> _Raw | None:
        """Read a centre-and-size box (cx/cy/w/h keys, or center + width/height)."""
        w, h = _first(low, _WIDTH), _first(low, _HEIGHT)
        if w is None or h is None:
            return None
        cx, cy = _first(low, _CENTER_X), _first(low, _CENTER_Y)
        if cx is None or cy is None:
            center = _first(low, ("center", "centre"))
            if isinstance(center, dict):
                c_low = _lower_keys(center)
                cx, cy = c_low.get("x"), c_low.get("y")
            elif isinstance(center, list) and len(center) == 2:
                cx, cy = center
        if cx is None or cy is None:
            return None
        return _numbers([cx, cy, w, h])

    def _dict_box(self, low: dict[str, Any], label: str | None, depth: int) -> None:
        """Find a box in an object by its keys."""
        for key in _BOX_KEYS:
            if key in low:
                order = "yx" if key in _YX_KEYS else ("xy" if key == "bbox_2d" else None)
                if self._value_geometry(low[key], label, order, depth):
                    return
        for keys in _CORNER_KEY_SETS:
            if self._add(self._named(low, keys), "box", label, order="xy"):
                return
        if self._add(self._center_size(low), "box", label, form="cxcywh", order="xy"):
            return
        w, h = _first(low, _WIDTH), _first(low, _HEIGHT)
        if "x" in low and "y" in low and w is not None and h is not None:
            raw = _numbers([low["x"], low["y"], w, h])
            if self._add(raw, "box", label, form="xywh", order="xy"):
                return
        tl = _first(low, ("top_left", "topleft", "upper_left", "start", "p1"))
        br = _first(low, ("bottom_right", "bottomright", "lower_right", "end", "p2"))
        if tl is not None and br is not None:
            corner_pts = [_point_value(tl), _point_value(br)]
            if all(p is not None for p in corner_pts):
                raw = _numbers([*corner_pts[0], *corner_pts[1]])  # type: ignore[misc]
                self._add(raw, "box", label)

    def _dict_polygon(self, low: dict[str, Any], label: str | None, depth: int) -> None:
        """Find a polygon in an object by its keys."""
        for key in _POLY_KEYS:
            if key in low and self._value_geometry(low[key], label, None, depth):
                return

    def _dict_point(self, low: dict[str, Any], label: str | None, depth: int) -> None:
        """Find a point in an object by its keys."""
        for key in _POINT_KEYS:
            if key in low and self._value_geometry(low[key], label, None, depth):
                return
        if "x" in low and "y" in low:
            self._add(_numbers([low["x"], low["y"]]), "point", label, order="xy")

    def _dict_other_shapes(self, low: dict[str, Any], label: str | None) -> None:
        """Fallback: an object holding another shape than the family asked for."""
        for family in ("box", "polygon", "point"):
            if family == self.family:
                continue
            saved, self.family = self.family, family
            try:
                before = len(self.found.raws)
                getattr(self, f"_dict_{family}")(low, label, _MAX_DEPTH - 2)
                if len(self.found.raws) > before:
                    return
            finally:
                self.family = saved


def _point_value(value: Any) -> list[Any] | None:
    """Read ``[x, y]`` or ``{"x":.., "y":..}`` as a 2-list, else None."""
    if isinstance(value, list) and len(value) == 2:
        return value
    if isinstance(value, dict):
        low = _lower_keys(value)
        if "x" in low and "y" in low:
            return [low["x"], low["y"]]
    return None


# --------------------------------------------------------------------------------------
# Relaxed JSON.

_TOKEN = re.compile(
    r"""(?P<dq>"(?:[^"\\\n]|\\.)*")
    |(?P<sq>'(?:[^'\\\n]|\\.)*')
    |(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?P<unit>\s*(?:%|px\b))?
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<open>[\[{(])
    |(?P<close>[\]})])
    |(?P<comma>,)
    |(?P<colon>:)
    |(?P<ws>\s+)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_WORDS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "none": "null",
    "nan": "NaN",
    "inf": "Infinity",
    "infinity": "Infinity",
}
_CLOSER = {"[": "]", "{": "}"}


def _normalise(src: str) -> tuple[list[str], list[str], bool]:
    """Rewrite relaxed JSON as JSON tokens; return tokens, their kinds, and if all closed."""
    out: list[str] = []
    kinds: list[str] = []
    stack: list[str] = []
    last = ""  # kind of the last non-space token
    for m in _TOKEN.finditer(src):
        kind = m.lastgroup or "other"
        if kind == "unit":  # the optional unit closes after the number it belongs to
            kind = "num"
        text = m.group()
        if kind == "ws":
            continue
        if kind == "dq":
            tok = text
        elif kind == "sq":
            inner = text[1:-1].replace('\\"', '"').replace("\\'", "'")
            tok = json.dumps(inner)
            kind = "dq"
        elif kind == "num":
            num = m.group("num")
            unit = (m.group("unit") or "").strip()
            if unit:
                tok = json.dumps(num + unit)
                kind = "dq"
            else:
                if num.startswith("+"):
                    num = num[1:]
                if num.startswith("-."):
                    num = "-0" + num[1:]
                elif num.startswith("."):
                    num = "0" + num
                num = re.sub(r"\.(?=$|[eE])", ".0", num)
                tok = num
        elif kind == "word":
            mapped = _WORDS.get(text.lower())
            nxt = src[m.end() : m.end() + 40].lstrip()
            if nxt.startswith(":") or mapped is None:
                tok = json.dumps(text)
                kind = "dq"
            else:
                tok = mapped
                kind = "num" if mapped in ("NaN", "Infinity") else "lit"
        elif kind == "open":
            tok = "[" if text == "(" else text
            stack.append(tok)
        elif kind == "close":
            if not stack:
                continue
            opened = stack.pop()
            tok = _CLOSER[opened]
        else:
            tok = text
        # Insert commas that a model left out between values: "[1 2]" or "] [".
        if kind in ("num", "dq", "lit", "open") and last in ("num", "dq", "lit", "close"):
            out.append(",")
            kinds.append("comma")
        # Drop trailing commas before a closer.
        if kind == "close" and last == "comma":
            out.pop()
            kinds.pop()
        out.append(tok)
        kinds.append(kind)
        last = kind if kind != "other" else ""
    return out, kinds, not stack


def _stacks_at(tokens: list[str], kinds: list[str], wanted: set[int]) -> dict[int, str]:
    """Closing brackets needed after each wanted token index (replaying opens and closes)."""
    stack: list[str] = []
    snapshots: dict[int, str] = {}
    last = max(wanted, default=-1)
    for i in range(last + 1):
        if kinds[i] == "open":
            stack.append(_CLOSER[tokens[i]])
        elif kinds[i] == "close" and stack:
            stack.pop()
        if i in wanted:
            snapshots[i] = "".join(reversed(stack))
    return snapshots


def _loads(text: str) -> tuple[bool, Any]:
    """``json.loads`` that reports failure instead of raising."""
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def _loads_relaxed(src: str, *, truncated: bool = False) -> tuple[Any, bool, bool] | None:
    """Parse relaxed or truncated JSON; return (value, was_relaxed, was_truncation_repaired)."""
    if not truncated:
        ok, value = _loads(src)
        if ok:
            return value, False, False
    tokens, kinds, balanced = _normalise(src)
    if not tokens:
        return None
    if balanced and not truncated:
        ok, value = _loads("".join(tokens))
        return (value, True, False) if ok else None
    # Truncated: cut after one of the last closers, or before one of the last commas, and
    # close every bracket still open there.
    closes = [i for i in range(len(kinds) - 1, -1, -1) if kinds[i] == "close"][:3]
    commas = [i for i in range(len(kinds) - 1, -1, -1) if kinds[i] == "comma"][:3]
    closing = _stacks_at(tokens, kinds, {*closes, *commas})
    cuts = [(i + 1, closing[i]) for i in closes] + [(i, closing[i]) for i in commas]
    for cut, closers in cuts:
        if not closers:
            continue
        ok, value = _loads("".join(tokens[:cut]) + closers)
        if ok:
            return value, True, True
    return None


_SPAN_START = re.compile(r"[\[{]")
_SPAN_TOKEN = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|[\[\]{}()]")


def _find_spans(src: str) -> list[tuple[int, int, bool]]:
    """Top-level bracketed values in ``src`` as (start, end, closed); strings are skipped."""
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    while (m := _SPAN_START.search(src, pos)) is not None:
        depth = 0
        end = -1
        for t in _SPAN_TOKEN.finditer(src, m.start()):
            ch = t.group()
            if ch in "[{(":
                depth += 1
            elif ch in "]})":
                depth -= 1
                if depth == 0:
                    end = t.end()
                    break
        if end < 0:
            spans.append((m.start(), len(src), False))
            break
        spans.append((m.start(), end, True))
        pos = end
    return spans


_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


def _extract_structured(src: str, family: str, labelled: bool) -> list[_Found]:
    """Parse every bracketed value in ``src``; one ``_Found`` per value."""
    results: list[_Found] = []
    for start, end, closed in _find_spans(src):
        parsed = _loads_relaxed(src[start:end], truncated=not closed)
        if parsed is None:
            continue
        value, relaxed, repaired = parsed
        walker = _Walker(family, labelled)
        walker.walk(value)
        found = walker.found
        found.relaxed = relaxed
        found.truncated = repaired
        if value == [] or value == {}:
            found.explicit_empty = True
        results.append(found)
    return results


def _merge(parts: Sequence[_Found]) -> _Found:
    """Join several sources' items and flags into one."""
    merged = _Found()
    for p in parts:
        merged.raws += p.raws
        merged.notes += p.notes
        merged.explicit_empty = merged.explicit_empty or p.explicit_empty
        merged.truncated = merged.truncated or p.truncated
        merged.relaxed = merged.relaxed or p.relaxed
    return merged


def _choose_structured(text: str, family: str, kind: str) -> _Found | None:
    """Apply the source rules (fenced blocks, then bracketed values) to the whole text."""
    labelled = kind == "labelled_boxes"
    blocks = [m.group(1) for m in _FENCE.finditer(text)]
    if blocks:
        per_block = [_merge(_extract_structured(b, family, labelled)) for b in blocks]
        with_geometry = [i for i, f in enumerate(per_block) if f.raws]
        complete = [i for i in with_geometry if not per_block[i].truncated]
        chosen = (complete or with_geometry or [None])[-1]
        if chosen is not None:
            found = per_block[chosen]
            if len(blocks) > 1:
                found.notes.append(
                    f"{len(blocks)} code blocks; used block {chosen + 1} (the last with geometry)"
                )
            return found
        if any(f.explicit_empty for f in per_block):
            return _merge(per_block)
    parts = _extract_structured(text, family, labelled)
    with_geometry = [p for p in parts if p.raws]
    if with_geometry:
        same_shape = [p for p in with_geometry if any(r.shape == family for r in p.raws)]
        if kind in _PLURAL_KINDS or not same_shape:
            return _merge(with_geometry)
        found = same_shape[-1]
        if len(same_shape) > 1:
            found.notes.append(
                f"{len(same_shape)} separate JSON values; used the last one with geometry"
            )
        return found
    if any(p.explicit_empty for p in parts):
        return _merge(parts)
    return None


# --------------------------------------------------------------------------------------
# Prose.

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_UNIT = r"(?:\s*(%|px\b|pixels?\b))?"
_NU = rf"({_NUM}){_UNIT}"
_TUPLE = re.compile(rf"[(\[]\s*{_NU}\s*,\s*{_NU}(?:\s*,\s*{_NU}\s*,\s*{_NU})?\s*[)\]]")
_XY = re.compile(
    rf"\b(x|y)\s*(?:=|:|is|of)\s*{_NU}\s*[,;]?\s*(?:and\s+)?\b(x|y)\s*(?:=|:|is|of)\s*{_NU}",
    re.IGNORECASE,
)
_NAMED = re.compile(rf"\b([xy])_?(min|max)\b\s*(?:=|:|is|of)?\s*{_NU}", re.IGNORECASE)
_RANGE = re.compile(
    r"\b([xy])\s*(?:=|:|from|ranges?\s+from|spans?)?\s*(\d+(?:\.\d*)?)\s*(%|px\b)?\s*"
    r"(?:-|–|to)\s*(\d+(?:\.\d*)?)\s*(%|px\b)?",
    re.IGNORECASE,
)
_SIZE = re.compile(rf"\b(width|height)\b\s*(?:=|:|is|of)?\s*{_NU}", re.IGNORECASE)
_CENTER_WORD = re.compile(r"\bcent(?:er|re)(?:ed)?\b|\bmidpoint\b", re.IGNORECASE)
_BARE_LIST = re.compile(rf"^\s*{_NUM}%?(?:\s*[,;\s]\s*{_NUM}%?)+\s*$")


def _unit(u: str | None) -> str | None:
    """Normalise a matched unit to '%', 'px' or None."""
    if not u:
        return None
    return "%" if u.strip() == "%" else "px"


def _raw_from(pairs: Sequence[tuple[str, str | None]], shape: str = "box") -> _Raw:
    """Build a raw item of ``shape`` from matched (number text, unit) pairs."""
    vals = np.array([float(v) for v, _ in pairs], dtype=np.float64)
    units = tuple(_unit(u) for _, u in pairs)
    dec = any("." in v or "e" in v.lower() for v, _ in pairs)
    return _Raw(shape, vals, units if any(units) else None, dec)  # type: ignore[arg-type]


_Pairs = list[tuple[str, str | None]]


@dataclass
class _ProseEvent:
    """One coordinate group found in prose: its numbers, position and context."""

    pos: int
    numbers: _Pairs
    after_centre_word: bool = False
    order: str | None = None

    def raw(self, shape: str) -> _Raw:
        """The event's numbers as a raw item of ``shape``."""
        raw = _raw_from(self.numbers, shape)
        raw.order = self.order
        return raw


def _prose_events(text: str) -> tuple[list[_ProseEvent], list[_ProseEvent]]:
    """Point-like (2 numbers) and box-like (4 numbers) groups in prose, in text order."""
    centre_ends = [m.end() for m in _CENTER_WORD.finditer(text)]

    def near_centre(pos: int) -> bool:
        return any(0 <= pos - e <= 30 for e in centre_ends)

    points: list[_ProseEvent] = []
    boxes: list[_ProseEvent] = []
    for m in _TUPLE.finditer(text):
        g = m.groups()
        if g[4] is None:
            points.append(_ProseEvent(m.start(), [g[0:2], g[2:4]], near_centre(m.start())))
        else:
            boxes.append(_ProseEvent(m.start(), [g[0:2], g[2:4], g[4:6], g[6:8]]))
    for m in _XY.finditer(text):
        a, av, au, b, bv, bu = m.groups()
        if a.lower() != b.lower():
            xy = [(av, au), (bv, bu)] if a.lower() == "x" else [(bv, bu), (av, au)]
            points.append(_ProseEvent(m.start(), xy, near_centre(m.start()), "xy"))
    points.sort(key=lambda e: e.pos)
    return points, boxes


def _prose_box(text: str, points: list[_ProseEvent], boxes: list[_ProseEvent]) -> _Found:
    """Boxes in prose: named corners, x/y ranges, centre + size, 4-tuples or corner points."""
    found = _Found()
    named: dict[str, tuple[str, str | None]] = {}
    for m in _NAMED.finditer(text):
        named.setdefault(f"{m.group(1).lower()}{m.group(2).lower()}", (m.group(3), m.group(4)))
    ranges: dict[str, _Pairs] = {}
    for m in _RANGE.finditer(text):
        ranges.setdefault(m.group(1).lower(), [(m.group(2), m.group(3)), (m.group(4), m.group(5))])
    sizes: dict[str, tuple[str, str | None]] = {}
    for m in _SIZE.finditer(text):
        sizes.setdefault(m.group(1).lower(), (m.group(2), m.group(3)))
    centres = [e for e in points if e.after_centre_word]
    if all(k in named for k in ("xmin", "ymin", "xmax", "ymax")):
        raw = _raw_from([named["xmin"], named["ymin"], named["xmax"], named["ymax"]])
        raw.order = "xy"
        found.raws.append(raw)
    elif "x" in ranges and "y" in ranges:
        (x0, x1), (y0, y1) = ranges["x"], ranges["y"]
        raw = _raw_from([x0, y0, x1, y1])
        raw.order = "xy"
        found.raws.append(raw)
    elif centres and "width" in sizes and "height" in sizes:
        centre = centres[0]
        raw = _raw_from([*centre.numbers, sizes["width"], sizes["height"]])
        raw.form = "cxcywh"
        raw.order = centre.order  # a bare (a, b) centre follows the answer's axis order
        found.raws.append(raw)
    else:
        # Corner points are paired into boxes later, by _convert_shape.
        found.raws = [e.raw("box") for e in boxes] or [e.raw("point") for e in points]
        if len(points) == 1 and not boxes:
            found.notes.append("a single point in prose is not a box")
    return found


def _extract_prose(text: str, family: str) -> _Found:
    """Read coordinates written in prose (tuples, x=/y=, x_min:, ranges, centre + size)."""
    if _BARE_LIST.match(text):
        raw = _raw_from(
            [(v.rstrip("%"), v[-1] if v.endswith("%") else None) for v in _number_tokens(text)]
        )
        walker = _Walker(family, False)
        if raw.values.size in (2, 4):
            walker._bare_numbers(raw, None)
        elif raw.values.size >= 6 and raw.values.size % 2 == 0:
            walker._add(raw, "polygon", None)
        return walker.found
    points, boxes = _prose_events(text)
    if family == "box":
        return _prose_box(text, points, boxes)
    found = _Found()
    if family == "point":
        ordered = sorted(points, key=lambda e: not e.after_centre_word)  # centre-marked first
        found.raws = [e.raw("point") for e in ordered] or [e.raw("box") for e in boxes]
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


# --------------------------------------------------------------------------------------
# Refusals, empty statements, text hints.

_REFUSAL = re.compile(
    r"\bI\s*(?:cannot|can\s*not|can't|can’t|am\s+unable|'m\s+unable|’m\s+unable|am\s+not\s+able|"
    r"'m\s+not\s+able|won't|will\s+not|must\s+decline)\b|\bas\s+an\s+AI\b|"
    r"\bunable\s+to\s+(?:provide|assist|help|analy[sz]e|determine|identify|locate)\b|"
    r"\bnot\s+(?:able|qualified|permitted)\s+to\s+(?:provide|give|offer)\b|"
    r"\bconsult\s+(?:a|your)\s+(?:qualified\s+)?(?:medical|healthcare|health\s+care)\b|"
    r"\bI(?:'m|’m|\s+am)\s+sorry\b|\bI\s+apologi[sz]e\b",
    re.IGNORECASE,
)
_EMPTY_STATEMENT = re.compile(
    r"\b(?:none|nothing)\s+(?:was\s+|were\s+|is\s+|are\s+)?"
    r"(?:found|detected|seen|visible|identified|present)\b|"
    r"\bno\s+(?:\w+\s+){0,3}?(?:lesions?|findings?|abnormalit\w+|polyps?|masses|mass|nodules?|"
    r"tumou?rs?|objects?|boxes|regions?|detections?|pathology|anomal\w+)\b|"
    r"\bthere\s+(?:is|are)\s+no\b|\bnot\s+(?:found|detected|present|visible)\b|"
    r"^\s*(?:none|no|nothing|n/?a)\s*[.!]?\s*$",
    re.IGNORECASE,
)
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


# --------------------------------------------------------------------------------------
# Conversion to pixels.


def _decide_scale(raws: Sequence[_Raw], expected: str, stated: str | None) -> tuple[str, str]:
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


def _to_pixels(raw: _Raw, scale: str, order: str, geometry: ImageGeometry) -> np.ndarray:
    """Multiply a raw item's numbers into pixel units, returning them in x-first order.

    In y-first order every pair of a corner box, point or polygon is swapped; for a
    centre/corner-plus-size box only the leading point is (sizes are always width, height).
    """
    vals = raw.values.astype(np.float64, copy=True)
    units = list(raw.units) if raw.units is not None else None
    if order == "yx":
        n_swap = vals.size // 2 if raw.form == "xyxy" else 1
        idx = np.arange(vals.size)
        idx[: 2 * n_swap] = idx[: 2 * n_swap].reshape(-1, 2)[:, ::-1].reshape(-1)
        vals = vals[idx]
        if units is not None:
            units = [units[i] for i in idx]
    if units is None:
        fx, fy = pixels_per_unit(scale, geometry)
        return vals * np.tile([fx, fy], vals.size // 2)
    out = np.empty(vals.size)
    for i, (v, u) in enumerate(zip(vals, units, strict=True)):
        s = {"%": "percent", "px": "pixel"}.get(u or "", scale)
        out[i] = v * pixels_per_unit(s, geometry)[i % 2]
    return out


@dataclass
class _Tally:
    """Running notes, clamp count and repair flag while converting items."""

    notes: list[str] = field(default_factory=list)
    n_clamped: int = 0
    repaired: bool = False


def _clamp(arr: np.ndarray, geometry: ImageGeometry, tally: _Tally) -> np.ndarray:
    """Clamp x-first coordinate pairs into the image and count the values moved."""
    pts = arr.reshape(-1, 2)
    lim = np.array([geometry.width, geometry.height], dtype=np.float64)
    moved = int(np.count_nonzero((pts < 0) | (pts > lim)))
    tally.n_clamped += moved
    return np.clip(pts, 0, lim).reshape(arr.shape)


def _box_from_raw(
    raw: _Raw, idx: int, scale: str, order: str, geometry: ImageGeometry, tally: _Tally
) -> Box | None:
    """Convert a raw box (any form) into a clamped pixel ``Box``; None if invalid."""
    if raw.values.size != 4:
        tally.notes.append(f"item {idx}: a box needs 4 numbers, got {raw.values.size}; dropped")
        return None
    if not np.all(np.isfinite(raw.values)):
        tally.notes.append(f"item {idx}: NaN or infinite coordinate; dropped")
        return None
    a, b, c, d = _to_pixels(raw, scale, order, geometry)
    if raw.form in ("xywh", "cxcywh"):
        if c < 0 or d < 0:
            tally.notes.append(f"item {idx}: negative width or height; dropped")
            return None
        if raw.form == "xywh":
            x0, y0, x1, y1 = a, b, a + c, b + d
        else:
            x0, y0, x1, y1 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x0, y0, x1, y1 = a, b, c, d
    if x0 > x1 or y0 > y1:
        tally.notes.append(f"item {idx}: corners were swapped; put in order")
        tally.repaired = True
        x0, x1 = min(x0, x1), max(x0, x1)
        y0, y1 = min(y0, y1), max(y0, y1)
    x0, y0, x1, y1 = (float(v) for v in _clamp(np.array([x0, y0, x1, y1]), geometry, tally))
    score = raw.score if raw.score is not None and math.isfinite(raw.score) else None
    return Box(x0, y0, x1, y1, label=raw.label, score=score)


def _polygon_from_raw(
    raw: _Raw, idx: int, scale: str, order: str, geometry: ImageGeometry, tally: _Tally
) -> Polygon | None:
    """Convert a raw polygon into clamped pixel vertices; None if invalid."""
    if raw.values.size % 2:
        tally.notes.append(f"item {idx}: polygon has an odd number of coordinates; dropped")
        return None
    if not np.all(np.isfinite(raw.values)):
        tally.notes.append(f"item {idx}: NaN or infinite coordinate; dropped")
        return None
    pts = _to_pixels(raw, scale, order, geometry).reshape(-1, 2)
    if len(pts) >= 2 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
        tally.notes.append(f"item {idx}: repeated closing vertex dropped")
    if len(pts) < 3:
        tally.notes.append(f"item {idx}: polygon has {len(pts)} vertices (needs 3); dropped")
        return None
    pts = _clamp(pts, geometry, tally)
    return tuple(map(tuple, pts.tolist()))


def _point_from_raw(
    raw: _Raw, idx: int, scale: str, order: str, geometry: ImageGeometry, tally: _Tally
) -> Point | None:
    """Convert a raw point into a clamped pixel point; None if invalid."""
    if raw.values.size != 2:
        tally.notes.append(f"item {idx}: a point needs 2 numbers, got {raw.values.size}; dropped")
        return None
    if not np.all(np.isfinite(raw.values)):
        tally.notes.append(f"item {idx}: NaN or infinite coordinate; dropped")
        return None
    x, y = _clamp(_to_pixels(raw, scale, order, geometry), geometry, tally)
    return float(x), float(y)


def _convert_shape(raws: list[_Raw], family: str, tally: _Tally) -> list[_Raw]:
    """Keep items of the requested family, converting other shapes when none match."""
    wanted = [r for r in raws if r.shape == family]
    if wanted:
        return wanted
    out: list[_Raw] = []
    if family == "box" and len(raws) >= 2 and all(r.shape == "point" for r in raws):
        if len(raws) % 2:
            tally.notes.append("odd number of corner points; the last was ignored")
        for a, b in zip(raws[0::2], raws[1::2], strict=False):
            units = None
            if a.units is not None or b.units is not None:
                units = (*(a.units or (None, None)), *(b.units or (None, None)))
            out.append(
                _Raw(
                    "box",
                    np.concatenate([a.values, b.values]),
                    units,
                    a.has_decimal or b.has_decimal,
                    "xyxy",
                    a.order or b.order,
                    a.label,
                    a.score,
                )
            )
        tally.notes.append("box corners given as separate points; paired in order")
        return out
    for r in raws:
        if family == "box" and r.shape == "polygon" and r.values.size >= 6:
            pts = r.values.reshape(-1, 2)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            out.append(_copy_raw(r, "box", np.concatenate([lo, hi]), "bounding box of a polygon"))
        elif family == "point" and r.shape == "box" and r.form == "xyxy":
            v = r.values
            centre = np.array([(v[0] + v[2]) / 2, (v[1] + v[3]) / 2])
            out.append(_copy_raw(r, "point", centre, "centre of a box"))
        elif family == "point" and r.shape == "polygon":
            centre = r.values.reshape(-1, 2).mean(axis=0)
            out.append(_copy_raw(r, "point", centre, "mean vertex of a polygon"))
        elif family == "polygon" and r.shape == "box" and r.form == "xyxy":
            a, b, c, d = r.values
            corners = np.array([a, b, c, b, c, d, a, d])
            out.append(_copy_raw(r, "polygon", corners, "corners of a box"))
    if out:
        tally.repaired = True
        names = sorted({r.converted_from for r in out if r.converted_from})
        tally.notes.append(f"no {family} given; used the {', '.join(names)} instead")
    return out


def _copy_raw(r: _Raw, shape: str, values: np.ndarray, why: str) -> _Raw:
    """A converted item keeping the source's units only when they are uniform."""
    units = None
    if r.units is not None and len(set(r.units)) == 1:
        units = (r.units[0],) * values.size
    return _Raw(
        shape,  # type: ignore[arg-type]
        values,
        units,
        r.has_decimal,
        "xyxy",
        r.order,
        r.label,
        r.score,
        converted_from=why,
    )


def _map_label(label: str | None, labels: Sequence[str] | None, tally: _Tally) -> str | None:
    """Map a label case-insensitively onto the allowed labels; keep unknown ones, noted."""
    if label is None or labels is None:
        return label
    key = re.sub(r"[\s_\-]+", " ", label).strip().casefold()
    for allowed in labels:
        if re.sub(r"[\s_\-]+", " ", allowed).strip().casefold() == key:
            return allowed
    tally.notes.append(f"label {label!r} is not one of the given labels; kept as given")
    return label


# --------------------------------------------------------------------------------------
# Entry point.


def parse_spatial(
    text: str,
    kind: Kind,
    geometry: ImageGeometry,
    expected: str = "norm1000_xyxy",
    labels: Sequence[str] | None = None,
) -> SpatialAnswer:
    """Read boxes, polygons or points of ``kind`` from a model answer, in pixel space.

    ``expected`` is the convention the prompt asked for (see ``medmine.tasks.coords``);
    the answer's numbers may override it as described in this module's docstring. Bad
    arguments (unknown kind or convention, wrong geometry type, non-string text) raise
    ``ValueError``; any string ``text`` returns a ``SpatialAnswer``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(geometry, ImageGeometry):
        raise ValueError(f"geometry must be an ImageGeometry, got {type(geometry).__name__}")
    if expected not in CONVENTIONS:
        raise ValueError(
            f"unknown expected convention {expected!r}; expected one of {', '.join(CONVENTIONS)}"
        )
    if labels is not None:
        if isinstance(labels, str) or not all(isinstance(lb, str) for lb in labels):
            raise ValueError("labels must be a sequence of strings")
        labels = tuple(labels)
    try:
        return _parse(text, kind, geometry, expected, labels)
    except Exception as exc:  # safety net for the never-raise contract; tests assert unused
        return SpatialAnswer(
            status="unparseable",
            notes=(f"internal parser error: {type(exc).__name__}: {exc}",),
        )


def _parse(
    text: str, kind: str, geometry: ImageGeometry, expected: str, labels: tuple[str, ...] | None
) -> SpatialAnswer:
    """The parsing pipeline behind ``parse_spatial`` (arguments already validated)."""
    if not text.strip():
        return SpatialAnswer(status="unparseable", notes=("empty answer",))
    family = _FAMILY[kind]
    found = _choose_structured(text, family, kind)
    if found is None or not found.raws:
        prose = _extract_prose(text, family)
        if prose.raws:
            prose.notes.insert(0, "coordinates read from prose")
            found = prose
    notes: list[str] = []
    if found is not None:
        notes += found.notes
    if found is None or not found.raws:
        plural = kind in _PLURAL_KINDS
        if found is not None and found.explicit_empty:
            if plural:
                return SpatialAnswer(status="ok", notes=("explicit empty list: no items",))
            return SpatialAnswer(
                status="unparseable",
                notes=(*notes, f"empty list given, but kind {kind!r} needs one item"),
            )
        if _REFUSAL.search(text):
            return SpatialAnswer(status="refused", notes=("refusal, no geometry given",))
        if plural and _EMPTY_STATEMENT.search(text):
            return SpatialAnswer(status="ok", notes=("answer states that nothing was found",))
        return SpatialAnswer(status="unparseable", notes=(*notes, "no geometry found"))
    return _finish(found, kind, family, geometry, expected, labels, text, notes)


def _finish(
    found: _Found,
    kind: str,
    family: str,
    geometry: ImageGeometry,
    expected: str,
    labels: tuple[str, ...] | None,
    text: str,
    notes: list[str],
) -> SpatialAnswer:
    """Decide the convention, convert items to pixels, validate and build the answer."""
    tally = _Tally(notes=notes)
    if found.truncated:
        tally.repaired = True
        tally.notes.append("truncated JSON closed after its last complete element")
    elif found.relaxed:
        tally.notes.append("read as relaxed JSON (quotes, tuples, commas or units fixed)")
    raws = _convert_shape(found.raws, family, tally)
    spec = parse_convention(expected)
    stated = "pixel" if _PIXEL_STATED.search(text) else None
    if stated is None and _PERCENT_STATED.search(text):
        stated = "percent"
    scale, why = _decide_scale(raws, spec.scale, stated)
    if scale != spec.scale:
        tally.notes.append(f"read as {scale} instead of the expected {spec.scale}: {why}")
    text_order = "yx" if _YX_STATED.search(text) else spec.order
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
            box = _box_from_raw(raw, idx, scale, order, geometry, tally)
            if box is not None and kind == "labelled_boxes" and box.label is None:
                tally.notes.append(f"item {idx}: box has no label")
            if box is not None:
                boxes.append(_with_label(box, _map_label(box.label, labels, tally)))
            dropped += box is None
        elif family == "polygon":
            poly = _polygon_from_raw(raw, idx, scale, order, geometry, tally)
            if poly is not None:
                polygons.append(poly)
            dropped += poly is None
        else:
            pt = _point_from_raw(raw, idx, scale, order, geometry, tally)
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
    if kind not in _PLURAL_KINDS and kept > 1:
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
