"""A dataset whose releases come in several formats: read each part with its own reader.

DENTEX ships its training and validation labels as COCO JSON and its test labels as
per-image LabelMe JSON; ``parts`` = [{reader, args}, ...] reads each part with the named
reader and the same context (so a split filter reaches every part) and joins the results.

The fingerprint is the one part's fingerprint when only one part found files (a copy
without the later parts keeps the fingerprint it had before they were catalogued), else a
hash over the parts' fingerprints in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medmine.datasets.readers.base import DatasetRead, ReadContext, fingerprint

#: The fingerprint of a read that found no files at all.
EMPTY_FINGERPRINT = fingerprint(Path("."), ())
_PART_KEYS = {"reader", "args"}


def read_parts(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    parts: list[dict[str, Any]],
    registry: Mapping[str, Callable[..., DatasetRead]],
) -> DatasetRead:
    """Read every part with its reader from ``registry`` and join samples, bad rows and files."""
    ctx = ctx or ReadContext(dataset="parts")
    if not isinstance(parts, list) or not parts:
        raise ValueError("parts reader: give a non-empty list of {reader, args}")
    out = DatasetRead()
    prints: list[str] = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or "reader" not in part or set(part) - _PART_KEYS:
            raise ValueError(f"parts reader: part {i} must be {{reader, args}}, got {part!r}")
        name = part["reader"]
        reader = registry.get(name)
        if reader is None or reader is registry.get("parts"):
            raise ValueError(f"parts reader: part {i} names unknown reader {name!r}")
        read = reader(Path(root), ctx=ctx, **part.get("args", {}))
        out.samples.extend(read.samples)
        out.bad.extend(read.bad)
        out.missing.extend(read.missing)
        out.unexpected.extend(read.unexpected)
        if read.fingerprint and read.fingerprint != EMPTY_FINGERPRINT:
            prints.append(read.fingerprint)
    if len(prints) == 1:
        out.fingerprint = prints[0]
    elif prints:
        out.fingerprint = hashlib.sha256("\n".join(prints).encode()).hexdigest()[:16]
    else:
        out.fingerprint = EMPTY_FINGERPRINT
    return out
