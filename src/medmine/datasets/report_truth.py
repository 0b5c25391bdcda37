"""Report archives read with their own diagnosis truth, in their published layouts.

Each reader returns :class:`~medmine.datasets.report_text.ReportRecord` objects whose
``metadata`` holds ``labels`` (the 14 CheXpert values), ``truth`` (where the labels come
from, which observations they can confirm, what could not be mapped) and ``image_path``
(the study's images that exist on disk, relative to the root given).

- IU X-ray, Kaggle copy (raddar/chest-xrays-indiana-university): ``indiana_reports.csv``
  (uid, MeSH, Problems, image, indication, comparison, findings, impression),
  ``indiana_projections.csv`` (uid, filename, projection), ``images/images_normalized/``.
- IU X-ray, Open-i XML (``ecgen-radiology/*.xml``; images in ``NLMCXR_png/<parentImage id>.png``).
- MIMIC-CXR reports (``files/pXX/pSUBJECT/sSTUDY.txt``) joined by study to the labels of
  ``mimic-cxr-2.0.0-chexpert.csv[.gz]`` or ``-negbio.csv[.gz]``, the split of
  ``mimic-cxr-2.0.0-split.csv[.gz]``, and the radiologists' labels of
  ``mimic-cxr-2.1.0-test-set-labeled.csv`` for the studies it holds (expert truth).

Truth provenance is one of ``expert``, ``mesh`` (mapped by :mod:`medmine.chexpert.mesh`)
and ``automatic`` (a labeler's output).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medmine.chexpert.mesh import MAPPING_VERSION, mesh_to_observations
from medmine.chexpert.observations import OBSERVATIONS
from medmine.datasets.report_text import (
    ReportRecord,
    read_iu_xray_csv,
    read_mimic_cxr,
    read_openi_xml,
)

_IU_PROJECTIONS_LAYOUT = "indiana_projections.csv with columns uid,filename,projection"


def mesh_truth(terms: Any, source: str) -> tuple[dict[str, float | None] | None, dict[str, Any]]:
    """Labels and provenance from one report's MeSH terms; (None, why) when it has none."""
    try:
        mapped = mesh_to_observations(terms)
    except ValueError as exc:
        return None, {"kind": "mesh", "source": source, "problem": str(exc)}
    info = {
        "kind": "mesh",
        "source": source,
        "mapping": MAPPING_VERSION,
        "scored": list(mapped.scored),
        "unmapped": list(mapped.unmapped),
    }
    if not mapped.scored:
        return None, {**info, "problem": "only neutral terms (no finding stated)"}
    return mapped.values, info


def _read_csv_text(path: Path) -> str:
    """A CSV file's text, gunzipped when it ends in .gz."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8-sig", errors="replace")


def _projections(path: Path) -> dict[str, list[str]]:
    """uid -> image file names from ``indiana_projections.csv``."""
    reader = csv.DictReader(io.StringIO(_read_csv_text(path), newline=""))
    missing = {"uid", "filename"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(
            f"{path}: columns {sorted(missing)} missing; expected {_IU_PROJECTIONS_LAYOUT}"
        )
    out: dict[str, list[str]] = {}
    for row in reader:
        out.setdefault((row["uid"] or "").strip(), []).append((row["filename"] or "").strip())
    return out


def read_iu_kaggle(
    root: str | Path,
    reports: str = "indiana_reports.csv",
    projections: str = "indiana_projections.csv",
    image_dir: str = "images/images_normalized",
    truth_column: str = "MeSH",
) -> list[ReportRecord]:
    """Read the Kaggle IU X-ray copy with MeSH truth and the projections' images.

    ``truth_column`` is ``MeSH`` (heading/qualifier terms) or ``Problems`` (headings only).
    Images named in the projections table are attached when the file exists; how many were
    named but absent is kept in ``metadata["images_named"]``.
    """
    base = Path(root)
    records = read_iu_xray_csv(base / reports)
    proj_path = base / projections
    names = _projections(proj_path) if proj_path.is_file() else {}
    column = truth_column.lower()
    if column not in ("mesh", "problems"):
        raise ValueError(f"truth_column must be 'MeSH' or 'Problems', got {truth_column!r}")
    source = f"indiana_reports.csv {truth_column} column"
    for rec in records:
        labels, truth = mesh_truth(rec.metadata.get(column), source)
        files = names.get(rec.id, [])
        rec.metadata.update(
            labels=labels,
            truth=truth,
            image_path=[f"{image_dir}/{f}" for f in files if (base / image_dir / f).is_file()],
            images_named=len(files),
        )
        if labels is None:
            rec.warnings.append(f"no diagnosis truth: {truth.get('problem')}")
    return records


def read_openi_truth(root: str | Path, image_dir: str = "NLMCXR_png") -> list[ReportRecord]:
    """Read Open-i XML reports with truth from their MeSH major terms and NLMCXR_png images.

    The MeSH ``automatic`` (and ``minor``) terms stay in ``metadata["mesh_minor"]``: they are
    machine-assigned and not used as truth.
    """
    base = Path(root)
    records = read_openi_xml(base)
    images = base / image_dir
    for rec in records:
        labels, truth = mesh_truth(rec.metadata.get("mesh_major"), "Open-i XML MeSH major terms")
        ids = rec.metadata.get("image_ids") or []
        rec.metadata.update(
            labels=labels,
            truth=truth,
            image_path=[f"{image_dir}/{i}.png" for i in ids if (images / f"{i}.png").is_file()],
            images_named=len(ids),
        )
        if labels is None:
            rec.warnings.append(f"no diagnosis truth: {truth.get('problem')}")
    return records


# ------------------------------------------------------------------------------ MIMIC-CXR

_MIMIC_SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
EXPERT_FILE = "mimic-cxr-2.1.0-test-set-labeled.csv"


def _find(base: Path, name: str) -> Path | None:
    """``name`` or ``name.gz`` in the folder (or one level down), else None."""
    for folder in (base, *sorted(p for p in base.iterdir() if p.is_dir())):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _label_table(path: Path) -> dict[str, dict[str, float | None]]:
    """study_id -> the 14 values of a MIMIC-CXR label CSV (blank -> None)."""
    reader = csv.DictReader(io.StringIO(_read_csv_text(path), newline=""))
    fields = reader.fieldnames or []
    lower = {f.strip().lower(): f for f in fields}
    if "study_id" not in lower:
        raise ValueError(f"{path}: no study_id column; expected study_id and the 14 observations")
    missing = [o for o in OBSERVATIONS if o.lower() not in lower]
    if missing:
        raise ValueError(f"{path}: observation column(s) {missing} missing")
    out: dict[str, dict[str, float | None]] = {}
    for row in reader:
        values: dict[str, float | None] = {}
        for o in OBSERVATIONS:
            cell = (row.get(lower[o.lower()]) or "").strip()
            values[o] = float(cell) if cell else None
        out[(row[lower["study_id"]] or "").strip().lstrip("s")] = values
    return out


def _split_table(path: Path) -> dict[str, str]:
    """study_id -> train / val / test from ``mimic-cxr-2.0.0-split.csv``."""
    reader = csv.DictReader(io.StringIO(_read_csv_text(path), newline=""))
    if not {"study_id", "split"} <= set(reader.fieldnames or []):
        raise ValueError(f"{path}: expected columns dicom_id,study_id,subject_id,split")
    return {
        (row["study_id"] or "").strip(): _MIMIC_SPLITS.get((row["split"] or "").strip(), "")
        for row in reader
    }


def read_mimic_cxr_truth(root: str | Path, labeler: str = "chexpert") -> list[ReportRecord]:
    """Read MIMIC-CXR reports joined by study to labels, split and (when present) images.

    ``labeler`` picks ``mimic-cxr-2.0.0-chexpert.csv`` or ``-negbio.csv`` (automatic truth);
    studies in the radiologist-labelled test file get those labels instead (expert truth).
    A study absent from every label file keeps its report with no diagnosis truth, and says so.
    """
    if labeler not in ("chexpert", "negbio"):
        raise ValueError(f"labeler must be 'chexpert' or 'negbio', got {labeler!r}")
    base = Path(root)
    records = read_mimic_cxr(base)
    label_path = _find(base, f"mimic-cxr-2.0.0-{labeler}.csv")
    auto = _label_table(label_path) if label_path else {}
    expert_path = _find(base, EXPERT_FILE)
    expert = _label_table(expert_path) if expert_path else {}
    split_path = _find(base, "mimic-cxr-2.0.0-split.csv")
    splits = _split_table(split_path) if split_path else {}
    for rec in records:
        study = rec.id
        labels: Mapping[str, float | None] | None = None
        if study in expert:
            labels = expert[study]
            truth = {"kind": "expert", "source": f"radiologists ({EXPERT_FILE})"}
        elif study in auto:
            labels = auto[study]
            truth = {"kind": "automatic", "source": f"{labeler} labeler ({label_path.name})"}  # type: ignore[union-attr]
        else:
            why = f"study not in {label_path.name}" if label_path else "no label file found"
            truth = {"kind": "none", "problem": why}
            rec.warnings.append(f"no diagnosis truth: {why}")
        if labels is not None:
            truth["scored"] = list(OBSERVATIONS)
        study_dir = rec.source.with_suffix("")
        images = sorted(study_dir.glob("*.jpg")) if study_dir.is_dir() else []
        rec.metadata.update(
            labels=dict(labels) if labels is not None else None,
            truth=truth,
            image_path=[p.relative_to(base).as_posix() for p in images],
            split=splits.get(study) or ("test" if not splits else "unlisted"),
        )
    return records
