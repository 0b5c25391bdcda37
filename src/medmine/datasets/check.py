"""Validate a dataset folder against its catalog entry: layout, counts, every file opened fully.

``check_dataset`` is the slow, thorough counterpart of the lazy readers: it opens every image
and mask completely (Pillow ``load()`` catches truncated files; DICOM through pydicom), checks
that each mask has its image's size and only the values its rule allows, compares known image
sizes with the annotations, and lists missing, corrupt and unexpected files by name.
A sample copy with fewer files than the full release is reported as information, not an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medmine.core import ImageRef, LabelTarget, MaskTarget, Sample
from medmine.datasets.catalog import (
    DatasetEntry,
    find_dataset,
    get_entry,
    load_dataset,
    missing_top_level,
)
from medmine.datasets.readers.base import bad_kind


@dataclass
class CheckReport:
    """What :func:`check_dataset` found. ``ok`` is True when there is no problem."""

    dataset: str
    path: Path
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        """True when no problem was found (information lines do not count)."""
        return not self.problems

    def add(self, kind: str, path: Path | str, message: str) -> None:
        """Record one problem: its kind, the file it concerns and what is wrong."""
        self.problems.append((kind, str(path), message))

    def to_text(self) -> str:
        """A plain-text report for the command line."""
        lines = [f"dataset {self.dataset} at {self.path}: {'OK' if self.ok else 'PROBLEMS'}"]
        if self.fingerprint:
            lines.append(f"fingerprint {self.fingerprint}")
        if self.counts:
            lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())))
        lines += [f"info: {m}" for m in self.info]
        by_kind = Counter(k for k, _, _ in self.problems)
        if by_kind:
            lines.append("problems: " + ", ".join(f"{k}={n}" for k, n in sorted(by_kind.items())))
        lines += [f"  [{k}] {p}: {m}" for k, p, m in self.problems]
        return "\n".join(lines)


def check_dataset(name: str, path: Path) -> CheckReport:
    """Check the dataset folder ``path`` against the catalog entry ``name``."""
    entry = get_entry(name)
    path = Path(path)
    report = CheckReport(dataset=entry.name, path=path)
    if not path.is_dir():
        report.add("layout", path, f"folder does not exist; expected layout:\n{entry.layout}")
        return report
    absent = missing_top_level(entry, path)
    if absent:
        found = find_dataset(entry.name, path)  # the same search `medmine run` does
        if found is None:
            msg = (
                f"not a {entry.name} folder: missing {absent} here, in its parent and in the "
                f"folders two levels below; expected layout:\n{entry.layout}"
            )
            report.add("layout", path, msg)
            return report
        report.info.append(f"layout found at {found} (searched from {path})")
        path = report.path = found
    read = load_dataset(entry.name, path)
    report.fingerprint = read.fingerprint
    for item in read.bad:
        report.add(bad_kind(item), item.path, item.reason.partition(": ")[2] or item.reason)
    for f in read.unexpected:
        report.add("unexpected", f, "file is not part of the layout (no sample uses it)")
    report.counts = _counts(read.samples, read.missing)
    report.info += missing_targets(entry.name, entry.tasks, read.samples)
    _compare_counts(entry, report)
    for sample in read.samples:
        _check_sample(sample, report)
    return report


def missing_targets(name: str, tasks: Sequence[str], samples: Sequence[Sample]) -> list[str]:
    """Why a task the entry serves has fewer samples than the split: one line per such task.

    Only samples whose reader said why (a warning naming the task, such as ``no diagnosis
    truth: ...``) are counted, so a dataset that yields no job for a task says why in the
    terminal and the report; targets a task derives at run time are not flagged.
    """
    out = []
    for task in tasks:
        lacking = [s for s in samples if s.target(task) is None]
        if not lacking or not samples:
            continue
        reasons: Counter[str] = Counter()
        for s in lacking:
            notes = [w for w in s.meta.get("warnings", []) if task.split("_")[0] in w]
            if notes:
                reasons[notes[0]] += 1
        if not reasons:  # targets derived at run time (e.g. boxes from masks): nothing to say
            continue
        why = "; ".join(f"{n} × {r}" for r, n in reasons.most_common(3))
        out.append(
            f"{name}: {len(lacking)} of {len(samples)} samples have no {task} target ({why})"
        )
    return out


def _counts(samples: list[Sample], missing: list[Sample]) -> dict[str, int]:
    """Samples per split and per split/label, boxes, and annotation-only samples."""
    counts: Counter[str] = Counter()
    for s in samples:
        counts["samples"] += 1
        counts[s.split] += 1
        target = s.target("classification")
        if isinstance(target, LabelTarget):
            counts[f"{s.split}/{target.label}"] += 1
    for s in samples + missing:
        det = s.target("detection")
        if det is not None:
            counts["boxes"] += len(getattr(det, "boxes", ()))
    if missing:
        counts["missing_files_samples"] = len(missing)
    return dict(counts)


def _compare_counts(entry: DatasetEntry, report: CheckReport) -> None:
    """Fewer items than the full release is information; more is a problem."""
    for key, expected in entry.expected_counts.items():
        found = report.counts.get(key, 0)
        if found < expected:
            report.info.append(f"{key}: {found} of {expected} in the full release (a subset)")
        elif found > expected:
            report.add("count", report.path, f"{key}: {found} items, the release has {expected}")


def _check_sample(sample: Sample, report: CheckReport) -> None:
    """Open every image and mask of a sample fully and check their agreement."""
    sizes: list[tuple[int, int]] = []
    for ref in sample.images:
        size = _open_image(ref, report)
        if size is None:
            return
        if ref.size is not None and tuple(ref.size) != size:
            msg = f"image is {size[0]}x{size[1]}, the annotation says {ref.size[0]}x{ref.size[1]}"
            report.add("size", ref.path, msg)
        sizes.append(size)
    checked: set[Path] = set()
    for target in sample.targets.values():
        if isinstance(target, MaskTarget) and target.path not in checked:
            checked.add(target.path)
            _check_mask(target, sizes[0] if sizes else None, report)


def _open_image(ref: ImageRef, report: CheckReport) -> tuple[int, int] | None:
    """Decode an image completely; returns its (width, height) or None after recording why."""
    if not ref.path.is_file():
        report.add("missing", ref.path, "image file not found")
        return None
    if ref.path.suffix.lower() == ".dcm":
        return _open_dicom(ref, report)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(ref.path) as im:
            im.load()
            return im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        report.add("corrupt", ref.path, f"cannot decode image ({exc})")
        return None


def _open_dicom(ref: ImageRef, report: CheckReport) -> tuple[int, int] | None:
    """Decode a DICOM file's pixel data; returns (width, height) or None after recording why."""
    try:
        import pydicom

        ds = pydicom.dcmread(ref.path)
        _ = ds.pixel_array
        return int(ds.Columns), int(ds.Rows)
    except Exception as exc:  # pydicom raises many types for broken files
        report.add("corrupt", ref.path, f"cannot decode DICOM pixel data ({exc})")
        return None


def _check_mask(
    target: MaskTarget, image_size: tuple[int, int] | None, report: CheckReport
) -> None:
    """Decode a mask fully, compare its size with the image and its values with the rule."""
    from PIL import Image, UnidentifiedImageError

    if not target.path.is_file():
        report.add("missing", target.path, "mask file not found")
        return
    try:
        with Image.open(target.path) as im:
            im.load()
            size = im.size
            arr = np.asarray(im if im.mode in ("L", "1", "I", "I;16", "P") else im.convert("L"))
            if im.mode == "1":  # 1-bit PNG: white is 255 in the documented 0/255 values
                arr = arr.astype(np.uint8) * 255
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        report.add("corrupt", target.path, f"cannot decode mask ({exc})")
        return
    if image_size is not None and size != image_size:
        msg = f"mask is {size[0]}x{size[1]}, its image is {image_size[0]}x{image_size[1]}"
        report.add("mask_size", target.path, msg)
    values = {int(v) for v in np.unique(arr)}
    if target.value_map is not None:
        unknown = sorted(values - set(target.value_map))
        if unknown:
            msg = f"values {unknown[:10]} not in the value map {sorted(target.value_map)}"
            report.add("mask_values", target.path, msg)
    elif target.threshold is None and not values <= {0, 1} and not values <= {0, 255}:
        report.add(
            "mask_values", target.path, f"binary mask expected, found values {sorted(values)[:10]}"
        )
