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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmine.mine.images import IMAGE_SUFFIXES, MiningInputs
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
    (the results are held already: :class:`~medmine.mine.output_writer.OutputWriter` writes
    them one at a time)."""
    from medmine.mine.output_writer import OutputWriter

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
