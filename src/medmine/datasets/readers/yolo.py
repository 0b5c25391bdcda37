"""YOLO detection layout: ``images/<split>/*.jpg``, ``labels/<split>/*.txt``, ``data.yaml``.

Each label line is ``class cx cy w h`` normalised to 0..1; ``data.yaml`` names the classes
(``names`` as a list or an id → name mapping). Converting to pixels needs each image's size,
so this reader reads image headers (not pixels) — the one reader that does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from medmine.core import Box, BoxesTarget, ImageRef, Sample, Target, image_size
from medmine.datasets.readers.base import (
    IMAGE_EXTENSIONS,
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    rel_id,
    scan,
)


def read_yolo(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    data_yaml: str = "data.yaml",
    splits: dict[str, str] | None = None,
    image_root: str = "images",
    label_root: str = "labels",
    keep_empty: bool = False,
) -> DatasetRead:
    """Read a YOLO tree; ``splits`` maps split name → sub-folder (default train/val/test)."""
    ctx = ctx or ReadContext(dataset="yolo")
    root = Path(root)
    yaml_path = root / data_yaml
    if not yaml_path.is_file():
        raise ValueError(f"{yaml_path}: YOLO class list (data.yaml) not found")
    names = _names(yaml_path)
    labels = ctx.labels or tuple(names[k] for k in sorted(names))
    out = DatasetRead()
    files_seen: list[Path] = []
    contents: list[Path] = [yaml_path]
    for split, sub in (splits or {"train": "train", "val": "val", "test": "test"}).items():
        img_dir, lbl_dir = root / image_root / sub, root / label_root / sub
        if not ctx.wants(split) or not img_dir.is_dir():
            continue
        images = scan(img_dir)
        label_files = scan(lbl_dir)
        files_seen.extend(images)
        contents.extend(label_files)
        used: set[Path] = set()
        for path in images:
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                out.unexpected.append(path)
                continue
            sid = rel_id(path, root)
            lbl = lbl_dir / path.relative_to(img_dir).with_suffix(".txt")
            used.add(lbl)
            if not lbl.is_file():
                if keep_empty:
                    lbl_lines: list[str] = []
                else:
                    out.bad.append(bad(ctx, sid, lbl, MISSING, "label file not found"))
                    continue
            else:
                lbl_lines = lbl.read_text().splitlines()
            try:
                size = image_size(path)
            except ValueError as exc:
                out.bad.append(bad(ctx, sid, path, MALFORMED, str(exc)))
                continue
            boxes, problem = _boxes(lbl_lines, names, size, ctx)
            if problem:
                kind = LABEL if "class" in problem else MALFORMED
                out.bad.append(bad(ctx, sid, lbl, kind, problem))
                continue
            if not boxes and not keep_empty:
                continue
            targets: dict[str, Target] = {
                "detection": BoxesTarget(boxes=tuple(boxes), labels=labels)
            }
            out.samples.append(
                Sample(
                    id=sid,
                    dataset=ctx.dataset,
                    images=(ImageRef(path=path, size=size),),
                    targets=targets,
                    split=split,
                    category=ctx.category,
                )
            )
        out.unexpected.extend(f for f in label_files if f not in used)
    out.fingerprint = fingerprint(root, files_seen, contents)
    return out


def _names(path: Path) -> dict[int, str]:
    """Class id → name from data.yaml; raises ValueError naming the file when malformed."""
    data: Any = yaml.safe_load(path.read_text())
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        return {int(k): str(v) for k, v in names.items()}
    raise ValueError(f"{path}: 'names' must be a list or a mapping of class names")


def _boxes(
    lines: list[str], names: dict[int, str], size: tuple[int, int], ctx: ReadContext
) -> tuple[list[Box], str | None]:
    """Pixel boxes from YOLO lines, or a message naming the first bad line."""
    w, h = size
    boxes = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            cls = int(parts[0])
            cx, cy, bw, bh = (float(v) for v in parts[1:5])
        except (IndexError, ValueError):
            return [], f"line {n}: expected 'class cx cy w h', got {line!r}"
        if len(parts) != 5 or not all(0 <= v <= 1 for v in (cx, cy, bw, bh)):
            return [], f"line {n}: values must be 5 numbers normalised to 0..1, got {line!r}"
        if cls not in names:
            return [], f"line {n}: class {cls} not in data.yaml names"
        label = ctx.canonical(names[cls])
        if label is None:
            return [], f"line {n}: class {names[cls]!r} not in the label map"
        boxes.append(
            Box((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h, label)
        )
    return boxes, None
