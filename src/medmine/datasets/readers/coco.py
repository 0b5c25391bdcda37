"""COCO detection JSON (DENTEX and any COCO-format set).

``images`` give file name, width and height; ``annotations`` give ``bbox`` = [x, y, w, h] in
pixels and a category id. DENTEX's hierarchical files carry several category fields
(``category_id_1`` quadrant, ``category_id_2`` tooth, ``category_id_3`` diagnosis, with lists
``categories_1..3``): ``category_key``/``categories_key`` choose the one that labels boxes and
``attributes`` records the others per box in ``Sample.meta["box_attributes"]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medmine.core import Box, BoxesTarget, ImageRef, Sample, Target
from medmine.datasets.readers.base import (
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    alternatives,
    bad,
    fingerprint,
    scan,
)

_SPLIT_KEYS = {"annotation", "image_dir"}


def read_coco(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    annotation: str | None = None,
    image_dir: str = "",
    split: str = "train",
    splits: dict[str, dict[str, str | list[str]]] | None = None,
    category_key: str = "category_id",
    categories_key: str = "categories",
    attributes: dict[str, list[str]] | None = None,
    keep_empty: bool = False,
) -> DatasetRead:
    """Read COCO JSON file(s): one sample per image with all its labelled boxes.

    ``splits`` = {split: {annotation, image_dir}}; absent annotation files are skipped. A
    split may list alternative ``annotation`` paths (releases that spell a folder
    differently) with ``image_dir`` paths in the same order: the first file found is read.
    ``attributes`` = {name: [annotation key, categories key]} (DENTEX: ``quadrant:
    [category_id_1, categories_1]``). Images without boxes are kept only with ``keep_empty``.
    """
    ctx = ctx or ReadContext(dataset="coco")
    root = Path(root)
    if splits is None:
        if annotation is None:
            raise ValueError("coco reader: give annotation (or splits)")
        splits = {split: {}}
    out = DatasetRead()
    files_seen: list[Path] = []
    contents: list[Path] = []
    for split_name, override in splits.items():
        unknown = set(override) - _SPLIT_KEYS
        if unknown:
            raise ValueError(f"coco reader: unknown split keys {sorted(unknown)}")
        ann_names = alternatives(override.get("annotation", annotation))
        if not ann_names:
            raise ValueError(f"coco reader: split {split_name!r} has no annotation file")
        dir_names = alternatives(override.get("image_dir", image_dir))
        found = [i for i, name in enumerate(ann_names) if (root / name).is_file()]
        if not ctx.wants(split_name) or not found:
            continue
        ann_path = root / ann_names[found[0]]
        contents.append(ann_path)
        img_dir = root / dir_names[min(found[0], len(dir_names) - 1)]
        images = scan(img_dir)
        files_seen.extend(images)
        used = _read_one(
            ann_path,
            img_dir,
            split_name,
            ctx,
            out,
            category_key,
            categories_key,
            attributes or {},
            keep_empty,
        )
        out.unexpected.extend(f for f in images if f not in used and f != ann_path)
    out.fingerprint = fingerprint(root, files_seen, contents)
    return out


def _read_one(
    ann_path: Path,
    img_dir: Path,
    split: str,
    ctx: ReadContext,
    out: DatasetRead,
    category_key: str,
    categories_key: str,
    attributes: dict[str, list[str]],
    keep_empty: bool,
) -> set[Path]:
    """Read one COCO file into ``out``; returns the image paths it used."""
    try:
        data = json.loads(ann_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{ann_path}: not valid JSON ({exc})") from exc
    for key in ("images", "annotations", categories_key):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{ann_path}: missing list {key!r} (is this a COCO file?)")
    cats = _categories(data[categories_key], ann_path)
    attr_cats = {
        name: (keys[0], _categories(data.get(keys[1], []), ann_path))
        for name, keys in attributes.items()
    }
    images: dict[Any, dict[str, Any]] = {}
    for img in data["images"]:
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            out.bad.append(bad(ctx, "?", ann_path, MALFORMED, f"image record {img!r}"))
            continue
        images[img["id"]] = img
    boxes: dict[Any, list[Box]] = {i: [] for i in images}
    box_attrs: dict[Any, list[dict[str, str]]] = {i: [] for i in images}
    for ann in data["annotations"]:
        problem = _check_annotation(ann, images, category_key, cats)
        aid = ann.get("id", "?") if isinstance(ann, dict) else "?"
        if problem:
            kind = LABEL if problem.startswith("category") else MALFORMED
            out.bad.append(bad(ctx, f"annotation {aid}", ann_path, kind, problem))
            continue
        label = ctx.canonical(cats[ann[category_key]])
        if label is None:
            msg = f"annotation {aid}: category {cats[ann[category_key]]!r} not in the label map"
            out.bad.append(bad(ctx, f"annotation {aid}", ann_path, LABEL, msg))
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        boxes[ann["image_id"]].append(Box(x, y, x + w, y + h, label=label))
        box_attrs[ann["image_id"]].append(
            {n: c.get(ann.get(k), str(ann.get(k))) for n, (k, c) in attr_cats.items()}
        )
    labels = ctx.labels or tuple(sorted(set(cats.values())))
    used: set[Path] = set()
    for image_id, img in images.items():
        path = img_dir / str(img["file_name"])
        used.add(path)
        if not boxes[image_id] and not keep_empty:
            continue
        size = None
        if isinstance(img.get("width"), int | float) and isinstance(img.get("height"), int | float):
            size = (int(img["width"]), int(img["height"]))
        sid = Path(str(img["file_name"])).with_suffix("").as_posix()
        meta: dict[str, Any] = {"coco_image_id": image_id}
        if attributes:
            meta["box_attributes"] = box_attrs[image_id]
        targets: dict[str, Target] = {
            "detection": BoxesTarget(boxes=tuple(boxes[image_id]), labels=labels)
        }
        sample = Sample(
            id=sid,
            dataset=ctx.dataset,
            images=(ImageRef(path=path, size=size),),
            targets=targets,
            split=split,
            category=ctx.category,
            meta=meta,
        )
        if path.is_file():
            out.samples.append(sample)
        else:
            out.bad.append(bad(ctx, sid, path, MISSING, "image file not found"))
            out.missing.append(sample)
    return used


def _categories(items: list[Any], path: Path) -> dict[Any, str]:
    """Category id → name; raises ValueError naming the file on a malformed entry."""
    result = {}
    for c in items:
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise ValueError(f"{path}: malformed category entry {c!r} (needs id and name)")
        result[c["id"]] = str(c["name"])
    return result


def _check_annotation(
    ann: Any, images: dict[Any, Any], category_key: str, cats: dict[Any, str]
) -> str | None:
    """What is wrong with an annotation record, or None."""
    if not isinstance(ann, dict):
        return f"annotation is not an object: {ann!r}"
    aid = ann.get("id", "?")
    if ann.get("image_id") not in images:
        return f"annotation {aid}: image_id {ann.get('image_id')!r} not among the images"
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        return f"annotation {aid}: bbox {bbox!r} is not [x, y, w, h]"
    try:
        w, h = float(bbox[2]), float(bbox[3])
    except (TypeError, ValueError):
        return f"annotation {aid}: bbox {bbox!r} is not numeric"
    if w <= 0 or h <= 0:
        return f"annotation {aid}: bbox {bbox!r} has non-positive size"
    if ann.get(category_key) not in cats:
        return f"category {ann.get(category_key)!r} of annotation {aid} is not defined"
    return None
