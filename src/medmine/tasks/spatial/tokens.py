"""Model-family output formats whose scale and order the format itself fixes.

A careful reader knows these formats, so their numbers are not unit-less: each value is
converted here to a percentage of the image side (unit ``%``), which no scale decision can
override and no other reading rivals.

* InternVL ``<ref>label</ref><box>[[x0, y0, x1, y1], ...]</box>`` and Qwen-VL
  ``<ref>label</ref><box>(x0,y0),(x1,y1)</box>``: 0..1000, x first (a ``<box>`` without
  its ``<ref>`` is read as ordinary bracketed numbers, in the asked scale).
* Qwen2-VL box tokens ``<|box_start|>(x0,y0),(x1,y1)<|box_end|>``: 0..1000, x first.
  These 0..1000 formats keep their numbers as written (``RawItem.fixed``); the scale
  decision reads them on 0..1000 unless a value exceeds 1000 (see
  :func:`medmine.tasks.spatial.scale.decide_fixed`). The bin formats below cannot exceed
  their range and are converted to percent here.
* Florence-2 ``label<loc_312><loc_198><loc_645><loc_560>``: 1000 bins, x first, bin centres.
* PaliGemma ``<loc0203><loc0320><loc0574><loc0660> label``: 1024 bins, y first.
* Kosmos-2 ``<patch_index_0137><patch_index_0725>``: a 32 x 32 patch grid, patch centres.
* Molmo ``<point x="61.5" y="40.6" alt="polyp">`` and ``<points x1=".." y1=".." ...>``:
  percent of the image (0..100), x first.
* YOLO lines ``class cx cy w h`` (all four within 0..1): 0..1 centre and size; two or more
  such lines, or one with the word "YOLO" in the answer.

The label that goes with a box is the text of the nearest ``<|object_ref_start|>..``,
``<ref>..</ref>`` or ``<phrase>..</phrase>`` before it, Florence-2's word before its tokens,
PaliGemma's words after them, or a YOLO line's class word.
"""

from __future__ import annotations

import re

import numpy as np

from medmine.tasks.spatial.raw import Found, RawItem

_N = r"\s*(\d+(?:\.\d+)?)\s*"
_QWEN_BOX = re.compile(
    rf"<\|box_start\|>\s*\({_N},{_N}\)\s*(?:,\s*\({_N},{_N}\))?\s*<\|box_end\|>", re.IGNORECASE
)
# InternVL "<ref>polyp</ref><box>[[x0, y0, x1, y1], ...]</box>" and Qwen-VL
# "<ref>polyp</ref><box>(x0,y0),(x1,y1)</box>": both 0..1000, x first
_REF_BOX = re.compile(
    r"<ref>([^<]*)</ref>\s*<box>\s*((?:\[\s*\[[\d\s,.\[\]]*\]\s*\])|(?:\([\d\s,.]*\)\s*,?\s*)+)\s*</box>",
    re.IGNORECASE,
)
_QWEN_REF = re.compile(r"<\|object_ref_start\|>(.*?)<\|object_ref_end\|>", re.DOTALL)
_REF = re.compile(r"<(ref|phrase)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_FLORENCE = re.compile(r"(?:<loc_\d{1,4}>\s*){4}")
_PALI = re.compile(r"((?:<loc\d{4}>\s*){4})\s*([^<>\n;]*)")
_KOSMOS = re.compile(r"<patch_index_(\d{4})>\s*<patch_index_(\d{4})>")
_YOLO = re.compile(
    r"^\s*`*\s*([A-Za-z_][\w-]*|\d+)\s+((?:0?\.\d+|[01](?:\.0+)?)(?:\s+(?:0?\.\d+|[01](?:\.0+)?)){3})"
    r"\s*`*\s*$",
    re.MULTILINE,
)
# Molmo: <point x="61.5" y="40.6" alt="polyp">polyp</point>, <points x1=".." y1=".." x2=..>
_MOLMO = re.compile(r"<(points?)\b([^<>]*\bx\d*\s*=[^<>]*)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_MOLMO_ATTR = re.compile(r"\b([xy])(\d*)\s*=\s*[\"']\s*(\d+(?:\.\d+)?)\s*[\"']", re.IGNORECASE)
_MOLMO_ALT = re.compile(r"\balt\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_YOLO_WORD = re.compile(r"\byolo\b", re.IGNORECASE)
_FRAC = r"(?:0?\.\d+|[01](?:\.0+)?)"
_YOLO_INLINE = re.compile(rf"`\s*([A-Za-z_][\w-]*|\d+)\s+({_FRAC}(?:\s+{_FRAC}){{3}})\s*`")


def _pct_item(values: list[float], shape: str, label: str | None, form: str = "xyxy") -> RawItem:
    """A raw item whose values are percentages of the image side (x first)."""
    arr = np.array(values, dtype=np.float64)
    raw = RawItem(shape, arr, tuple("%" for _ in values), True)  # type: ignore[arg-type]
    raw.order = "xy"
    raw.label = label.strip() or None if label else None
    raw.form = form  # type: ignore[assignment]
    return raw


def _k1000_item(values: list[float], shape: str, label: str | None) -> RawItem:
    """A raw item on the format's fixed 0..1000 scale, x first (Qwen2-VL, InternVL, Qwen-VL).

    The values stay as written so that values beyond 1000 can be recognised (see
    :func:`medmine.tasks.spatial.scale.decide_fixed`).
    """
    raw = RawItem(shape, np.array(values, dtype=np.float64))  # type: ignore[arg-type]
    raw.order = "xy"
    raw.label = label.strip() or None if label else None
    raw.fixed = "token"
    return raw


def _ref_before(text: str, pos: int, pattern: re.Pattern[str], group: int) -> str | None:
    """The text of the last ``pattern`` match that ends before ``pos``, if any."""
    last = None
    for m in pattern.finditer(text, 0, pos):
        last = m.group(group)
    return last


def ref_labels(text: str) -> list[str]:
    """InternVL/Qwen-style ``<ref>label</ref>`` labels in text order (one per box group)."""
    return [m.group(2).strip() for m in _REF.finditer(text)]


def extract_tokens(text: str, family: str) -> Found | None:
    """Geometry written in a model family's own token format (see module doc), else None."""
    found = Found()
    first, last = len(text), 0
    for m in _QWEN_BOX.finditer(text):
        vals = [float(v) for v in m.groups() if v is not None]
        label = _ref_before(text, m.start(), _QWEN_REF, 1)
        shape = "box" if len(vals) == 4 else "point"
        found.raws.append(_k1000_item(vals, shape, label))
        first, last = min(first, m.start()), max(last, m.end())
    if not found.raws:
        for m in _REF_BOX.finditer(text):
            nums = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", m.group(2))]
            for i in range(0, len(nums) - 3, 4):
                found.raws.append(_k1000_item(nums[i : i + 4], "box", m.group(1)))
            first, last = min(first, m.start()), max(last, m.end())
    if not found.raws:
        for m in _FLORENCE.finditer(text):
            bins = [int(v) for v in re.findall(r"\d+", m.group())]
            vals = [(b + 0.5) / 10.0 for b in bins]  # bin centres, percent
            head = text[max(0, m.start() - 80) : m.start()]  # the label: words before the tokens
            label = re.split(r"[<>\n]", head)[-1].strip(" :,-")
            found.raws.append(_pct_item(vals, "box", label))
            first, last = min(first, m.start()), max(last, m.end())
    if not found.raws:
        for m in _PALI.finditer(text):
            y0, x0, y1, x1 = (int(v) for v in re.findall(r"\d{4}", m.group(1)))
            vals = [v * 100.0 / 1024.0 for v in (x0, y0, x1, y1)]
            found.raws.append(_pct_item(vals, "box", m.group(2).strip()))
            first, last = min(first, m.start()), max(last, m.end())
    if not found.raws:
        for m in _KOSMOS.finditer(text):
            a, b = int(m.group(1)), int(m.group(2))
            vals = [
                (a % 32 + 0.5) * 100 / 32,
                (a // 32 + 0.5) * 100 / 32,
                (b % 32 + 0.5) * 100 / 32,
                (b // 32 + 0.5) * 100 / 32,
            ]
            label = _ref_before(text, m.start(), _REF, 2)
            found.raws.append(_pct_item(vals, "box", label))
            first, last = min(first, m.start()), max(last, m.end())
    if not found.raws:
        _molmo(text, family, found)
        if found.raws:
            return found
    if not found.raws and family == "box":
        _yolo(text, found)
        return found if found.raws else None
    if not found.raws:
        return None
    found.notes.append("read from the model's own location tokens (their scale is fixed)")
    found.span = (first, last)
    return found


def _molmo(text: str, family: str, found: Found) -> None:
    """Molmo's ``<point x=".." y="..">`` / ``<points x1=.. y1=.. ...>``: percent of the image.

    Each point is an item; for polygons, three or more points of one tag are its vertices.
    """
    for m in _MOLMO.finditer(text):
        coords: dict[str, dict[str, float]] = {}
        for axis, idx, val in _MOLMO_ATTR.findall(m.group(2)):
            coords.setdefault(idx, {})[axis.lower()] = float(val)
        pts = [c for c in coords.values() if "x" in c and "y" in c]
        alt = _MOLMO_ALT.search(m.group(2))
        label = alt.group(1) if alt else m.group(3)
        if family == "polygon" and len(pts) >= 3:
            found.raws.append(
                _pct_item([v for p in pts for v in (p["x"], p["y"])], "polygon", label)
            )
        else:
            found.raws += [_pct_item([p["x"], p["y"]], "point", label) for p in pts]
        found.span = (m.start() if found.span is None else found.span[0], m.end())
    if found.raws:
        found.notes.append("read as Molmo points (percent of the image; the format fixes it)")


def _yolo(text: str, found: Found) -> None:
    """YOLO lines ``class cx cy w h``: two or more such lines, or one with "YOLO" stated."""
    lines = list(_YOLO.finditer(text))
    stated = _YOLO_WORD.search(text) is not None
    if not lines and stated:
        lines = list(_YOLO_INLINE.finditer(text))
    if not lines or (len(lines) < 2 and not stated):
        return
    for m in lines:
        cls = m.group(1)
        vals = [float(v) * 100.0 for v in m.group(2).split()]
        found.raws.append(_pct_item(vals, "box", cls, "cxcywh"))  # an index maps to labels
    found.notes.append("read as YOLO lines (class, centre x, centre y, width, height in 0..1)")
    found.span = (lines[0].start(), lines[-1].end())
