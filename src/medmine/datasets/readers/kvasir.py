"""Kvasir-SEG: ``images/<id>.jpg``, ``masks/<id>.jpg`` and ``kavsir_bboxes.json``.

The JSON maps each id to ``{"height", "width", "bbox": [{"label", "xmin", "ymin", "xmax",
"ymax"}, ...]}``. Box edges are used as given (``xmax`` equals the width for boxes touching
the right border, so they are exclusive edges in :class:`~medmine.core.Box` terms). Masks are
JPEG-compressed: the entry's mask rule thresholds them (128).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medmine.core import Box, BoxesTarget, ImageRef, Sample, Target
from medmine.datasets.readers.base import (
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    mask_structures,
    scan,
)


def read_kvasir(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    base: str = "Kvasir-SEG",
    images: str = "images",
    masks: str = "masks",
    boxes: str = "kavsir_bboxes.json",
    extension: str = ".jpg",
    split: str = "test",
) -> DatasetRead:
    """Read Kvasir-SEG: one sample per JSON key with its mask (segmentation) and boxes."""
    ctx = ctx or ReadContext(dataset="kvasir_seg")
    root = Path(root)
    top = root / base
    json_path = top / boxes
    out = DatasetRead()
    if not ctx.wants(split):
        return out
    if not json_path.is_file():
        out.bad.append(bad(ctx, boxes, json_path, MISSING, "box annotation file not found"))
        out.fingerprint = fingerprint(root, [])
        return out
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{json_path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{json_path}: expected an object keyed by image id")
    image_files = scan(top / images)
    mask_files = scan(top / masks)
    used: set[Path] = set()
    structure = mask_structures(ctx)[0]
    for sid, entry in data.items():
        image = top / images / f"{sid}{extension}"
        mask = top / masks / f"{sid}{extension}"
        used.update((image, mask))
        parsed = _parse_entry(entry)
        if isinstance(parsed, str):
            out.bad.append(bad(ctx, sid, json_path, MALFORMED, f"entry {sid!r}: {parsed}"))
            continue
        size, box_list = parsed
        targets: dict[str, Target] = {
            "segmentation": ctx.mask_target(mask, structure),
            "detection": BoxesTarget(boxes=tuple(box_list), labels=(structure,)),
        }
        sample = Sample(
            id=sid,
            dataset=ctx.dataset,
            images=(ImageRef(path=image, size=size),),
            targets=targets,
            split=split,
            category=ctx.category,
            meta={"n_boxes": len(box_list)},
        )
        missing = [(p, what) for p, what in ((image, "image"), (mask, "mask")) if not p.is_file()]
        if missing:
            for p, what in missing:
                out.bad.append(bad(ctx, sid, p, MISSING, f"{what} file not found"))
            out.missing.append(sample)
        else:
            out.samples.append(sample)
    out.unexpected.extend(f for f in image_files + mask_files if f not in used)
    extra = [f for f in scan(top, recursive=False) if f != json_path]
    out.unexpected.extend(extra)
    out.fingerprint = fingerprint(root, image_files + mask_files + extra, [json_path])
    return out


def _parse_entry(entry: Any) -> tuple[tuple[int, int], list[Box]] | str:
    """((width, height), boxes) of one JSON entry, or a message saying what is wrong."""
    if not isinstance(entry, dict):
        return "not an object"
    try:
        size = (int(entry["width"]), int(entry["height"]))
    except (KeyError, TypeError, ValueError):
        return "missing or non-integer width/height"
    boxes = []
    for i, b in enumerate(entry.get("bbox") or []):
        try:
            x0, y0, x1, y1 = (float(b[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (KeyError, TypeError, ValueError):
            return f"bbox {i} lacks numeric xmin/ymin/xmax/ymax"
        if not (x1 > x0 and y1 > y0):
            return f"bbox {i} has non-positive extent ({x0}, {y0}, {x1}, {y1})"
        boxes.append(Box(x0, y0, x1, y1, label=str(b.get("label", "polyp"))))
    if not boxes:
        return "no boxes"
    return size, boxes
