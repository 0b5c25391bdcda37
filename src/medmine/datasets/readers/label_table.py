"""Image folders plus a CSV/XLSX label table (HAM10000, ISIC 2017 Part 3, APTOS, IDRiD).

One row per image. The label is either one column (``label_column``: ``dx``) or a set of
one-hot columns (``onehot_columns``: ISIC 2017 ``melanoma`` / ``seborrheic_keratosis``, with
``onehot_default`` = ``nevus`` when none is set). Optional: a mask folder (segmentation), a
patient/grouping column (HAM10000 ``lesion_id``) and a metadata table joined by id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medmine.core import ImageRef, Sample, Target
from medmine.datasets.readers.base import (
    IMAGE_EXTENSIONS,
    LABEL,
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    mask_structures,
    read_table,
    require_columns,
    scan,
    structure_key,
)

_SPLIT_KEYS = {
    "table",
    "image_dirs",
    "mask_dir",
    "mask_pattern",
    "meta_table",
    "sheet",
}


def read_label_table(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    table: str | None = None,
    id_column: str = "image_id",
    label_column: str | None = None,
    onehot_columns: dict[str, str] | None = None,
    onehot_default: str | None = None,
    image_dirs: list[str] | None = None,
    extensions: list[str] | None = None,
    patient_column: str | None = None,
    split: str = "train",
    splits: dict[str, dict[str, Any]] | None = None,
    mask_dir: str | None = None,
    mask_pattern: str = "{id}_segmentation.png",
    meta_table: str | None = None,
    sheet: str | None = None,
    ignore: list[str] | None = None,
) -> DatasetRead:
    """Read images named by a label table.

    Either one table for one ``split``, or ``splits`` = {split: {table, image_dirs, mask_dir,
    mask_pattern, meta_table}} overriding those arguments per split (a split whose table is
    absent is skipped: sample copies often hold one split). Images are found by file name or
    stem equal to the id in ``image_dirs``; a row whose image is absent is reported as missing.
    """
    ctx = ctx or ReadContext(dataset="label_table")
    root = Path(root)
    if label_column is None and not onehot_columns:
        raise ValueError("label_table reader: give label_column or onehot_columns")
    if splits is None:
        if table is None:
            raise ValueError("label_table reader: give table (or splits with a table each)")
        splits = {split: {}}
    base = {
        "table": table,
        "image_dirs": image_dirs or [""],
        "mask_dir": mask_dir,
        "mask_pattern": mask_pattern,
        "meta_table": meta_table,
        "sheet": sheet,
    }
    out = DatasetRead()
    files_seen: list[Path] = []
    contents: list[Path] = []
    exts = tuple(e.lower() for e in (extensions or IMAGE_EXTENSIONS))
    for split_name, override in splits.items():
        unknown = set(override) - _SPLIT_KEYS
        if unknown:
            raise ValueError(f"label_table reader: unknown split keys {sorted(unknown)}")
        if not ctx.wants(split_name):
            continue
        spec = {**base, **override}
        if spec["table"] is None:
            raise ValueError(f"label_table reader: split {split_name!r} has no table")
        table_path = published_table(root / spec["table"])
        if not table_path.is_file():
            continue
        contents.append(table_path)
        _read_split(
            root,
            ctx,
            split_name,
            spec,
            table_path,
            id_column=id_column,
            label_column=label_column,
            onehot_columns=onehot_columns,
            onehot_default=onehot_default,
            patient_column=patient_column,
            exts=exts,
            ignore=ignore or [],
            out=out,
            files_seen=files_seen,
            contents=contents,
        )
    out.fingerprint = fingerprint(root, files_seen, contents)
    return out


def published_table(path: Path) -> Path:
    """The table as named, else the same name without extension or as Dataverse ``.tab``.

    Harvard Dataverse serves HAM10000's ``HAM10000_metadata.csv`` as ``HAM10000_metadata``
    (no extension) or, after ingest, ``HAM10000_metadata.tab``.
    """
    if path.is_file():
        return path
    for candidate in (path.with_suffix(""), path.with_suffix(".tab")):
        if candidate.is_file():
            return candidate
    return path


def _read_split(
    root: Path,
    ctx: ReadContext,
    split: str,
    spec: dict[str, Any],
    table_path: Path,
    *,
    id_column: str,
    label_column: str | None,
    onehot_columns: dict[str, str] | None,
    onehot_default: str | None,
    patient_column: str | None,
    exts: tuple[str, ...],
    ignore: list[str],
    out: DatasetRead,
    files_seen: list[Path],
    contents: list[Path],
) -> None:
    """Read one split's table, images and masks into ``out``."""
    rows = read_table(table_path, spec.get("sheet"))
    needed = [id_column, label_column or "", patient_column or "", *(onehot_columns or {})]
    require_columns(table_path, rows, needed)
    index: dict[str, Path] = {}
    image_files: list[Path] = []
    data_files: set[Path] = {table_path}
    meta_rows: dict[str, dict[str, str]] = {}
    if spec.get("meta_table"):
        meta_path = root / spec["meta_table"]
        if meta_path.is_file():
            contents.append(meta_path)
            data_files.add(meta_path)
            for r in read_table(meta_path):
                key = r.get(id_column) or next(iter(r.values()))
                meta_rows[key] = {k: v for k, v in r.items() if k not in ("__line__", id_column)}
    for d in spec["image_dirs"]:
        for f in scan(root / d if d else root, recursive=bool(d), ignore=ignore):
            if f in data_files:
                continue
            files_seen.append(f)
            if f.suffix.lower() in exts:
                image_files.append(f)
                index.setdefault(f.name, f)
                index.setdefault(f.stem, f)
            else:
                out.unexpected.append(f)
    mask_dir = root / spec["mask_dir"] if spec.get("mask_dir") else None
    mask_files = scan(mask_dir, ignore=ignore) if mask_dir else []
    files_seen.extend(mask_files)
    used: set[Path] = set()
    seen_ids: set[str] = set()
    structures = mask_structures(ctx) if mask_dir else []
    for row in rows:
        sid = row[id_column]
        line = row["__line__"]
        if not sid:
            out.bad.append(
                bad(
                    ctx,
                    f"{table_path.name}:{line}",
                    table_path,
                    MALFORMED,
                    f"line {line}: empty {id_column!r}",
                )
            )
            continue
        if sid in seen_ids:
            out.bad.append(
                bad(ctx, sid, table_path, MALFORMED, f"line {line}: duplicate id {sid!r}")
            )
            continue
        seen_ids.add(sid)
        raw, problem = _row_label(row, label_column, onehot_columns, onehot_default)
        if raw is None:
            out.bad.append(bad(ctx, sid, table_path, MALFORMED, f"line {line}: {problem}"))
            continue
        label = ctx.canonical(raw)
        if label is None:
            msg = f"line {line}: label {raw!r} is not in the label map {list(ctx.labels)}"
            out.bad.append(bad(ctx, sid, table_path, LABEL, msg))
            continue
        targets: dict[str, Target] = {"classification": ctx.label_target(label, [label])}
        image = index.get(sid)
        missing: list[tuple[Path, str]] = []
        if image is None:
            guess = root / (spec["image_dirs"][0] or "") / f"{sid}{exts[0]}"
            missing.append((guess, f"image for id {sid!r} not found in {spec['image_dirs']}"))
            image = guess
        used.add(image)
        if mask_dir is not None:
            mask = mask_dir / spec["mask_pattern"].format(id=sid)
            used.add(mask)
            if not mask.is_file():
                missing.append((mask, "mask file not found"))
            for i, s in enumerate(structures):
                targets[structure_key("segmentation", i, s)] = ctx.mask_target(mask, s)
        meta = {k: v for k, v in row.items() if k not in ("__line__", id_column)}
        meta.update(meta_rows.get(sid, {}))
        sample = Sample(
            id=sid,
            dataset=ctx.dataset,
            images=(ImageRef(path=image),),
            targets=targets,
            split=split,
            patient_id=(row.get(patient_column) or None) if patient_column else None,
            category=ctx.category,
            meta=meta,
        )
        if missing:
            for path, msg in missing:
                out.bad.append(bad(ctx, sid, path, MISSING, msg))
            out.missing.append(sample)
        else:
            out.samples.append(sample)
    out.unexpected.extend(f for f in image_files if f not in used)
    out.unexpected.extend(f for f in mask_files if f not in used)


def _row_label(
    row: dict[str, str],
    label_column: str | None,
    onehot_columns: dict[str, str] | None,
    onehot_default: str | None,
) -> tuple[str | None, str]:
    """The raw label of a row, or (None, why not)."""
    if label_column is not None:
        value = row[label_column]
        return (value, "") if value else (None, f"empty label column {label_column!r}")
    assert onehot_columns is not None
    hot = []
    for col, name in onehot_columns.items():
        try:
            v = float(row[col])
        except ValueError:
            return None, f"column {col!r} value {row[col]!r} is not 0/1"
        if v not in (0.0, 1.0):
            return None, f"column {col!r} value {row[col]!r} is not 0/1"
        if v == 1.0:
            hot.append(name)
    if len(hot) > 1:
        return None, f"several one-hot columns set: {hot}"
    if hot:
        return hot[0], ""
    if onehot_default is None:
        return None, "no one-hot column set and no onehot_default"
    return onehot_default, ""
