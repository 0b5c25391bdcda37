"""NIH ChestX-ray14 boxes: ``BBox_List_2017.csv`` plus the 1024x1024 PNGs in ``images/``.

Rows are ``Image Index, Finding Label, x, y, w, h`` (header ``Bbox [x,y,w,h],,,``) in pixels of
the 1024×1024 PNGs. One sample per image with all its boxes (detection); an image with one box
also gets that box as a localization target. Patient ids come from ``Data_Entry_2017*.csv``
when present, else from the image index prefix (``00000001_000`` → ``00000001``). Splits come
from ``test_list.txt`` / ``train_val_list.txt`` when present, else ``default_split``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from medmine.core import Box, BoxesTarget, ImageRef, LandmarkTarget, Sample, Target
from medmine.datasets.readers.base import (
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    read_table,
    scan,
)

NIH_SIZE = (1024, 1024)


def read_nih_bbox(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    boxes: str = "BBox_List_2017.csv",
    image_globs: list[str] | None = None,
    data_entry: list[str] | None = None,
    default_split: str = "test",
) -> DatasetRead:
    """Read the NIH box list; every referenced image absent from disk is reported by name."""
    ctx = ctx or ReadContext(dataset="nih_chestxray14")
    root = Path(root)
    csv_path = root / boxes
    out = DatasetRead()
    if not csv_path.is_file():
        out.bad.append(bad(ctx, boxes, csv_path, MISSING, "box list not found"))
        out.fingerprint = fingerprint(root, [])
        return out
    index: dict[str, Path] = {}
    image_files: list[Path] = []
    for pattern in image_globs or ["images", "images_*/images"]:
        for d in sorted(root.glob(pattern)):
            for f in scan(d):
                image_files.append(f)
                index.setdefault(f.name, f)
    patients, entry_files = _patients(root, data_entry)
    splits, split_files = _splits(root)
    per_image: dict[str, list[Box]] = {}
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or header[0].strip() != "Image Index":
            raise ValueError(f"{csv_path}: expected header 'Image Index,Finding Label,Bbox ...'")
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            line = reader.line_num
            name = values[0].strip() if values else ""
            try:
                raw = values[1].strip()
                x, y, w, h = (float(v) for v in values[2:6])
            except (IndexError, ValueError):
                msg = f"line {line}: expected 'image,label,x,y,w,h', got {values!r}"
                out.bad.append(bad(ctx, name or f"line {line}", csv_path, MALFORMED, msg))
                continue
            if w <= 0 or h <= 0:
                msg = f"line {line}: box has non-positive size ({w}, {h})"
                out.bad.append(bad(ctx, name, csv_path, MALFORMED, msg))
                continue
            label = ctx.canonical(raw)
            if label is None:
                msg = f"line {line}: finding {raw!r} is not in the label map {list(ctx.labels)}"
                out.bad.append(bad(ctx, name, csv_path, LABEL, msg))
                continue
            per_image.setdefault(name, []).append(Box(x, y, x + w, y + h, label=label))
    labels = ctx.labels or tuple(sorted({b.label or "" for bs in per_image.values() for b in bs}))
    for name, box_list in per_image.items():
        sid = name.rsplit(".", 1)[0]
        split = splits.get(name, default_split)
        if not ctx.wants(split):
            continue
        path = index.get(name)
        targets: dict[str, Target] = {
            "detection": BoxesTarget(boxes=tuple(box_list), labels=labels)
        }
        if len(box_list) == 1:
            b = box_list[0]
            targets["localization"] = LandmarkTarget(structure=b.label or "finding", box=b)
        sample = Sample(
            id=sid,
            dataset=ctx.dataset,
            images=(ImageRef(path=path or root / "images" / name, size=NIH_SIZE),),
            targets=targets,
            split=split,
            patient_id=patients.get(name) or sid.split("_")[0],
            category=ctx.category,
            meta={"n_boxes": len(box_list)},
        )
        if path is None:
            out.bad.append(bad(ctx, sid, root / "images" / name, MISSING, "image file not found"))
            out.missing.append(sample)
        else:
            out.samples.append(sample)
    used = {s.images[0].path for s in out.samples}
    out.unexpected.extend(f for f in image_files if f not in used and f.suffix.lower() != ".png")
    contents = [csv_path, *entry_files, *split_files]
    out.fingerprint = fingerprint(root, image_files, contents)
    return out


def _patients(root: Path, names: list[str] | None) -> tuple[dict[str, str], list[Path]]:
    """Image index → Patient ID from the first Data_Entry table found."""
    for name in names or ["Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv"]:
        path = root / name
        if path.is_file():
            rows = read_table(path)
            return {r["Image Index"]: r.get("Patient ID", "") for r in rows}, [path]
    return {}, []


def _splits(root: Path) -> tuple[dict[str, str], list[Path]]:
    """Image index → official split from test_list.txt / train_val_list.txt when present."""
    result: dict[str, str] = {}
    files = []
    for fname, split in (("train_val_list.txt", "train"), ("test_list.txt", "test")):
        path = root / fname
        if path.is_file():
            files.append(path)
            for line in path.read_text().split():
                result[line.strip()] = split
    return result, files
