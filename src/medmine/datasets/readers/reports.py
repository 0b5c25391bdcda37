"""Adapters from report records (``medmine.datasets.report_text``) to Samples.

``report_text`` readers return records with ``id``, ``text``, ``sections`` (name → text),
``path`` and ``meta``. Each record becomes a Sample whose ``text`` is the report, with a
report-generation target (FINDINGS / IMPRESSION; the whole text as findings when the source
has no sections) and, when the record carries CheXpert labels, a diagnosis target.
Images named by the record (R2Gen ``image_path``) are attached when present on disk; absent
ones are counted in ``meta["missing_images"]`` (report datasets are often text-only copies).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medmine.core import ImageRef, ObservationsTarget, ReportTarget, Sample, Target
from medmine.datasets.readers.base import (
    MALFORMED,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
)

REPORT_MODULE = "medmine.datasets.report_text"
TRUTH_MODULE = "medmine.datasets.report_truth"


def report_module() -> Any:
    """The report-text module, imported lazily; ValueError when it is not installed yet."""
    try:
        return importlib.import_module(REPORT_MODULE)
    except ImportError as exc:
        raise ValueError(f"report datasets need {REPORT_MODULE}, which is missing ({exc})") from exc


def read_reports(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    function: str,
    path: str = "",
    image_dir: str | None = None,
    images_key: str = "image_path",
    split_key: str = "split",
    labels_key: str = "labels",
    observations: list[str] | None = None,
    patient_key: str = "patient_id",
    default_split: str = "test",
    fingerprint_files: list[str] | None = None,
    options: dict[str, Any] | None = None,
) -> DatasetRead:
    """Read a report source with ``report_text.<function>(root / path, **options)``."""
    ctx = ctx or ReadContext(dataset="reports")
    root = Path(root)
    module = report_module()
    reader = getattr(module, function, None) or getattr(
        importlib.import_module(TRUTH_MODULE), function, None
    )
    if not callable(reader):
        raise ValueError(f"{REPORT_MODULE} / {TRUTH_MODULE} have no reader function {function!r}")
    source = root / path if path else root
    records = reader(source, **(options or {}))
    return records_to_read(
        records,
        root=root,
        ctx=ctx,
        image_dir=image_dir,
        images_key=images_key,
        split_key=split_key,
        labels_key=labels_key,
        observations=observations,
        patient_key=patient_key,
        default_split=default_split,
        content_files=[root / f for f in (fingerprint_files or [path])] if path else [],
    )


def records_to_read(
    records: Iterable[Any],
    *,
    root: Path,
    ctx: ReadContext,
    image_dir: str | None = None,
    images_key: str = "image_path",
    split_key: str = "split",
    labels_key: str = "labels",
    observations: list[str] | None = None,
    patient_key: str = "patient_id",
    default_split: str = "test",
    content_files: list[Path] | None = None,
) -> DatasetRead:
    """Turn report records into a DatasetRead (pure: no file is read except image existence).

    Records need ``id`` and ``text``; ``sections`` (any letter case), ``metadata`` (or
    ``meta``), ``source`` (or ``path``) and ``warnings`` are used when present. CheXpert
    labels are ``metadata[labels_key]`` (a mapping) or, with ``observations``, those
    metadata fields (``labeled_reports.csv`` keeps the 14 labels as columns).
    """
    out = DatasetRead()
    seen: set[str] = set()
    content = hashlib.sha256()
    for rec in records:
        rid = str(getattr(rec, "id", "") or "")
        text = getattr(rec, "text", None)
        rec_path = str(getattr(rec, "source", None) or getattr(rec, "path", None) or root)
        if not rid or not isinstance(text, str) or not text.strip():
            out.bad.append(bad(ctx, rid or "?", rec_path, MALFORMED, "record without id or text"))
            continue
        if rid in seen:
            out.bad.append(bad(ctx, rid, rec_path, MALFORMED, f"duplicate report id {rid!r}"))
            continue
        seen.add(rid)
        meta: Mapping[str, Any] = getattr(rec, "metadata", None) or getattr(rec, "meta", None) or {}
        content.update(json.dumps([rid, text, meta], sort_keys=True, default=str).encode())
        sections = {str(k).lower(): v for k, v in (getattr(rec, "sections", None) or {}).items()}
        split = str(meta.get(split_key) or default_split)
        if not ctx.wants(split):
            continue
        findings = str(sections.get("findings") or "")
        impression = str(sections.get("impression") or "")
        if not findings and not impression:
            findings = text
        targets: dict[str, Target] = {
            "report_generation": ReportTarget(findings=findings, impression=impression)
        }
        labels = meta.get(labels_key)
        if observations:
            labels = {name: meta.get(name) for name in observations}
        if isinstance(labels, Mapping) and labels:
            targets["diagnosis"] = ObservationsTarget(values=_observations(labels))
        images: list[ImageRef] = []
        missing = 0
        names = meta.get(images_key) or []
        for name in [names] if isinstance(names, str) else names:
            p = (root / image_dir / name) if image_dir else (root / name)
            if p.is_file():
                images.append(ImageRef(path=p))
            else:
                missing += 1
        dropped = {labels_key, *(observations or [])}
        extra = {k: v for k, v in meta.items() if k not in dropped}
        warnings = list(getattr(rec, "warnings", None) or [])
        if warnings:
            extra["warnings"] = warnings
        out.samples.append(
            Sample(
                id=rid,
                dataset=ctx.dataset,
                images=tuple(images),
                text=text,
                targets=targets,
                split=split,
                patient_id=str(meta.get(patient_key) or "") or None,
                category=ctx.category,
                meta={**extra, "missing_images": missing},
            )
        )
    # The records' own content (ids, text, labels, split, image names) is the fingerprint, so
    # a folder of reports hashes what was read, never an empty input.
    content.update(fingerprint(root, [], content_files or []).encode())
    out.fingerprint = content.hexdigest()[:16]
    return out


def _observations(labels: Mapping[str, Any]) -> dict[str, float | None]:
    """CheXpert values as floats (1, 0, -1) or None for blank / not mentioned."""
    result: dict[str, float | None] = {}
    for name, value in labels.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            result[str(name)] = None
        else:
            result[str(name)] = float(value)
    return result
