"""DICOM files (``**/*.dcm``), read through the optional ``pydicom`` package.

Only headers are read (``stop_before_pixels``): they hold the patient id, the image size and
the frame count, none of which a file name gives. With ``label_from: parent`` the parent
folder is the class (a folder-per-class DICOM tree); otherwise samples carry no target and
serve as inputs (e.g. report generation with references joined elsewhere).
"""

from __future__ import annotations

from pathlib import Path

from medmine.core import ImageRef, Sample, Target
from medmine.datasets.readers.base import (
    LABEL,
    MALFORMED,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    rel_id,
)


def read_dicom(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    pattern: str = "**/*.dcm",
    label_from: str | None = None,
    split: str = "test",
) -> DatasetRead:
    """Read DICOM headers into samples; a file pydicom cannot parse is recorded as malformed."""
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError("reading DICOM needs pydicom: pip install 'medmine[dicom]'") from exc
    if label_from not in (None, "parent"):
        raise ValueError(f"dicom reader: label_from must be 'parent' or absent, not {label_from!r}")
    ctx = ctx or ReadContext(dataset="dicom")
    root = Path(root)
    files = sorted(p for p in root.glob(pattern) if p.is_file())
    out = DatasetRead()
    if not ctx.wants(split):
        out.fingerprint = fingerprint(root, files)
        return out
    for path in files:
        sid = rel_id(path, root)
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            size = (int(ds.Columns), int(ds.Rows))
        except (InvalidDicomError, AttributeError, OSError, ValueError) as exc:
            out.bad.append(bad(ctx, sid, path, MALFORMED, f"not a readable DICOM image ({exc})"))
            continue
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        images = tuple(
            ImageRef(path=path, size=size, frame=i if frames > 1 else None) for i in range(frames)
        )
        targets: dict[str, Target] = {}
        if label_from == "parent":
            label = ctx.canonical(path.parent.name)
            if label is None:
                msg = f"class folder {path.parent.name!r} is not in the label map"
                out.bad.append(bad(ctx, sid, path, LABEL, msg))
                continue
            targets["classification"] = ctx.label_target(label, [label])
        out.samples.append(
            Sample(
                id=sid,
                dataset=ctx.dataset,
                images=images,
                targets=targets,
                split=split,
                patient_id=str(getattr(ds, "PatientID", "") or "") or None,
                category=ctx.category,
                meta={
                    "modality": str(getattr(ds, "Modality", "")),
                    "frames": frames,
                    "study_uid": str(getattr(ds, "StudyInstanceUID", "")),
                },
            )
        )
    out.fingerprint = fingerprint(root, files)
    return out
