"""Per-image LabelMe JSON (DENTEX's test release and any LabelMe-annotated box set).

One JSON file per image: ``shapes`` = [{``label``, ``points``, ``shape_type``}] and
``imageWidth``/``imageHeight``. Each rectangle or polygon becomes the box around its points.
The image is the file in the split's image folder with the JSON's stem (any image extension).

``label_pattern`` (a regex with a named group ``label``) splits composite labels such as
DENTEX's ``1-çürük-26`` (code, diagnosis word, FDI tooth); the groups named in ``attributes``
are kept per box in ``Sample.meta["box_attributes"]``, as the coco reader keeps DENTEX's
quadrant and tooth. ``label_map`` maps raw label words to canonical labels (words it does not
know go through the entry's label map); ``skip_labels`` are words the data holds that are not
targets of this dataset (treatments): they make no box and are counted per sample in
``meta["skipped_shapes"]``. Any other label is a bad shape naming the file and the label.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from medmine.core import Box, BoxesTarget, ImageRef, Sample
from medmine.datasets.readers.base import (
    IMAGE_EXTENSIONS,
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    alternatives,
    bad,
    compile_optional,
    fingerprint,
    scan,
)

_SPLIT_KEYS = {"label_dir", "image_dir"}
_BOX_SHAPES = (None, "rectangle", "polygon")


def _word(text: str) -> str:
    """A label word in one comparable form (NFC, case-folded, trimmed)."""
    return unicodedata.normalize("NFC", text).strip().casefold()


class _Rules:
    """How raw shape labels become canonical labels and box attributes."""

    def __init__(
        self,
        ctx: ReadContext,
        label_pattern: str | None,
        attributes: list[str],
        label_map: dict[str, str],
        skip_labels: list[str],
    ) -> None:
        """Compile the pattern and check the maps against the entry's labels."""
        self.ctx = ctx
        self.pattern = compile_optional(label_pattern, "label_pattern")
        groups = set(self.pattern.groupindex) if self.pattern else set()
        if self.pattern and "label" not in groups:
            raise ValueError("labelme reader: label_pattern needs a named group 'label'")
        unknown = [a for a in attributes if a not in groups]
        if unknown:
            raise ValueError(f"labelme reader: attributes {unknown} are not groups of the pattern")
        self.attributes = attributes
        self.label_map = {_word(k): v for k, v in label_map.items()}
        strays = sorted(set(self.label_map.values()) - set(ctx.labels)) if ctx.labels else []
        if strays:
            raise ValueError(f"labelme reader: label_map targets {strays} are not entry labels")
        self.skip = {_word(w) for w in skip_labels}

    def parse(self, raw: str) -> tuple[str | None, dict[str, str], str]:
        """(canonical label or None when skipped, attributes, problem); problem is '' if fine."""
        attrs: dict[str, str] = {}
        word = raw
        if self.pattern is not None:
            m = self.pattern.fullmatch(raw.strip())
            if m is None:
                return None, attrs, f"label {raw!r} does not match {self.pattern.pattern!r}"
            word = m.group("label")
            attrs = {a: m.group(a) or "" for a in self.attributes}
        key = _word(word)
        if key in self.skip:
            return None, attrs, ""
        canon = self.label_map.get(key) or self.ctx.canonical(word)
        if canon is None:
            return None, attrs, f"label word {word!r} (in {raw!r}) is not in the label map"
        return canon, attrs, ""


def read_labelme(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    splits: dict[str, dict[str, str | list[str]]],
    label_pattern: str | None = None,
    attributes: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    skip_labels: list[str] | None = None,
    keep_empty: bool = False,
) -> DatasetRead:
    """Read per-image LabelMe JSON folders: one sample per image with all its boxes.

    ``splits`` = {split: {label_dir, image_dir}}; a split may list alternative ``label_dir``
    folders with ``image_dir`` folders in the same order: the first label folder holding JSON
    files is read, and absent splits are skipped. Images without boxes are kept only with
    ``keep_empty``.
    """
    ctx = ctx or ReadContext(dataset="labelme")
    root = Path(root)
    rules = _Rules(ctx, label_pattern, attributes or [], label_map or {}, skip_labels or [])
    out = DatasetRead()
    files_seen: list[Path] = []
    contents: list[Path] = []
    for split_name, folders in splits.items():
        unknown = set(folders) - _SPLIT_KEYS
        if unknown:
            raise ValueError(f"labelme reader: unknown split keys {sorted(unknown)}")
        label_dirs = alternatives(folders.get("label_dir"))
        image_dirs = alternatives(folders.get("image_dir")) or label_dirs
        if not label_dirs:
            raise ValueError(f"labelme reader: split {split_name!r} has no label_dir")
        found = [i for i, d in enumerate(label_dirs) if _json_files(root / d)]
        if not ctx.wants(split_name) or not found:
            continue
        label_dir = root / label_dirs[found[0]]
        img_dir = root / image_dirs[min(found[0], len(image_dirs) - 1)]
        jsons = _json_files(label_dir)
        images = [p for p in scan(img_dir) if p.suffix.lower() in IMAGE_EXTENSIONS]
        by_stem: dict[str, Path] = {}
        for image in images:
            by_stem.setdefault(image.stem, image)
        files_seen.extend(images)
        contents.extend(jsons)
        used: set[Path] = set()
        for path in jsons:
            image = by_stem.get(path.stem)
            if image is not None:
                used.add(image)
            _read_file(path, image, img_dir, split_name, ctx, rules, out, keep_empty)
        others = [p for p in scan(label_dir, recursive=False) if p.suffix.lower() != ".json"]
        out.unexpected.extend(p for p in [*images, *others] if p not in used)
    out.unexpected = list(dict.fromkeys(out.unexpected))
    out.fingerprint = fingerprint(root, files_seen, contents)
    return out


def _json_files(folder: Path) -> list[Path]:
    """The JSON files directly in a folder, sorted (none when it is absent)."""
    return [p for p in scan(folder, recursive=False) if p.suffix.lower() == ".json"]


def _read_file(
    path: Path,
    image: Path | None,
    img_dir: Path,
    split: str,
    ctx: ReadContext,
    rules: _Rules,
    out: DatasetRead,
    keep_empty: bool,
) -> None:
    """Read one LabelMe file into ``out``: a sample, or bad entries naming the file."""
    sid = path.stem
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"not valid JSON ({exc})"))
        return
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        msg = "no 'shapes' list (is this a LabelMe file?)"
        out.bad.append(bad(ctx, sid, path, MALFORMED, msg))
        return
    boxes: list[Box] = []
    box_attrs: list[dict[str, str]] = []
    skipped: Counter[str] = Counter()
    for i, shape in enumerate(data["shapes"]):
        raw = shape.get("label") if isinstance(shape, dict) else None
        if not isinstance(raw, str):
            msg = f"shape {i}: no text label ({shape!r:.80})"
            out.bad.append(bad(ctx, sid, path, MALFORMED, msg))
            continue
        label, attrs, problem = rules.parse(raw)
        if problem:
            out.bad.append(bad(ctx, sid, path, LABEL, f"shape {i}: {problem}"))
            continue
        if label is None:
            skipped[raw.strip()] += 1
            continue
        box, problem = _box(shape)
        if box is None:
            out.bad.append(bad(ctx, sid, path, MALFORMED, f"shape {i} ({raw!r}): {problem}"))
            continue
        boxes.append(Box(*box, label=label))
        box_attrs.append(attrs)
    if not boxes and not keep_empty:
        return
    meta: dict[str, Any] = {"label_file": path.name}
    if rules.attributes:
        meta["box_attributes"] = box_attrs
    if skipped:
        meta["skipped_shapes"] = dict(sorted(skipped.items()))
    width, height = data.get("imageWidth"), data.get("imageHeight")
    size = None
    if isinstance(width, int | float) and isinstance(height, int | float):
        size = (int(width), int(height))
    labels = ctx.labels or tuple(sorted({b.label for b in boxes if b.label}))
    sample = Sample(
        id=sid,
        dataset=ctx.dataset,
        images=(ImageRef(path=image or img_dir / f"{sid}.png", size=size),),
        targets={"detection": BoxesTarget(boxes=tuple(boxes), labels=labels)},
        split=split,
        category=ctx.category,
        meta=meta,
    )
    if image is not None:
        out.samples.append(sample)
    else:
        msg = f"label file {path.name} has no image named {sid}.* in {img_dir}"
        out.bad.append(bad(ctx, sid, img_dir / f"{sid}.png", MISSING, msg))
        out.missing.append(sample)


def _box(shape: dict[str, Any]) -> tuple[tuple[float, float, float, float] | None, str]:
    """The pixel box (x0, y0, x1, y1) around a rectangle or polygon shape, or (None, why)."""
    kind = shape.get("shape_type")
    if kind not in _BOX_SHAPES:
        return None, f"shape_type {kind!r} is not a rectangle or polygon"
    points = shape.get("points")
    try:
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        if any(len(p) != 2 for p in points):
            raise ValueError
    except (TypeError, ValueError, IndexError, KeyError):
        return None, f"points {points!r:.80} are not [[x, y], ...]"
    if len(xs) < 2:
        return None, f"{len(xs)} point(s): a box needs at least 2"
    box = (min(xs), min(ys), max(xs), max(ys))
    if box[2] <= box[0] or box[3] <= box[1]:
        return None, f"points {points!r:.80} enclose no area"
    return box, ""
