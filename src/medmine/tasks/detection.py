"""Lesion detection: every lesion of the listed classes as a labelled box.

Scored with the COCO bbox evaluation (:func:`medmine.metrics.detection.coco_average_precision`,
pycocotools-identical) over all images of the dataset: AP@[.5:.95], AP50 (headline), AP75, AR,
per-class AP, and micro precision / recall / F1 at IoU 0.5. An explicit empty list is a valid
answer for a normal image; failed answers count as "no detections" (their lesions are missed).

Ties: MLLM boxes carry no confidence, so each gets score 1.0 (a box the model did score keeps
its score). COCO ranks predictions by descending score with a stable sort, so tied boxes are
ranked by image id (the sample id, sorted as strings) and, inside one image, in the order the
model gave them. AP over unscored answers is therefore one deterministic operating point, not
a curve the model chose; precision, recall and F1 at IoU 0.5 do not depend on the ranking.

Labels: answer labels are matched case-insensitively onto the class list by the parser. A box
without a label takes the class when the list has exactly one class (counted in
``unlabelled_rate``); otherwise, and for labels outside the list, the box is a false positive.
"Polyp A" or "the polyp" names one class and takes it; a YOLO class index is a position in
the list.

Scale: as for localization (see :mod:`medmine.tasks.localization`), an answer whose scale
cannot be known is read in the asked convention and flagged ``ambiguous`` exactly when the
other reading moves some corner by more than 2 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from medmine.core import (
    BoxesTarget,
    GenerationSettings,
    MetricSet,
    MetricSpec,
    Prediction,
    Response,
    Sample,
    TaskKind,
    TaskScores,
    stable_hash,
)
from medmine.metrics.bootstrap import bootstrap_ci
from medmine.metrics.detection import coco_average_precision
from medmine.tasks.classification import failure_rates
from medmine.tasks.coords import describe, parse_convention
from medmine.tasks.image_task import ImageTask
from medmine.tasks.registry import register_task
from medmine.tasks.spatial_common import (
    box_schema,
    box_spelling,
    check_convention,
    image_geometry,
    modality,
    read_prediction,
    size_sentence,
    value_of,
)
from medmine.tasks.spatial_parse import PARSER_VERSION

PROMPT = """\
You are an expert in {category} image interpretation.
Detect every lesion of these classes in this {modality}: {classes}. {size}
Give each lesion its class label and a bounding box that tightly encloses it.
{convention}
Answer with a JSON object and nothing else:
{{"lesions": [{{"label": "<one of: {classes}>", "box": {box}}}, ...]}}
If there is no such lesion in the image, answer {{"lesions": []}}."""

NO_LABEL = "<no label>"

GtRow = tuple[str, tuple[float, float, float, float]]
PredRow = tuple[str, tuple[float, float, float, float], float]


#: What this task reports; every view (terminal, Markdown, CSV, HTML, LaTeX, paired
#: tests) reads this declaration.
METRICS = MetricSet(
    headline=MetricSpec("ap50", "AP50", per_sample="tp/fp/fn"),
    secondary=(
        MetricSpec("f1", "F1@0.5", per_sample="tp/fp/fn"),
        MetricSpec("precision", "precision@0.5"),
        MetricSpec("recall", "recall@0.5"),
        MetricSpec("ap", "AP@[.5:.95]"),
    ),
)


@dataclass
class DetectionTask(ImageTask[BoxesTarget]):
    """Detection as labelled boxes; COCO AP50 (headline), AP@[.5:.95], P/R/F1 at IoU 0.5."""

    target_type: ClassVar[type] = BoxesTarget

    convention: str = "norm1000_xyxy"
    settings: GenerationSettings = field(
        default_factory=lambda: GenerationSettings(max_tokens=1024)
    )
    ci_resamples: int = 200
    metrics: ClassVar[MetricSet] = METRICS
    # answer length in tokens for cost estimates: a few labelled boxes (~20 each)
    typical_output_tokens: ClassVar[int] = 60
    name: str = "detection"
    kind: TaskKind = TaskKind.DETECTION
    version: str = "1"

    def __post_init__(self) -> None:
        """Validate the options."""
        check_convention(self.convention)
        if isinstance(self.ci_resamples, bool) or int(self.ci_resamples) < 0:
            raise ValueError(f"ci_resamples must be >= 0, got {self.ci_resamples!r}")

    def applies_to(self, sample: Sample) -> bool:
        """Needs an image and a boxes target with at least one class under ``detection``."""
        target = sample.target(self.kind)
        return bool(sample.images) and isinstance(target, BoxesTarget) and bool(target.labels)

    def prompt(self, sample: Sample) -> str:
        """The prompt: the class list, image size, the convention in words, the JSON form."""
        target = self._target(sample)
        geometry = image_geometry(sample)
        xy = parse_convention(self.convention).order == "xy"
        return PROMPT.format(
            category=sample.category or "medical",
            modality=modality(sample),
            classes=", ".join(target.labels),
            size=size_sentence(geometry),
            convention=describe(box_spelling(self.convention), geometry),
            box="[x_min, y_min, x_max, y_max]" if xy else "[y_min, x_min, y_max, x_max]",
        )

    def json_schema(self, sample: Sample) -> dict[str, object]:
        """JSON schema of the answer: a list of {label, box} objects."""
        target = self._target(sample)
        item = {
            "type": "object",
            "properties": {
                "label": {"type": "string", "enum": list(target.labels)},
                "box": box_schema(),
            },
            "required": ["label", "box"],
        }
        return {
            "type": "object",
            "properties": {"lesions": {"type": "array", "items": item}},
            "required": ["lesions"],
        }

    def intent(self, sample: Sample) -> dict[str, Any]:
        """The intent carries the class list and the coordinate convention."""
        return {"labels": self._target(sample).labels, "convention": self.convention}

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read labelled boxes (labels mapped onto the class list); never raises."""
        labels = self._target(sample).labels
        return read_prediction(
            response, sample, "labelled_boxes", box_spelling(self.convention), labels
        )

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """COCO metrics over the whole dataset, per-image TP/FP/FN at IoU 0.5, AP50 CI."""
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
        gts: list[list[GtRow]] = []
        preds: list[list[PredRow]] = []
        unlabelled = 0
        for pred, sample in zip(predictions, samples, strict=True):
            target = self._target(sample)
            gts.append(_gt_rows(target, sample.id))
            rows, n_unlabelled = _pred_rows(value_of(pred), target.labels)
            preds.append(rows)
            unlabelled += n_unlabelled
        ids = [s.id for s in samples]
        metrics: dict[str, float] = {
            **failure_rates(predictions),
            "unlabelled_rate": unlabelled / max(sum(len(p) for p in preds), 1),
        }
        per_sample = {sid: _counts(g, p) for sid, g, p in zip(ids, gts, preds, strict=True)}
        tp = sum(c["tp"] for c in per_sample.values())
        fp = sum(c["fp"] for c in per_sample.values())
        fn = sum(c["fn"] for c in per_sample.values())
        metrics["precision"] = tp / (tp + fp) if tp + fp else 0.0
        metrics["recall"] = tp / (tp + fn) if tp + fn else 0.0
        metrics["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        tables: dict[str, Any] = {"ties": "unscored boxes get score 1.0; ties by image id"}
        if not any(gts):
            metrics.update(ap=float("nan"), ap50=float("nan"), ap75=float("nan"), ar=float("nan"))
            tables["note"] = "no ground-truth box in the dataset: AP is undefined"
            return TaskScores(metrics, per_sample, "ap50", tables)
        full = coco_average_precision(_flat_gts(ids, gts), _flat_preds(ids, preds))
        at50 = coco_average_precision(_flat_gts(ids, gts), _flat_preds(ids, preds), [0.5])
        metrics.update(
            ap=full.ap,
            ap50=float(full.ap50 if full.ap50 is not None else np.nan),
            ap75=float(full.ap75 if full.ap75 is not None else np.nan),
            ar=full.ar,
        )
        tables["per_class"] = {
            str(label): {
                "ap": full.ap_per_class.get(label),
                "ap50": at50.ap_per_class.get(label),
                "tp": counts.tp,
                "fp": counts.fp,
                "fn": counts.fn,
            }
            for label, counts in at50.counts_per_class.items()
        }
        tables["classes_without_gt"] = [str(c) for c in full.classes_without_gt]
        if self.ci_resamples and len(samples) >= 2:
            groups = [s.patient_id or s.id for s in samples]
            lo, hi = bootstrap_ci(
                lambda idx: _ap50(idx, gts, preds),
                len(samples),
                groups=groups,
                n_resamples=int(self.ci_resamples),
            )
            metrics["ap50_ci_low"], metrics["ap50_ci_high"] = lo, hi
        return TaskScores(
            metrics=metrics, per_sample=per_sample, headline=METRICS.headline.key, tables=tables
        )

    def template_hash(self) -> str:
        """Hash of the prompt template, the parser version and the options."""
        return stable_hash([PROMPT, self.version, PARSER_VERSION, self.convention, NO_LABEL])


def _gt_rows(target: BoxesTarget, sample_id: str) -> list[GtRow]:
    """Ground-truth (label, box) rows; an unlabelled box needs a single-class target."""
    rows: list[GtRow] = []
    for b in target.boxes:
        label = b.label
        if label is None:
            if len(target.labels) != 1:
                raise ValueError(
                    f"sample {sample_id!r}: ground-truth box without a label in a "
                    f"{len(target.labels)}-class target"
                )
            label = target.labels[0]
        rows.append((label, (b.x0, b.y0, b.x1, b.y1)))
    return rows


def _pred_rows(value: dict[str, Any], labels: Sequence[str]) -> tuple[list[PredRow], int]:
    """Predicted (label, box, score) rows and how many boxes had no label."""
    rows: list[PredRow] = []
    unlabelled = 0
    for item in value.get("boxes") or []:
        label = item.get("label")
        if label is None:
            unlabelled += 1
            label = labels[0] if len(labels) == 1 else NO_LABEL
        score = item.get("score")
        x0, y0, x1, y1 = (float(v) for v in item["box"])
        rows.append((str(label), (x0, y0, x1, y1), 1.0 if score is None else float(score)))
    return rows, unlabelled


def _flat_gts(ids: Sequence[Any], gts: Sequence[list[GtRow]]) -> list[tuple[Any, ...]]:
    """COCO ground-truth tuples (image id, label, box)."""
    return [(i, lab, box) for i, rows in zip(ids, gts, strict=True) for lab, box in rows]


def _flat_preds(ids: Sequence[Any], preds: Sequence[list[PredRow]]) -> list[tuple[Any, ...]]:
    """COCO prediction tuples (image id, label, box, score)."""
    return [(i, lab, box, sc) for i, rows in zip(ids, preds, strict=True) for lab, box, sc in rows]


def _counts(gts: list[GtRow], preds: list[PredRow]) -> dict[str, float]:
    """TP/FP/FN of one image at IoU 0.5 (COCO's greedy matching within the image)."""
    if not gts:
        return {"tp": 0.0, "fp": float(len(preds)), "fn": 0.0}
    res = coco_average_precision(_flat_gts(["i"], [gts]), _flat_preds(["i"], [preds]), [0.5])
    o = res.overall
    return {"tp": float(o.tp), "fp": float(o.fp), "fn": float(o.fn)}


def _ap50(idx: np.ndarray, gts: Sequence[list[GtRow]], preds: Sequence[list[PredRow]]) -> float:
    """AP50 on a bootstrap resample (each drawn image gets its own id); NaN without boxes."""
    ids = list(range(len(idx)))
    g = [gts[i] for i in idx]
    if not any(g):
        return float("nan")
    result = coco_average_precision(
        _flat_gts(ids, g), _flat_preds(ids, [preds[i] for i in idx]), [0.5]
    )
    return float(result.ap50 if result.ap50 is not None else np.nan)


register_task("detection", DetectionTask)
