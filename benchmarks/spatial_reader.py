"""The spatial reader on the hand-written answer corpora: accuracy, silent errors, speed, flags.

Uses only ``parse_spatial`` (present before and after issue 12), so the same command judges
any medmine on ``PYTHONPATH`` -- e.g. the base commit's reader against the current one::

    PYTHONPATH=src python benchmarks/spatial_reader.py
    PYTHONPATH=/path/to/base/src python benchmarks/spatial_reader.py

A case is right when status, every coordinate (within 2 px), the ambiguity flag (a reader
without the flag counts as not flagging) and the detection labels match the careful reading
in ``tests/tasks/spatial_answer_corpus*.py``. *Silent wrong*: usable, wrong geometry, no flag.
Also prints the mean time per answer (best of 5 passes) and, with ``--realdata DIR``, how
often correct answers written from real annotations (NIH ChestX-ray14 boxes on 1024x1024,
Kvasir-SEG boxes) are flagged ambiguous in each convention.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tasks"))

from spatial_answer_corpus import CASES, Case
from spatial_answer_corpus_final import FINAL
from spatial_answer_corpus_fresh import FRESH
from spatial_answer_corpus_heldout import HELDOUT

from medmine.tasks.coords import (
    ImageGeometry,
    box_from_pixels,
    convention_name,
    parse_convention,
)
from medmine.tasks.spatial_parse import parse_spatial


def _args(case: Case) -> list[tuple[Any, ...]]:
    """parse_spatial calls that read a case (two for a localization box-and-point answer)."""
    spec = parse_convention(case.asked)
    geo = ImageGeometry(case.w, case.h)

    def call(kind: str, shape: str) -> tuple[Any, ...]:
        conv = convention_name(spec.scale, spec.order, shape)  # type: ignore[arg-type]
        return (case.text, kind, geo, conv, case.labels)

    if case.task == "segmentation":
        return [call("polygons", "point")]
    if case.task == "detection":
        return [call("labelled_boxes", "box")]
    if case.form == "both":
        return [call("box", "box"), call("point", "point")]
    is_box = case.asked.endswith(("xyxy", "yxyx"))
    return [call("box", "box") if is_box else call("point", "point")]


def _close(got: Sequence[Sequence[float]], want: Sequence[Sequence[float]]) -> bool:
    """Same count, every coordinate within 2 px."""
    return len(got) == len(want) and all(
        len(g) == len(w) and all(abs(a - b) <= 2.0 for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


def judge(cases: Sequence[Case]) -> tuple[int, int]:
    """(read right, silent wrong) over ``cases``."""
    right = silent = 0
    for case in cases:
        answers = [parse_spatial(*a) for a in _args(case)]
        usable = [a for a in answers if a.status in ("ok", "repaired")]
        status = answers[0].status if len(answers) == 1 else ("ok" if usable else "unparseable")
        boxes = [[b.x0, b.y0, b.x1, b.y1] for a in answers for b in a.boxes]
        points = [list(p) for a in answers for p in a.points]
        polygons = [[list(v) for v in poly] for a in answers for poly in a.polygons]
        flagged = any(getattr(a, "ambiguous", False) for a in usable)
        geometry_ok = (
            (case.boxes is None or _close(boxes, case.boxes))
            and (case.points is None or _close(points, case.points))
            and (
                case.polygons is None
                or (
                    len(polygons) == len(case.polygons)
                    and all(_close(g, w) for g, w in zip(polygons, case.polygons, strict=True))
                )
            )
        )
        labels_ok = (
            case.box_labels is None
            or [b.label for a in answers for b in a.boxes] == case.box_labels
        )
        right += status == case.status and geometry_ok and labels_ok and flagged == case.ambiguous
        silent += bool(usable) and not geometry_ok and not flagged
    return right, silent


def speed_ms(cases: Sequence[Case]) -> float:
    """Mean milliseconds per parse_spatial call, best of 5 passes."""
    calls = [a for c in cases for a in _args(c)]
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for a in calls:
            parse_spatial(*a)
        best = min(best, time.perf_counter() - t0)
    return best / len(calls) * 1e3


def realdata_flags(root: Path) -> None:
    """Share of correct answers flagged ambiguous, per convention, on real annotations."""
    kvasir = json.loads((root / "kvasir_seg/Kvasir-SEG/kavsir_bboxes.json").read_text())
    sets = {
        "kvasir-seg": [
            (
                ImageGeometry(e["width"], e["height"]),
                [(b["xmin"], b["ymin"], b["xmax"], b["ymax"]) for b in e["bbox"]],
            )
            for e in kvasir.values()
        ]
    }
    rows = (root / "nih_chestxray14_bbox/BBox_List_2017.csv").read_text().splitlines()[1:]
    sets["nih-cxr14"] = []
    for row in rows:
        x, y, w, h = (float(v) for v in row.split(",")[2:6])
        sets["nih-cxr14"].append((ImageGeometry(1024, 1024), [(x, y, x + w, y + h)]))
    for name, items in sets.items():
        for conv in ("norm1000_xyxy", "pixel_xyxy", "norm1_xyxy", "percent_xyxy"):
            flagged = 0
            for geo, boxes in items:
                text = json.dumps([{"box": list(box_from_pixels(b, conv, geo))} for b in boxes])
                flagged += bool(getattr(parse_spatial(text, "boxes", geo, conv), "ambiguous", 0))
            print(f"  {name} {conv}: {flagged}/{len(items)} correct answers flagged ambiguous")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, help="folder with kvasir_seg and nih_* data")
    args = parser.parse_args()
    for name, cases in (("corpus", CASES), ("held-out", HELDOUT), ("fresh", FRESH)):
        right, silent = judge(cases)
        print(f"{name}: {right}/{len(cases)} read right, {silent} silent wrong readings")
    right, silent = judge(FINAL)
    print(f"final: {right}/{len(FINAL)} read right, {silent} silent wrong readings")
    all_cases = [*CASES, *HELDOUT, *FRESH, *FINAL]
    print(f"speed: {speed_ms(all_cases):.2f} ms per answer ({len(all_cases)} answers)")
    if args.realdata is not None:
        realdata_flags(args.realdata)


if __name__ == "__main__":
    main()
