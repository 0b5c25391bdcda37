"""``medmine parse``: read a file of model answers with a task's own reader, asking no model.

Each input line is a JSON object:

- ``id`` and ``answer`` (the model's raw text);
- the label set: ``dataset`` (a catalog name, whose labels and synonyms apply) or ``labels``
  (a list of label names); needed by classification and detection;
- spatial tasks (localization, detection): ``width`` and ``height`` of the image in pixels and
  ``convention``, the coordinate convention the prompt asked for (default
  ``norm1000_xyxy``); localization may name the ``structure``.

Each output line: ``id``, ``status`` (ok, repaired, refused, unparseable), then ``label``
(canonical code) for classification, or ``boxes`` (pixel ``[x0, y0, x1, y1]`` lists) and
``ambiguous`` for localization and detection, and ``why`` (the reader's note). A bad input
line gives a line with status ``bad_input`` and the reason, and the file goes on.

The answer goes through ``task.parse(response, sample)`` exactly as in a run: the sample only
carries what the reader needs (the label set, the image size); its truth is never used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from medmine.core import (
    BoxesTarget,
    ImageRef,
    LabelTarget,
    LandmarkTarget,
    Prediction,
    Response,
    Sample,
    Target,
)
from medmine.tasks.registry import make_task
from medmine.tasks.spatial_common import answer_row

SPATIAL = ("localization", "detection")


def _label_set(row: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(labels, names) from the line's ``labels`` list or its catalog ``dataset``."""
    if "labels" in row:
        labels = row["labels"]
        if (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(x, str) for x in labels)
        ):
            raise ValueError("'labels' must be a non-empty list of label names")
        return tuple(labels), {}
    if "dataset" in row:
        from medmine.datasets.catalog import get_entry

        try:
            entry = get_entry(str(row["dataset"]))
        except KeyError as exc:
            raise ValueError(f"unknown dataset {row['dataset']!r} ({exc})") from None
        if not entry.labels:
            raise ValueError(f"dataset {entry.name!r} has no label set in the catalog")
        return tuple(entry.labels), entry.names()
    raise ValueError("needs 'dataset' (a catalog name) or 'labels' (a list of label names)")


def _size(row: dict[str, Any]) -> tuple[int, int]:
    try:
        w, h = row["width"], row["height"]
    except KeyError:
        raise ValueError("spatial tasks need 'width' and 'height' (image size in pixels)") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h)):
        raise ValueError(f"width and height must be positive integers, got {w!r} x {h!r}")
    return w, h


def _classification(row: dict[str, Any]) -> Target:
    labels, names = _label_set(row)
    return LabelTarget(labels[0], labels, names)


def _localization(row: dict[str, Any]) -> Target:
    return LandmarkTarget(str(row.get("structure", "lesion")))


def _detection(row: dict[str, Any]) -> Target:
    labels, _ = _label_set(row)
    return BoxesTarget((), labels)


#: The reading context each supported task needs from a line.
TARGETS: dict[str, Callable[[dict[str, Any]], Target]] = {
    "classification": _classification,
    "localization": _localization,
    "detection": _detection,
}


def _output(task: str, sid: str, pred: Prediction) -> dict[str, Any]:
    if task != "classification":
        return {"id": sid, **answer_row(pred)}
    value = pred.value if isinstance(pred.value, dict) else {}
    return {"id": sid, "status": pred.status.value, "label": value.get("label"), "why": pred.detail}


def parse_lines(
    task_name: str, lines: Iterable[str], source: str = "<input>"
) -> Iterator[dict[str, Any]]:
    """One output record per non-blank input line (bad lines give a ``bad_input`` record)."""
    if task_name not in TARGETS:
        raise ValueError(
            f"medmine parse reads {', '.join(TARGETS)} answers; {task_name!r} is not one of them"
        )
    tasks: dict[str, Any] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        sid = f"line {number}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a line must be a JSON object")
            sid = str(row.get("id", sid))
            answer = row.get("answer")
            if not isinstance(answer, str):
                raise ValueError("'answer' (the model's text) is missing or not a string")
            target = TARGETS[task_name](row)
            options = {}
            images: tuple[ImageRef, ...] = (ImageRef(Path(f"<{sid}>"), size=(1, 1)),)
            if task_name in SPATIAL:
                options["convention"] = str(row.get("convention", "norm1000_xyxy"))
                images = (ImageRef(Path(f"<{sid}>"), size=_size(row)),)
            key = json.dumps(options, sort_keys=True)
            if key not in tasks:
                tasks[key] = make_task(task_name, **options)
            task = tasks[key]
            sample = Sample(
                sid, str(row.get("dataset", "parse")), images, targets={task.kind: target}
            )
            pred = task.parse(Response(text=answer, model="medmine-parse"), sample)
        except (ValueError, TypeError) as exc:
            yield {"id": sid, "status": "bad_input", "why": f"{source}, line {number}: {exc}"}
            continue
        yield _output(task_name, sid, pred)


def parse_file(task_name: str, path: Path, out: Path | None) -> dict[str, int]:
    """Read ``path`` and write the readings to ``out`` (stdout when None); status counts."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        records = parse_lines(task_name, fh, str(path))
        sink = out.open("w", encoding="utf-8") if out else None
        try:
            for rec in records:
                counts[rec["status"]] = counts.get(rec["status"], 0) + 1
                text = json.dumps(rec, ensure_ascii=False)
                if sink:
                    sink.write(text + "\n")
                else:
                    print(text)
        finally:
            if sink:
                sink.close()
    return counts
