"""Geometry laid out by lines: markdown tables with a header, and one item per list line.

(A "line" is also a clause ended by ``;`` or a sentence: "Polyp A: [..]; Polyp B: [..]".)

A markdown table whose header names coordinates (``| label | x_min | y_min | x_max | y_max |``
or ``| Finding | Bounding box (x1, y1, x2, y2) |``) is read row by row as JSON objects keyed by
the header cells, so every key alias the JSON reader knows applies. A list with one item per
line ("1. Polyp at [312, 198, 645, 560]", "- polyp: x1=312, y1=198, x2=645, y2=560") is read
line by line, each line's leading words being its label.
"""

from __future__ import annotations

import itertools
import re

from medmine.tasks.spatial.prose import extract_prose
from medmine.tasks.spatial.raw import Found
from medmine.tasks.spatial.walker import Walker

_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
_RULE = re.compile(r"^[\s|:\-]+$")
# items end at a line break, a semicolon or a full stop before a capital ("...]. Polyp B: [")
_SEGMENT_END = re.compile(r"\n|;|\.\s+(?=[A-Z])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LEAD = re.compile(r"^\s*(?:[-*•+]|\d+[.)])?\s*")
_LABEL_END = re.compile(
    r"\s*(?:\b(?:is\s+)?(?:located\s+)?at\b|\bbox\b|\bbounding\b|[:—–=(\[]|-\s|,|\d).*$",
    re.IGNORECASE | re.DOTALL,
)


def _cells(line: str) -> list[str] | None:
    """The cells of a markdown table row, else None."""
    m = _ROW.match(line)
    return None if m is None else [c.strip() for c in m.group(1).split("|")]


def _key(header: str) -> str:
    """A header cell as a JSON key: parenthetical and markdown dropped, spaces as underscores."""
    text = re.sub(r"\(.*?\)|\*", "", header).strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def extract_table(text: str, family: str, kind: str) -> Found | None:
    """Items of the first markdown table whose rows yield geometry, else None."""
    lines = text.splitlines()
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    i = 0
    while i < len(lines):
        header = _cells(lines[i])
        if header is None or i + 1 >= len(lines) or not _RULE.match(lines[i + 1]):
            i += 1
            continue
        keys = [_key(h) for h in header]
        rows: list[dict[str, str]] = []
        j = i + 2
        while j < len(lines) and (cells := _cells(lines[j])) is not None:
            rows.append({k: c for k, c in zip(keys, cells, strict=False) if k})
            j += 1
        walker = Walker(family, kind == "labelled_boxes")
        walker.walk(rows)
        if walker.found.raws:
            walker.found.notes.append("read from a markdown table, one item per row")
            walker.found.span = (offsets[i], offsets[j])
            return walker.found
        i = j
    return None


def _line_label(line: str) -> str | None:
    """The leading words of a list line ("1. **Polyp** — ...") as a label, else None."""
    body = _LEAD.sub("", line.replace("*", ""))
    head = _LABEL_END.sub("", body).strip(" .:-")
    if not head:  # "1. [312, 198, 645, 560] - polyp (0.92)": the words after the geometry
        rest = re.sub(r"[\[(][^\])]*[\])]|\d+(?:\.\d+)?%?", " ", body)
        head = " ".join(re.findall(r"[A-Za-z][\w'-]*", rest))
    return head if head and len(head.split()) <= 4 else None


def extract_lines(text: str, family: str) -> Found | None:
    """One box per line (or clause) in two or more of them, each labelled by its leading words."""
    if family != "box":
        return None
    found = Found()
    first, last = -1, 0
    cuts = [0, *(m.end() for m in _SEGMENT_END.finditer(text)), len(text)]
    for start, pos in itertools.pairwise(cuts):
        line = text[start:pos]
        if len(_NUMBER.findall(line)) < 4 or _cells(line) is not None:
            continue
        one = extract_prose(line, family)
        if len(one.raws) != 1 or one.raws[0].shape != "box":
            continue
        raw = one.raws[0]
        raw.label = _line_label(line)
        found.raws.append(raw)
        first = start if first < 0 else first
        last = pos
    if len(found.raws) < 2:
        return None
    found.notes.append("read one item per line")
    found.span = (first, last)
    return found
