"""Image folder + mask folder(s) paired by file name (ISIC 2018 Task 1, Montgomery, CVC-ClinicDB).

``masks`` maps a structure name to its mask folder (Montgomery: left lung → ``leftMask``, right
lung → ``rightMask``); the first structure's target is keyed ``segmentation``, the others
``segmentation/<structure>``. :func:`landmark_from_mask` turns a mask target into the
structure's bounding box for anatomical localization (it opens the mask, so call it lazily).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medmine.core import Box, ImageRef, LandmarkTarget, MaskTarget, Sample, Target
from medmine.datasets.readers.base import (
    IMAGE_EXTENSIONS,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    compile_optional,
    fingerprint,
    first_group,
    named_groups,
    rel_id,
    scan,
    structure_key,
)

_SPLIT_KEYS = {"image_dir", "masks", "mask_pattern"}


def read_mask_pairs(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    image_dir: str | None = None,
    masks: dict[str, str] | None = None,
    mask_pattern: str = "{stem}{ext}",
    split: str = "test",
    splits: dict[str, dict[str, Any]] | None = None,
    extensions: list[str] | None = None,
    ignore: list[str] | None = None,
    patient_pattern: str | None = None,
    meta_pattern: str | None = None,
    id_from: str = "stem",
) -> DatasetRead:
    """Read images paired with one mask file per structure.

    ``mask_pattern`` builds the mask file name from the image's ``{stem}``, ``{name}`` and
    ``{ext}`` (ISIC 2018: ``{stem}_segmentation.png``; CVC-ClinicDB: ``{stem}{ext}``).
    ``splits`` = {split: {image_dir, masks, mask_pattern}} overrides per split; absent image
    folders are skipped. Sample ids are the image stem (``id_from: stem``) or the relative path.
    """
    ctx = ctx or ReadContext(dataset="mask_pairs")
    root = Path(root)
    if id_from not in ("stem", "path"):
        raise ValueError(f"mask_pairs reader: id_from must be 'stem' or 'path', not {id_from!r}")
    if splits is None:
        if image_dir is None or not masks:
            raise ValueError("mask_pairs reader: give image_dir and masks (or splits)")
        splits = {split: {}}
    exts = tuple(e.lower() for e in (extensions or IMAGE_EXTENSIONS))
    patient_re = compile_optional(patient_pattern, "patient_pattern")
    meta_re = compile_optional(meta_pattern, "meta_pattern")
    out = DatasetRead()
    files_seen: list[Path] = []
    for split_name, override in splits.items():
        unknown = set(override) - _SPLIT_KEYS
        if unknown:
            raise ValueError(f"mask_pairs reader: unknown split keys {sorted(unknown)}")
        img_dir_name = override.get("image_dir", image_dir)
        mask_dirs = override.get("masks", masks)
        pattern = override.get("mask_pattern", mask_pattern)
        if img_dir_name is None or not mask_dirs:
            raise ValueError(f"mask_pairs reader: split {split_name!r} needs image_dir and masks")
        img_dir = root / img_dir_name
        if not ctx.wants(split_name) or not img_dir.is_dir():
            continue
        images = scan(img_dir, ignore=ignore or ())
        files_seen.extend(images)
        used: set[Path] = set()
        for path in images:
            if path.suffix.lower() not in exts:
                out.unexpected.append(path)
                continue
            sid = path.stem if id_from == "stem" else rel_id(path, root)
            targets: dict[str, Target] = {}
            missing = []
            for i, (structure, mdir) in enumerate(mask_dirs.items()):
                rel_parent = path.parent.relative_to(img_dir)
                name = pattern.format(stem=path.stem, name=path.name, ext=path.suffix)
                mask = root / mdir / rel_parent / name
                used.add(mask)
                if not mask.is_file():
                    missing.append(mask)
                key = structure_key("segmentation", i, structure)
                targets[key] = ctx.mask_target(mask, structure)
            sample = Sample(
                id=sid,
                dataset=ctx.dataset,
                images=(ImageRef(path=path),),
                targets=targets,
                split=split_name,
                patient_id=first_group(patient_re, path.name),
                category=ctx.category,
                meta=named_groups(meta_re, path.name),
            )
            if missing:
                for m in missing:
                    out.bad.append(bad(ctx, sid, m, MISSING, "mask file not found"))
                out.missing.append(sample)
            else:
                out.samples.append(sample)
        for mdir in dict.fromkeys(mask_dirs.values()):
            mask_files = scan(root / mdir, ignore=ignore or ())
            files_seen.extend(mask_files)
            out.unexpected.extend(m for m in mask_files if m not in used)
    out.fingerprint = fingerprint(root, files_seen)
    return out


def mask_array(target: MaskTarget) -> np.ndarray:
    """The mask as a boolean foreground array, applying the target's value rule.

    ``value_map`` maps raw grey values to class ids (foreground = ``target.foreground``);
    ``threshold`` binarises (value >= threshold); otherwise any non-zero value is foreground.
    Raises ValueError naming the file when a value is not in the value map.
    """
    from PIL import Image

    with Image.open(target.path) as im:
        arr = np.asarray(im.convert("L") if im.mode not in ("L", "1", "I", "I;16") else im)
        if im.mode == "1":  # 1-bit PNG: white is 255 in the documented 0/255 values
            arr = arr.astype(np.uint8) * 255
    if arr.ndim != 2:
        raise ValueError(f"{target.path}: mask is not single-channel (shape {arr.shape})")
    if target.value_map is not None:
        values = np.unique(arr)
        unknown = [int(v) for v in values if int(v) not in target.value_map]
        if unknown:
            raise ValueError(
                f"{target.path}: mask values {unknown[:10]} not in value map "
                f"{sorted(target.value_map)}"
            )
        fg_values = [k for k, c in target.value_map.items() if c == target.foreground]
        return np.isin(arr, fg_values)
    if target.threshold is not None:
        return arr >= target.threshold
    return arr > 0


def landmark_from_mask(target: MaskTarget) -> LandmarkTarget:
    """The structure's bounding box (exclusive right/bottom edges) and centroid from its mask.

    Raises ValueError naming the file when the mask has no foreground pixel.
    """
    fg = mask_array(target)
    ys, xs = np.nonzero(fg)
    if xs.size == 0:
        raise ValueError(f"{target.path}: mask of {target.structure!r} has no foreground pixel")
    box = Box(
        float(xs.min()),
        float(ys.min()),
        float(xs.max() + 1),
        float(ys.max() + 1),
        label=target.structure,
    )
    point = (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5)
    return LandmarkTarget(structure=target.structure, box=box, point=point)
