"""Folder-per-class layouts: ``<base>/<split dir>/<class>/<image>`` (ChestXRay2017, Kvasir v2).

The class is the image's parent folder name, matched against the entry's label map. Optional
extras for layouts that add annotations beside the class folders (REFUGE Training400):
mirrored mask folders (``mask_dirs``) and a point table (``points``: fovea location).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medmine.core import ImageRef, LandmarkTarget, Sample, Target
from medmine.datasets.readers.base import (
    IMAGE_EXTENSIONS,
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    compile_optional,
    fingerprint,
    first_group,
    mask_structures,
    named_groups,
    read_table,
    rel_id,
    require_columns,
    scan,
    structure_key,
)


def read_folder_classes(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    base: str = "",
    split_dirs: dict[str, str] | None = None,
    default_split: str = "test",
    extensions: list[str] | None = None,
    ignore: list[str] | None = None,
    patient_pattern: str | None = None,
    meta_pattern: str | None = None,
    mask_dirs: dict[str, str] | None = None,
    mask_ext: str | None = None,
    points: dict[str, Any] | None = None,
) -> DatasetRead:
    """Read a folder-per-class image tree.

    ``split_dirs`` maps split name → folder under ``base`` (absent folders are skipped, so a
    sample copy with only ``train/`` reads fine); without it every image is in
    ``default_split``. ``patient_pattern`` is a regex whose first matching group is the patient
    id (``person(\\d+)_``); ``meta_pattern``'s named groups go into ``Sample.meta``.
    ``mask_dirs`` maps split → folder mirroring the class tree with the masks (``mask_ext``
    replaces the image extension); each structure of the entry's mask rules gets a target on
    that file. ``points`` = {table, id_column, x_column, y_column, structure} adds a landmark.
    """
    ctx = ctx or ReadContext(dataset="folder_classes")
    root = Path(root)
    exts = tuple(e.lower() for e in (extensions or IMAGE_EXTENSIONS))
    patient_re = compile_optional(patient_pattern, "patient_pattern")
    meta_re = compile_optional(meta_pattern, "meta_pattern")
    base_dir = root / base if base else root
    splits = split_dirs or {default_split: ""}
    out = DatasetRead()
    files_seen: list[Path] = []
    contents: list[Path] = []
    point_map: dict[str, tuple[float, float]] = {}
    if points:
        point_map = _read_points(root, points, ctx, out)
        contents.append(root / points["table"])
    structures = mask_structures(ctx) if mask_dirs else []
    used_masks: set[Path] = set()

    for split, sub in splits.items():
        split_dir = base_dir / sub if sub else base_dir
        if not ctx.wants(split) or not split_dir.is_dir():
            continue
        all_files = scan(split_dir, ignore=ignore or ())
        files_seen.extend(all_files)
        for path in all_files:
            if path.suffix.lower() not in exts or path.parent == split_dir:
                out.unexpected.append(path)
                continue
            sid = rel_id(path, root)
            raw = path.parent.name
            label = ctx.canonical(raw)
            if label is None:
                msg = f"class folder {raw!r} is not in the label map {list(ctx.labels)}"
                out.bad.append(bad(ctx, sid, path, LABEL, msg))
                continue
            targets: dict[str, Target] = {"classification": ctx.label_target(label, [label])}
            missing_files: list[Path] = []
            if mask_dirs and split in mask_dirs:
                rel = path.relative_to(split_dir)
                mask = root / mask_dirs[split] / rel.with_suffix(mask_ext or path.suffix)
                used_masks.add(mask)
                if not mask.is_file():
                    missing_files.append(mask)
                for i, s in enumerate(structures):
                    targets[structure_key("segmentation", i, s)] = ctx.mask_target(mask, s)
            if points:
                pt = point_map.get(path.name) or point_map.get(path.stem)
                if pt is not None:
                    targets["localization"] = LandmarkTarget(
                        structure=str(points.get("structure", "landmark")), point=pt
                    )
            name = path.name
            sample = Sample(
                id=sid,
                dataset=ctx.dataset,
                images=(ImageRef(path=path),),
                targets=targets,
                split=split,
                patient_id=first_group(patient_re, name),
                category=ctx.category,
                meta={"class_folder": raw, **named_groups(meta_re, name)},
            )
            if missing_files:
                for m in missing_files:
                    out.bad.append(bad(ctx, sid, m, MISSING, "mask file not found"))
                out.missing.append(sample)
            else:
                out.samples.append(sample)
        if mask_dirs and split in mask_dirs:
            mask_root = root / mask_dirs[split]
            mask_files = scan(mask_root, ignore=ignore or ())
            files_seen.extend(mask_files)
            out.unexpected.extend(m for m in mask_files if m not in used_masks)
    out.fingerprint = fingerprint(root, files_seen, contents)
    return out


def _read_points(
    root: Path, spec: dict[str, Any], ctx: ReadContext, out: DatasetRead
) -> dict[str, tuple[float, float]]:
    """Map image name (and stem) → (x, y) from a CSV/XLSX point table; bad rows are recorded."""
    for key in ("table", "id_column", "x_column", "y_column"):
        if key not in spec:
            raise ValueError(f"reader argument points: missing key {key!r}")
    table = root / spec["table"]
    if not table.is_file():
        out.bad.append(bad(ctx, str(spec["table"]), table, MISSING, "point table not found"))
        return {}
    rows = read_table(table)
    require_columns(table, rows, [spec["id_column"], spec["x_column"], spec["y_column"]])
    result: dict[str, tuple[float, float]] = {}
    for row in rows:
        name = row[spec["id_column"]]
        try:
            pt = (float(row[spec["x_column"]]), float(row[spec["y_column"]]))
        except ValueError:
            msg = f"line {row['__line__']}: point ({row[spec['x_column']]!r}, "
            msg += f"{row[spec['y_column']]!r}) is not numeric"
            out.bad.append(bad(ctx, name or "?", table, MALFORMED, msg))
            continue
        result[name] = pt
        result[re.sub(r"\.[^.]+$", "", name)] = pt
    return result
