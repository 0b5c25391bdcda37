"""Shared readers of free-text model answers: JSON blocks and refusals.

Refusal cues come from the one shared vocabulary, :mod:`medmine.cues`.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from medmine.cues import is_refusal

_FLAT = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
_FENCE = re.compile(r"```(?:json|JSON|python)?\s*(.*?)```", re.S)


def strip_markup(text: str) -> str:
    """The answer without markdown emphasis, headings and surrounding whitespace."""
    text = re.sub(r"[*_`#>]+", " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def json_candidates(text: str) -> list[Any]:
    """Every JSON value found in the answer: fenced blocks first, then bare objects/arrays.

    Later candidates come later in the list; a caller that wants the final answer takes the
    last one that has what it needs.
    """
    found: list[Any] = []
    for block in _FENCE.findall(text):
        value = _loads(block.strip())
        if value is not None:
            found.append(value)
    if found:
        return found
    decoder = json.JSONDecoder()
    i = 0
    while True:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            flat = _FLAT.match(text, start)
            value = _loads(flat.group(0)) if flat else None
            if value is None:
                i = start + 1
                continue
            end = flat.end()  # type: ignore[union-attr]
        found.append(value)
        i = end
    return found


def _loads(blob: str) -> Any:
    try:
        return json.loads(blob)
    except json.JSONDecodeError:
        # Tolerate the two most common slips: single quotes and trailing commas.
        repaired = re.sub(r",\s*([}\]])", r"\1", blob.replace("'", '"'))
        try:
            return json.loads(repaired)
        except json.JSONDecodeError:
            pass
    try:  # Python literals: single quotes, True/None, tuples
        return ast.literal_eval(blob)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def looks_like_refusal(text: str) -> bool:
    """True when the answer declines the task (used only when nothing usable was found)."""
    return is_refusal(text)
