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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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


def output_name(file: str, suffix: str, clash: bool = False) -> str:
    """One file's relative output name: its image suffix replaced by ``suffix``, or its full
    name plus ``suffix`` when it has no image suffix or its name clashes with another's."""
    p = Path(file)
    if not clash and p.suffix.lower() in _OUTPUT_SUFFIXES:
        return p.with_suffix(suffix).as_posix()
    return f"{file}{suffix}"


def output_names(files: Sequence[str], suffix: str) -> dict[str, str]:
    """Relative output names: the image suffix replaced by ``suffix``; clashes keep full names."""
    names = {f: output_name(f, suffix) for f in files}
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    return {f: (n if counts[n] == 1 else output_name(f, suffix, True)) for f, n in names.items()}


def write_outputs(
    results: Sequence[FileResult],
    task: str,
    out_dir: Path,
    *,
    labels: Sequence[str] = (),
    structure: str | None = None,
) -> list[Path]:
    """Write the task's files, then ``results.jsonl`` and ``skipped.csv``; returns the paths
    (the results are held already: :class:`OutputWriter` writes
    them one at a time)."""
    probs = any(
        (r.parsed or {}).get("probabilities") if isinstance(r.parsed, dict) else None
        for r in results
    )
    suffix = ".png" if task == "segmentation" else ".txt"
    names = output_names([r.file for r in results], suffix)
    clashes = frozenset(f for f, n in names.items() if n != output_name(f, suffix))
    writer = OutputWriter(
        task, out_dir, labels=labels, structure=structure, with_probs=probs,
        with_uids=any(r.uids for r in results), clashes=clashes,
    )  # fmt: skip
    for r in results:
        writer.add(r)
    return writer.close()


# ------------------------------------------------------------------------------ the writer
# :class:`OutputWriter` takes the results in file order and appends each to every output as it
# comes (task row, mask or report file, COCO image and boxes, results.jsonl line, skipped.csv
# line), so a tree of a million files is written in flat memory. The COCO document is written
# as ``json.dumps(doc, indent=1)`` would write it (its boxes go to a side file until the
# images are all written). Known before the first row: whether labels.csv has ``p_<label>``
# columns, whether UID columns are written, and which files share an output name.


def _num(value: Any) -> str:
    return "" if value is None else repr(float(value))


def _indented(obj: Any, depth: int) -> str:
    """``obj`` as ``json.dumps(..., indent=1)`` writes it ``depth`` levels deep in a doc."""
    pad = " " * depth
    return "\n".join(pad + line for line in json.dumps(obj, indent=1).splitlines())


class OutputWriter:
    """The output files of one mining run, written a result at a time (see the module doc)."""

    def __init__(
        self,
        task: str,
        out_dir: Path,
        *,
        labels: Sequence[str] = (),
        structure: str | None = None,
        with_probs: bool = False,
        with_uids: bool = False,
        clashes: frozenset[str] = frozenset(),
    ) -> None:
        """Open the task's files and ``results.jsonl`` / ``skipped.csv`` (headers written)."""
        if task not in ("classification", "diagnosis", "detection", "localization",
                        "segmentation", "report_generation"):  # fmt: skip
            raise ValueError(f"no mining output for task {task!r}")
        self.task, self.out_dir = task, Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.labels, self.with_probs, self.clashes = list(labels), with_probs, clashes
        self.uid_cols = [key for key, _ in UID_FIELDS] if with_uids else []
        self.written: list[Path] = []
        self._files: list[IO[str]] = []
        self.jsonl = self._open("results.jsonl")
        self.skipped = csv.writer(self._open("skipped.csv", newline=""), lineterminator="\n")
        self.skipped.writerow(["file", "reason"])
        self.table: Any = None
        if task == "classification":
            self.table = csv.writer(self._open("labels.csv", newline=""), lineterminator="\n")
            probs = [f"p_{lab}" for lab in self.labels] if with_probs else []
            self.table.writerow(["file", "label", "status", "raw_answer", *probs, *self.uid_cols])
        elif task == "diagnosis":
            from medmine.chexpert import OBSERVATIONS

            self.table = csv.writer(self._open("observations.csv", newline=""), lineterminator="\n")
            self.table.writerow(["file", *OBSERVATIONS, "status", *self.uid_cols])
        elif task in ("detection", "localization"):
            self.cats = list(labels) if task == "detection" else [str(structure)]
            self.coco = self._open("detections.coco.json")
            self.coco.write('{\n "info": {\n  "description": "medmine mine: model answers (no '
                            'ground truth)"\n },\n "images": [')  # fmt: skip
            self.boxes = (self.out_dir / "detections.coco.json.boxes").open("w", encoding="utf-8")
            self.n_images = self.n_boxes = 0
        else:
            self.folder = self.out_dir / ("masks" if task == "segmentation" else "reports")

    def _open(self, name: str, newline: str | None = None) -> IO[str]:
        handle = (self.out_dir / name).open("w", encoding="utf-8", newline=newline)
        self._files.append(handle)
        self.written.append(self.out_dir / name)
        return handle

    # ------------------------------------------------------------------------------ rows
    def add(self, r: FileResult) -> None:
        """Append one file's result to every output (task file first: it names the outputs
        that ``results.jsonl`` lists)."""
        if self.task == "classification":
            self._label_row(r)
        elif self.task == "diagnosis":
            self._observation_row(r)
        elif self.task in ("detection", "localization"):
            self._coco(r)
        elif self.task == "segmentation":
            self._mask(r)
        else:
            self._report(r)
        obj: dict[str, Any] = {
            "file": r.file, "status": r.status, "detail": r.detail, "raw_answer": r.raw_answer,
            "parsed": r.parsed, "usage": r.usage, "cost_usd": r.cost_usd,
            "latency_s": r.latency_s, "cached": r.cached,
            "image_size": list(r.image_size) if r.image_size else None, "note": r.note,
            "outputs": r.outputs,
        }  # fmt: skip
        if r.uids:
            obj.update(r.uids)
        self.jsonl.write(json.dumps(obj, ensure_ascii=False) + "\n")
        if r.status == "skipped":
            self.skipped.writerow([r.file, r.detail or ""])

    def _uids(self, r: FileResult) -> list[str]:
        return [(r.uids or {}).get(c, "") for c in self.uid_cols]

    def _label_row(self, r: FileResult) -> None:
        parsed = r.parsed if isinstance(r.parsed, dict) else None
        label = (parsed or {}).get("label") if r.usable else ""
        row = [r.file, label or "", r.status, r.raw_answer or ""]
        if self.with_probs:
            probs = (parsed or {}).get("probabilities")
            row += [_num((probs or {}).get(lab)) for lab in self.labels]
        self.table.writerow(row + self._uids(r))

    def _observation_row(self, r: FileResult) -> None:
        from medmine.chexpert import OBSERVATIONS
        from medmine.mine.report_labels import format_value

        values: Mapping[str, Any] = {}
        if r.usable and isinstance(r.parsed, dict):
            values = r.parsed.get("observations") or {}
        cells = [format_value(values.get(o)) for o in OBSERVATIONS]
        self.table.writerow([r.file, *cells, r.status, *self._uids(r)])

    def _coco(self, r: FileResult) -> None:
        """The file as a COCO image and its usable boxes as annotations (a box whose label is
        not a category goes to an extra ``unlabelled`` category rather than being dropped)."""
        if r.status == "skipped" or r.image_size is None:
            return
        self.n_images += 1
        entry: dict[str, Any] = {
            "id": self.n_images, "file_name": r.file, "width": int(r.image_size[0]),
            "height": int(r.image_size[1]), "status": r.status,
        }  # fmt: skip
        entry.update(r.uids or {})
        self.coco.write(("," if self.n_images > 1 else "") + "\n" + _indented(entry, 2))
        if not r.usable or not isinstance(r.parsed, dict):
            return
        for box in r.parsed.get("boxes") or []:
            x0, y0, x1, y1 = (float(v) for v in box["box"])
            label = box.get("label")
            if len(self.cats) == 1 and label is None:
                label = self.cats[0]
            if label not in self.cats:
                if "unlabelled" not in self.cats:
                    self.cats.append("unlabelled")
                label = "unlabelled"
            w, h = max(0.0, x1 - x0), max(0.0, y1 - y0)
            self.n_boxes += 1
            ann: dict[str, Any] = {
                "id": self.n_boxes, "image_id": self.n_images,
                "category_id": self.cats.index(label) + 1,
                "bbox": [round(x0, 2), round(y0, 2), round(w, 2), round(h, 2)],
                "area": round(w * h, 2), "iscrowd": 0,
            }  # fmt: skip
            if box.get("score") is not None:
                ann["score"] = float(box["score"])
            self.boxes.write(("," if self.n_boxes > 1 else "") + "\n" + _indented(ann, 2))
        r.outputs["coco_image_id"] = str(self.n_images)

    def _mask(self, r: FileResult) -> None:
        """``masks/<name>.png`` (0/255 at the original size) for a usable answer."""
        from medmine.tasks.segmentation import predicted_mask

        if not r.usable or not isinstance(r.parsed, dict) or r.image_size is None:
            return
        name = output_name(r.file, ".png", r.file in self.clashes)
        width, height = r.image_size
        mask = predicted_mask(r.parsed, int(height), int(width))
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(target)
        r.outputs["mask"] = f"{self.folder.name}/{name}"

    def _report(self, r: FileResult) -> None:
        """``reports/<name>.txt`` with a usable generated report."""
        if not r.usable or not isinstance(r.parsed, dict):
            return
        name = output_name(r.file, ".txt", r.file in self.clashes)
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(r.parsed.get("text", "")).strip() + "\n", encoding="utf-8")
        r.outputs["report"] = f"{self.folder.name}/{name}"

    # ------------------------------------------------------------------------------ end
    def close(self) -> list[Path]:
        """Finish every file; returns the paths written, as ``write_outputs`` lists them."""
        if self.task in ("detection", "localization"):
            self.boxes.close()
            side = self.out_dir / "detections.coco.json.boxes"
            self.coco.write(("\n ]" if self.n_images else "]") + ',\n "annotations": [')
            with side.open(encoding="utf-8") as fh:
                while block := fh.read(1 << 20):
                    self.coco.write(block)
            os.unlink(side)
            cats = [{"id": i + 1, "name": c, "supercategory": "none"}
                    for i, c in enumerate(self.cats)]  # fmt: skip
            self.coco.write(("\n ]" if self.n_boxes else "]") + ',\n "categories": ')
            self.coco.write(json.dumps(cats, indent=1).replace("\n", "\n ") + "\n}")
        for handle in self._files:
            handle.close()
        jsonl, skipped, *task_files = self.written
        if self.task in ("segmentation", "report_generation"):
            task_files = [self.folder]
        return [*task_files, jsonl, skipped]
