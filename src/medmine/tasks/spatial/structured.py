"""Geometry from JSON-like values: the fenced-block and bracketed-value source rules."""

from __future__ import annotations

from collections.abc import Sequence

from medmine.tasks.spatial.answer import PLURAL_KINDS
from medmine.tasks.spatial.raw import Found
from medmine.tasks.spatial.relaxed_json import fenced_blocks, find_spans, loads_relaxed
from medmine.tasks.spatial.walker import Walker


def extract_structured(src: str, family: str, labelled: bool, offset: int = 0) -> list[Found]:
    """Parse every bracketed value in ``src``; one ``Found`` per value (span: ``offset``-based)."""
    results: list[Found] = []
    for start, end, closed in find_spans(src):
        parsed = loads_relaxed(src[start:end], truncated=not closed)
        if parsed is None:
            continue
        value, relaxed, repaired = parsed
        walker = Walker(family, labelled)
        walker.walk(value)
        found = walker.found
        found.relaxed = relaxed
        found.truncated = repaired
        found.span = (offset + start, offset + end)
        if value == [] or value == {}:
            found.explicit_empty = True
        results.append(found)
    return results


def _merge(parts: Sequence[Found]) -> Found:
    """Join several sources' items and flags into one."""
    merged = Found()
    for p in parts:
        merged.raws += p.raws
        merged.notes += p.notes
        merged.explicit_empty = merged.explicit_empty or p.explicit_empty
        merged.truncated = merged.truncated or p.truncated
        merged.relaxed = merged.relaxed or p.relaxed
        if p.span is not None and p.raws:
            lo, hi = merged.span or p.span
            merged.span = (min(lo, p.span[0]), max(hi, p.span[1]))
    return merged


def choose_structured(text: str, family: str, kind: str) -> Found | None:
    """Apply the source rules (fenced blocks, then bracketed values) to the whole text."""
    labelled = kind == "labelled_boxes"
    blocks = fenced_blocks(text)
    if blocks:
        per_block = [_merge(extract_structured(b, family, labelled, at)) for at, b in blocks]
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
    parts = extract_structured(text, family, labelled)
    with_geometry = [p for p in parts if p.raws]
    if with_geometry:
        same_shape = [p for p in with_geometry if any(r.shape == family for r in p.raws)]
        if kind in PLURAL_KINDS or not same_shape:
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
