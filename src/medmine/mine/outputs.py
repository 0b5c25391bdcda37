"""Write mined answers in the formats the field's tools read.

Every run writes, into the output folder:

- ``results.jsonl``: one line per input file, everything about it: ``file`` (path relative to
  the mined root), ``status`` (``ok``, ``repaired``, ``refused``, ``unparseable``, ``error``,
  ``skipped`` or ``not_answered``), ``detail``, ``raw_answer``, ``parsed`` (the task's parsed
  value, geometry in original-image pixels), ``usage``, ``cost_usd``, ``latency_s``,
  ``cached``, ``image_size``, ``note`` (e.g. the frame mined from a multi-frame DICOM),
  ``outputs`` (files written for it);
- ``skipped.csv``: ``file, reason`` of every file not mined (not an image, corrupt, burned-in
  annotation, ...).

and, by task:

- classification: ``labels.csv`` (``file, label, status, raw_answer``, then ``p_<label>``
  columns when the model gave probabilities);
- diagnosis: ``observations.csv`` (``file``, the 14 CheXpert observations as the CheXpert
  labeler writes them — ``1.0``/``0.0``/``-1.0``/blank — then ``status``);
- detection and localization: ``detections.coco.json`` (COCO ``images``, ``annotations``,
  ``categories``; ``bbox`` is ``[x, y, width, height]`` in pixels of the original image;
  localization has one category, the target structure);
- segmentation: ``masks/<relative path>.png`` (8-bit, 0 background / 255 structure, the
  original image size), for usable answers only;
- report: ``reports/<relative path>.txt`` (the generated report text), for usable answers.

An output file keeps the input's relative path with its image suffix (``.jpg``, ``.dcm``, ...)
replaced; when two inputs would share a name, both keep their full name plus the new suffix.
DICOM UIDs appear (``study_uid``, ``series_uid``, ``sop_uid``) only when requested.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medmine.mine.images import IMAGE_SUFFIXES, UID_FIELDS, MiningInputs
from medmine.run.store import RunStore

_OUTPUT_SUFFIXES = IMAGE_SUFFIXES | {".dcm", ".dicom"}
USABLE = frozenset({"ok", "repaired"})
NOT_ANSWERED = "not asked yet (budget reached or run interrupted): rerun the command to continue"


@dataclass
class FileResult:
    """Everything known about one input file after a mining run."""

    file: str
    status: str
    detail: str | None = None
    raw_answer: str | None = None
    parsed: Any = None
    usage: dict[str, Any] | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    cached: bool | None = None
    image_size: tuple[int, int] | None = None
    uids: dict[str, str] | None = None
    note: str | None = None  # e.g. which frame of a multi-frame DICOM was mined
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """True when the answer was read (ok or repaired)."""
        return self.status in USABLE


def collect_results(
    store: RunStore, model: str, task: str, dataset: str, inputs: MiningInputs
) -> list[FileResult]:
    """One :class:`FileResult` per input file (mined or skipped), sorted by relative path."""
    rows = {r.sample_id: r for r in store.results(model, task, dataset) if r.repeat == 0}
    bad = {b.id: b.reason for b in store.bad_samples() if b.dataset == dataset}
    out: list[FileResult] = [FileResult(s.rel, "skipped", s.reason) for s in inputs.skipped]
    for sample in inputs.samples:
        size = sample.images[0].size
        uids = inputs.uids.get(sample.id)
        note = sample.meta.get("note")
        row = rows.get(sample.id)
        if row is None:
            reason = bad.get(sample.id)
            status = "skipped" if reason is not None else "not_answered"
            out.append(
                FileResult(sample.id, status, reason or NOT_ANSWERED, image_size=size, note=note)
            )
            continue
        r, p = row.response, row.prediction
        out.append(
            FileResult(
                file=sample.id,
                status=p.status.value,
                detail=p.detail,
                raw_answer=r.text if r.error is None else None,
                parsed=p.value,
                usage={
                    "input_tokens": r.usage.input_tokens,
                    "output_tokens": r.usage.output_tokens,
                    "estimated": r.usage.estimated,
                },
                cost_usd=r.cost_usd,
                latency_s=r.latency_s,
                cached=row.cached,
                image_size=size,
                uids=uids,
                note=note,
            )
        )
    if inputs.uids:
        for item in out:
            item.uids = inputs.uids.get(item.file, item.uids)
    return sorted(out, key=lambda x: x.file)


def output_names(files: Sequence[str], suffix: str) -> dict[str, str]:
    """Relative output names: the image suffix replaced by ``suffix``; clashes keep full names."""
    names: dict[str, str] = {}
    for f in files:
        p = Path(f)
        names[f] = (
            p.with_suffix(suffix).as_posix()
            if p.suffix.lower() in _OUTPUT_SUFFIXES
            else f"{f}{suffix}"
        )
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    return {f: (n if counts[n] == 1 else f"{f}{suffix}") for f, n in names.items()}


# ------------------------------------------------------------------------------ writers
def write_results_jsonl(results: Sequence[FileResult], path: Path) -> Path:
    """``results.jsonl``: one JSON object per input file."""
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            obj: dict[str, Any] = {
                "file": r.file,
                "status": r.status,
                "detail": r.detail,
                "raw_answer": r.raw_answer,
                "parsed": r.parsed,
                "usage": r.usage,
                "cost_usd": r.cost_usd,
                "latency_s": r.latency_s,
                "cached": r.cached,
                "image_size": list(r.image_size) if r.image_size else None,
                "note": r.note,
                "outputs": r.outputs,
            }
            if r.uids:
                obj.update(r.uids)
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return path


def write_skipped_csv(results: Sequence[FileResult], path: Path) -> Path:
    """``skipped.csv``: ``file, reason`` of the files not mined (header only when none)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "reason"])
        w.writerows([r.file, r.detail or ""] for r in results if r.status == "skipped")
    return path


def _uid_columns(results: Sequence[FileResult]) -> list[str]:
    return [key for key, _ in UID_FIELDS] if any(r.uids for r in results) else []


def write_labels_csv(results: Sequence[FileResult], labels: Sequence[str], path: Path) -> Path:
    """``labels.csv``: file, label, status, raw answer (+ ``p_<label>``, + UIDs when kept)."""
    probs = [
        (r.parsed or {}).get("probabilities") if isinstance(r.parsed, dict) else None
        for r in results
    ]
    with_probs = any(probs)
    uid_cols = _uid_columns(results)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                "file",
                "label",
                "status",
                "raw_answer",
                *([f"p_{lab}" for lab in labels] if with_probs else []),
                *uid_cols,
            ]
        )
        for r, pr in zip(results, probs, strict=True):
            label = (r.parsed or {}).get("label") if r.usable and isinstance(r.parsed, dict) else ""
            row = [r.file, label or "", r.status, r.raw_answer or ""]
            if with_probs:
                row += [_num((pr or {}).get(lab)) for lab in labels]
            row += [(r.uids or {}).get(c, "") for c in uid_cols]
            w.writerow(row)
    return path


def _num(value: Any) -> str:
    return "" if value is None else repr(float(value))


def write_observations_csv(results: Sequence[FileResult], path: Path) -> Path:
    """``observations.csv``: file, the 14 CheXpert observations (labeler's cells), status."""
    from medmine.chexpert import OBSERVATIONS
    from medmine.mine.reports import format_value

    uid_cols = _uid_columns(results)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", *OBSERVATIONS, "status", *uid_cols])
        for r in results:
            values: Mapping[str, Any] = {}
            if r.usable and isinstance(r.parsed, dict):
                values = r.parsed.get("observations") or {}
            cells = [format_value(values.get(o)) for o in OBSERVATIONS]
            uids = [(r.uids or {}).get(c, "") for c in uid_cols]
            w.writerow([r.file, *cells, r.status, *uids])
    return path


def write_coco(results: Sequence[FileResult], categories: Sequence[str], path: Path) -> Path:
    """``detections.coco.json``: every mined image, the usable answers' boxes as annotations.

    Boxes whose label is not a category (possible with several classes) go to an extra
    ``unlabelled`` category rather than being dropped.
    """
    cats = list(categories)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    extra = "unlabelled"
    for r in results:
        if r.status in ("skipped",) or r.image_size is None:
            continue
        image_id = len(images) + 1
        entry: dict[str, Any] = {
            "id": image_id,
            "file_name": r.file,
            "width": int(r.image_size[0]),
            "height": int(r.image_size[1]),
            "status": r.status,
        }
        entry.update(r.uids or {})
        images.append(entry)
        if not r.usable or not isinstance(r.parsed, dict):
            continue
        for box in r.parsed.get("boxes") or []:
            x0, y0, x1, y1 = (float(v) for v in box["box"])
            label = box.get("label")
            if len(cats) == 1 and label is None:
                label = cats[0]
            if label not in cats:
                if extra not in cats:
                    cats.append(extra)
                label = extra
            w, h = max(0.0, x1 - x0), max(0.0, y1 - y0)
            ann: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cats.index(label) + 1,
                "bbox": [round(x0, 2), round(y0, 2), round(w, 2), round(h, 2)],
                "area": round(w * h, 2),
                "iscrowd": 0,
            }
            if box.get("score") is not None:
                ann["score"] = float(box["score"])
            annotations.append(ann)
        r.outputs["coco_image_id"] = str(image_id)
    doc = {
        "info": {"description": "medmine mine: model answers (no ground truth)"},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i + 1, "name": c, "supercategory": "none"} for i, c in enumerate(cats)
        ],
    }
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def write_masks(results: Sequence[FileResult], folder: Path) -> int:
    """``masks/<relative path>.png`` for usable segmentation answers; returns how many."""
    from medmine.tasks.segmentation import predicted_mask

    names = output_names([r.file for r in results], ".png")
    n = 0
    for r in results:
        if not r.usable or not isinstance(r.parsed, dict) or r.image_size is None:
            continue
        width, height = r.image_size
        mask = predicted_mask(r.parsed, int(height), int(width))
        target = folder / names[r.file]
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(target)
        r.outputs["mask"] = f"{folder.name}/{names[r.file]}"
        n += 1
    return n


def write_reports(results: Sequence[FileResult], folder: Path) -> int:
    """``reports/<relative path>.txt`` with each usable generated report; returns how many."""
    names = output_names([r.file for r in results], ".txt")
    n = 0
    for r in results:
        if not r.usable or not isinstance(r.parsed, dict):
            continue
        target = folder / names[r.file]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(r.parsed.get("text", "")).strip() + "\n", encoding="utf-8")
        r.outputs["report"] = f"{folder.name}/{names[r.file]}"
        n += 1
    return n


def write_outputs(
    results: Sequence[FileResult],
    task: str,
    out_dir: Path,
    *,
    labels: Sequence[str] = (),
    structure: str | None = None,
) -> list[Path]:
    """Write the task's files, then ``results.jsonl`` and ``skipped.csv``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if task == "classification":
        written.append(write_labels_csv(results, labels, out_dir / "labels.csv"))
    elif task == "diagnosis":
        written.append(write_observations_csv(results, out_dir / "observations.csv"))
    elif task in ("detection", "localization"):
        cats = list(labels) if task == "detection" else [str(structure)]
        written.append(write_coco(results, cats, out_dir / "detections.coco.json"))
    elif task == "segmentation":
        write_masks(results, out_dir / "masks")
        written.append(out_dir / "masks")
    elif task == "report_generation":
        write_reports(results, out_dir / "reports")
        written.append(out_dir / "reports")
    else:
        raise ValueError(f"no mining output for task {task!r}")
    written.append(write_results_jsonl(results, out_dir / "results.jsonl"))
    written.append(write_skipped_csv(results, out_dir / "skipped.csv"))
    return written
