"""Pascal VOC layout: ``Annotations/*.xml``, ``JPEGImages/*``, ``ImageSets/Main/<split>.txt``.

VOC boxes are 1-based inclusive pixel indices; they become 0-based exclusive edges
(``x0 = xmin - 1``, ``x1 = xmax``) as :class:`~medmine.core.Box` expects. Image sizes come from
each XML's ``<size>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from medmine.core import Box, BoxesTarget, ImageRef, Sample, Target
from medmine.datasets.readers.base import (
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    scan,
)


def read_voc(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    annotations: str = "Annotations",
    images: str = "JPEGImages",
    image_sets: str = "ImageSets/Main",
    default_split: str = "test",
) -> DatasetRead:
    """Read a VOC tree; splits come from ImageSets/Main/<split>.txt, else ``default_split``."""
    ctx = ctx or ReadContext(dataset="voc")
    root = Path(root)
    split_of: dict[str, str] = {}
    set_files = [f for f in scan(root / image_sets, recursive=False) if "_" not in f.stem]
    for f in set_files:
        for line in f.read_text().split("\n"):
            if line.strip():
                split_of.setdefault(line.split()[0], f.stem)
    xmls = scan(root / annotations)
    image_files = scan(root / images)
    by_stem = {p.stem: p for p in image_files}
    out = DatasetRead()
    used: set[Path] = set()
    found_labels: set[str] = set()
    parsed: list[tuple[str, Path, tuple[int, int] | None, list[Box]]] = []
    for xml_path in xmls:
        sid = xml_path.stem
        try:
            tree = ET.parse(xml_path)
        except ET.ParseError as exc:
            out.bad.append(bad(ctx, sid, xml_path, MALFORMED, f"invalid XML ({exc})"))
            continue
        node = tree.getroot()
        fname = node.findtext("filename") or ""
        image = root / images / fname if fname else by_stem.get(sid, root / images / f"{sid}.jpg")
        if not image.is_file() and sid in by_stem:
            image = by_stem[sid]
        size = None
        try:
            size = (int(node.findtext("size/width") or ""), int(node.findtext("size/height") or ""))
        except ValueError:
            size = None
        boxes = []
        problem = None
        for i, obj in enumerate(node.findall("object")):
            raw = (obj.findtext("name") or "").strip()
            try:
                xmin, ymin, xmax, ymax = (
                    float(obj.findtext(f"bndbox/{k}") or "")
                    for k in ("xmin", "ymin", "xmax", "ymax")
                )
            except ValueError:
                problem = (MALFORMED, f"object {i} ({raw!r}) lacks a numeric bndbox")
                break
            label = ctx.canonical(raw)
            if label is None:
                problem = (LABEL, f"object {i}: name {raw!r} is not in the label map")
                break
            found_labels.add(label)
            boxes.append(Box(xmin - 1, ymin - 1, xmax, ymax, label=label))
        if problem:
            out.bad.append(bad(ctx, sid, xml_path, *problem))
            continue
        parsed.append((sid, image, size, boxes))
    labels = ctx.labels or tuple(sorted(found_labels))
    for sid, image, size, boxes in parsed:
        split = split_of.get(sid, default_split)
        if not ctx.wants(split) or not boxes:
            continue
        used.add(image)
        targets: dict[str, Target] = {"detection": BoxesTarget(boxes=tuple(boxes), labels=labels)}
        sample = Sample(
            id=sid,
            dataset=ctx.dataset,
            images=(ImageRef(path=image, size=size),),
            targets=targets,
            split=split,
            category=ctx.category,
        )
        if image.is_file():
            out.samples.append(sample)
        else:
            out.bad.append(bad(ctx, sid, image, MISSING, "image file not found"))
            out.missing.append(sample)
    annotated = {p[0] for p in parsed} | {b.id for b in out.bad}
    out.unexpected.extend(f for f in image_files if f not in used and f.stem not in annotated)
    out.fingerprint = fingerprint(root, image_files, [*xmls, *set_files])
    return out
