"""``medmine review RUN_DIR --export OUT``: the reviewed labels with who decided and when.

Writes, for the decided items only:

- ``reviewed_labels.csv``: one row per item: task, dataset, sample, reviewed model, decision
  (accept / correct / unreadable), the model's labels, the reviewed labels, reviewer, ISO time;
- ``reviewed.coco.json``: images and the reviewed boxes and polygons (pixel coordinates of the
  original image) as COCO annotations, each with ``reviewer`` and ``reviewed_at``;
- ``masks/<sample>.png``: for segmentation and detection items, the reviewed polygons (or
  boxes) filled as a binary mask on the image's own pixel grid;
- ``precision.csv``: per label, items predicted, reviewed, kept, unreadable, precision and its
  95% Wilson interval.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from medmine.review.media import image_size
from medmine.review.session import ReviewSession, reviewed_labels

SPATIAL = ("detection", "segmentation", "localization")


def export(session: ReviewSession, out: Path) -> list[Path]:
    """Write the export files into ``out`` (created); returns the files written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--export {out}: is a file; expected a folder")
    out.mkdir(parents=True, exist_ok=True)
    decisions = session.decisions()
    written = [_labels_csv(session, decisions, out / "reviewed_labels.csv")]
    written += _coco_and_masks(session, decisions, out)
    written.append(_precision_csv(session, out / "precision.csv"))
    return written


def _labels_csv(session: ReviewSession, decisions: dict[str, Any], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "task",
                "dataset",
                "sample_id",
                "model",
                "decision",
                "model_labels",
                "reviewed_labels",
                "reviewed_value",
                "reviewer",
                "reviewed_at",
            ]
        )
        for key, d in decisions.items():
            item = session.items.get(key)
            if item is None:
                continue
            kept = reviewed_labels(item, d)
            w.writerow(
                [
                    d.task,
                    d.dataset,
                    d.sample_id,
                    d.model,
                    d.action,
                    "; ".join(sorted(item.predicted)),
                    "" if kept is None else "; ".join(sorted(kept)),
                    json.dumps(d.value),
                    d.reviewer,
                    d.when,
                ]
            )
    return path


def _coco_and_masks(session: ReviewSession, decisions: dict[str, Any], out: Path) -> list[Path]:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    categories: dict[str, int] = {}
    written: list[Path] = []
    for key, d in decisions.items():
        item = session.items.get(key)
        if item is None or item.task not in SPATIAL or d.action == "unreadable":
            continue
        media = session.finder.find(item.dataset, item.sample_id)
        value = d.value if isinstance(d.value, dict) else {}
        size = value.get("image_size")
        if not size and media.image is not None and media.image.is_file():
            size = list(image_size(media.image))
        image_id = len(images) + 1
        images.append(
            {
                "id": image_id,
                "file_name": item.sample_id,
                "width": size[0] if size else None,
                "height": size[1] if size else None,
                "dataset": item.dataset,
                "task": item.task,
                "decision": d.action,
                "reviewer": d.reviewer,
                "reviewed_at": d.when,
            }
        )
        for shape in _shapes(value):
            cat = categories.setdefault(shape["label"], len(categories) + 1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": cat,
                    "bbox": shape["bbox"],
                    "area": shape["area"],
                    "segmentation": shape["segmentation"],
                    "iscrowd": 0,
                    "reviewer": d.reviewer,
                    "reviewed_at": d.when,
                }
            )
        if item.task in ("segmentation", "detection") and size:
            written.append(_mask(value, (int(size[0]), int(size[1])), out, item.sample_id))
    coco = {
        "info": {"description": "labels reviewed with medmine review", "run": str(session.run_dir)},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for n, i in categories.items()],
    }
    path = out / "reviewed.coco.json"
    path.write_text(json.dumps(coco, indent=1), encoding="utf-8")
    return [path, *written]


def _shapes(value: dict[str, Any]) -> list[dict[str, Any]]:
    """COCO-style boxes ([x, y, w, h]) and polygons from a reviewed spatial value."""
    shapes = []
    for b in value.get("boxes") or []:
        x0, y0, x1, y1 = (float(v) for v in b["box"])
        shapes.append(
            {
                "label": str(b.get("label") or "lesion"),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": (x1 - x0) * (y1 - y0),
                "segmentation": [],
            }
        )
    for p in value.get("polygons") or []:
        pts = p.get("points") if isinstance(p, dict) else p
        if not pts or len(pts) < 3:
            continue
        xs = [float(q[0]) for q in pts]
        ys = [float(q[1]) for q in pts]
        area = 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs))))
        shapes.append(
            {
                "label": str(p.get("label") or "structure") if isinstance(p, dict) else "structure",
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "area": area,
                "segmentation": [[c for q in zip(xs, ys, strict=True) for c in q]],
            }
        )
    return shapes


def _mask(value: dict[str, Any], size: tuple[int, int], out: Path, sample_id: str) -> Path:
    """The reviewed polygons (else boxes) filled on the image grid, as a 0/255 PNG."""
    from PIL import Image, ImageDraw

    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    polys = [p.get("points") if isinstance(p, dict) else p for p in value.get("polygons") or []]
    polys = [p for p in polys if p and len(p) >= 3]
    for pts in polys:
        draw.polygon([(float(x), float(y)) for x, y in pts], fill=255)
    if not polys:
        for b in value.get("boxes") or []:
            x0, y0, x1, y1 = (float(v) for v in b["box"])
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=255)
    path = (out / "masks" / sample_id).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    mask.save(path)
    return path


def _precision_csv(session: ReviewSession, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "label",
                "predicted",
                "reviewed",
                "correct",
                "unreadable",
                "precision",
                "ci95_low",
                "ci95_high",
            ]
        )
        for row in session.precision():
            lo, hi = row.interval
            p = row.precision
            w.writerow(
                [
                    row.label,
                    row.predicted,
                    row.reviewed,
                    row.correct,
                    row.unreadable,
                    "" if math.isnan(p) else f"{p:.4f}",
                    f"{lo:.4f}",
                    f"{hi:.4f}",
                ]
            )
    return path
