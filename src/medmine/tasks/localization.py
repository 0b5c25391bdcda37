"""Anatomical localization: the model gives a named structure as a box and/or a point.

Per sample: ``hit`` — the predicted point (or, for box answers, the box centre) lies inside the
target box (inclusive edges); when the target has no box, inside the mask of the same structure
if the sample has one, else within ``hit_radius`` (a fraction of the image diagonal) of the
target point. ``iou`` — box IoU, when a box was asked for and the target has one.
``distance`` — distance from the predicted point to the target point (the target box centre
when the target has no point), divided by the image diagonal. Failed answers are misses:
hit 0, IoU 0, distance 1.0 (opposite corners).

Reading (:mod:`medmine.tasks.spatial_parse`): the answer is read in the convention the prompt
asked for unless it states another or its numbers rule the asked one out. When the numbers
also fit another scale (this image's pixels when 0..1000 was asked) and nothing says which,
the prediction is flagged ``ambiguous`` exactly when the two readings put some corner more
than 2 px apart (and the image is not so large that a pixel answer would sit in its corner,
odds 4:1); the asked reading is scored and the other is kept in ``alternatives``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from medmine.core import (
    GenerationSettings,
    LandmarkTarget,
    MaskTarget,
    MetricSet,
    MetricSpec,
    Prediction,
    Response,
    Sample,
    TaskKind,
    TaskScores,
    stable_hash,
)
from medmine.metrics.bootstrap import mean_ci
from medmine.metrics.geometry import box_iou
from medmine.metrics.localization import normalized_distance_error, point_in_region_hit
from medmine.tasks.classification import failure_rates
from medmine.tasks.coords import describe, parse_convention
from medmine.tasks.image_task import ImageTask
from medmine.tasks.registry import register_task
from medmine.tasks.segmentation import target_mask
from medmine.tasks.spatial_common import (
    box_schema,
    box_spelling,
    check_convention,
    combine_box_point,
    image_geometry,
    modality,
    pair_schema,
    point_spelling,
    read_prediction,
    size_sentence,
    value_of,
)
from medmine.tasks.spatial_parse import PARSER_VERSION

AnswerForm = Literal["box", "point", "both"]
ANSWER_FORMS: tuple[str, ...] = ("box", "point", "both")

PROMPT = """\
You are an expert in {category} image interpretation.
Locate the {structure} in this {modality}. {size}
{what}
{convention}
Answer with a JSON object and nothing else:
{json}"""

_WHAT = {
    "box": "Give the bounding box that tightly encloses the {structure}.",
    "point": "Give the point at the centre of the {structure}.",
    "both": (
        "Give the bounding box that tightly encloses the {structure} and the point at its centre."
    ),
}


#: What this task reports; every view (terminal, Markdown, CSV, HTML, LaTeX, paired
#: tests) reads this declaration.
METRICS = MetricSet(
    headline=MetricSpec("hit_rate", "hit rate", per_sample="hit"),
    secondary=(
        MetricSpec(
            "distance_error_mean",
            "distance error (/diagonal)",
            higher_is_better=False,
            per_sample="distance",
        ),
        MetricSpec("iou_mean", "IoU", per_sample="iou"),
    ),
)


@dataclass
class LocalizationTask(ImageTask[LandmarkTarget]):
    """Localization of a named structure; hit rate (headline), box IoU, distance error."""

    target_type: ClassVar[type] = LandmarkTarget

    convention: str = "norm1000_xyxy"
    answer: AnswerForm = "box"
    hit_radius: float = 0.05
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=256))
    metrics: ClassVar[MetricSet] = METRICS
    # answer length in tokens for cost estimates: one box (~15) plus its wrapper
    typical_output_tokens: ClassVar[int] = 25
    name: str = "localization"
    kind: TaskKind = TaskKind.LOCALIZATION
    version: str = "1"

    def __post_init__(self) -> None:
        """Validate the options."""
        check_convention(self.convention)
        if self.answer not in ANSWER_FORMS:
            raise ValueError(
                f"localization answer must be one of {', '.join(ANSWER_FORMS)}, got {self.answer!r}"
            )
        if not 0 < float(self.hit_radius) <= 1:
            raise ValueError(f"hit_radius must be in (0, 1], got {self.hit_radius!r}")

    def applies_to(self, sample: Sample) -> bool:
        """Needs an image and a landmark target (box or point) under ``localization``."""
        target = sample.target(self.kind)
        return (
            bool(sample.images)
            and isinstance(target, LandmarkTarget)
            and (target.box is not None or target.point is not None)
        )

    def prompt(self, sample: Sample) -> str:
        """The prompt: structure, image size, answer form and convention in words, JSON form."""
        target = self._target(sample)
        geometry = image_geometry(sample)
        xy = parse_convention(self.convention).order == "xy"
        box = "[x_min, y_min, x_max, y_max]" if xy else "[y_min, x_min, y_max, x_max]"
        point = "[x, y]" if xy else "[y, x]"
        conv = []
        if self.answer in ("box", "both"):
            conv.append(describe(box_spelling(self.convention), geometry))
        if self.answer in ("point", "both"):
            conv.append(describe(point_spelling(self.convention), geometry))
        json_form = {
            "box": f'{{"box": {box}}}',
            "point": f'{{"point": {point}}}',
            "both": f'{{"box": {box}, "point": {point}}}',
        }[self.answer]
        return PROMPT.format(
            category=sample.category or "medical",
            structure=target.structure,
            modality=modality(sample),
            size=size_sentence(geometry),
            what=_WHAT[self.answer].format(structure=target.structure),
            convention="\n".join(conv),
            json=json_form,
        )

    def json_schema(self, sample: Sample) -> dict[str, object]:
        """JSON schema of the answer for the chosen answer form."""
        props: dict[str, Any] = {}
        if self.answer in ("box", "both"):
            props["box"] = box_schema()
        if self.answer in ("point", "both"):
            props["point"] = pair_schema()
        return {"type": "object", "properties": props, "required": sorted(props)}

    def intent(self, sample: Sample) -> dict[str, Any]:
        """The intent carries the structure and the coordinate convention."""
        return {"structure": self._target(sample).structure, "convention": self.convention}

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the box and/or point; never raises."""
        if self.answer == "box":
            return read_prediction(response, sample, "box", box_spelling(self.convention))
        if self.answer == "point":
            return read_prediction(response, sample, "point", point_spelling(self.convention))
        box = read_prediction(response, sample, "box", box_spelling(self.convention))
        point = read_prediction(response, sample, "point", point_spelling(self.convention))
        return combine_box_point(box, point)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Hit rate (headline, CI), mean box IoU, mean normalised distance, failure rates."""
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
        per_sample: dict[str, dict[str, float]] = {}
        rules = {"box": 0, "mask": 0, "radius": 0}
        unreadable: dict[str, str] = {}
        for pred, sample in zip(predictions, samples, strict=True):
            try:
                row, rule = self._score_one(value_of(pred), sample)
            except (OSError, ValueError) as exc:
                unreadable[sample.id] = str(exc)
                continue
            row["usable"] = float(pred.usable)
            per_sample[sample.id] = row
            rules[rule] += 1
        scored = [s for s in samples if s.id in per_sample]
        metrics: dict[str, float] = {
            **failure_rates(predictions),
            "n_unreadable_targets": float(len(unreadable)),
        }
        if scored:
            hits = np.array([per_sample[s.id]["hit"] for s in scored])
            metrics["hit_rate"] = float(hits.mean())
            groups = [s.patient_id or s.id for s in scored]
            metrics["hit_rate_ci_low"], metrics["hit_rate_ci_high"] = mean_ci(hits, groups=groups)
            dists = [per_sample[s.id]["distance"] for s in scored]
            metrics["distance_error_mean"] = float(np.mean(dists))
            ious = [per_sample[s.id]["iou"] for s in scored if "iou" in per_sample[s.id]]
            if ious:
                metrics["iou_mean"] = float(np.mean(ious))
        else:
            metrics["hit_rate"] = float("nan")
        return TaskScores(
            metrics=metrics,
            per_sample=per_sample,
            headline=METRICS.headline.key,
            tables={"hit_rule_counts": rules, "unreadable_targets": unreadable},
        )

    def _score_one(self, value: dict[str, Any], sample: Sample) -> tuple[dict[str, float], str]:
        """One sample's hit, IoU and distance, and which hit rule applied."""
        target = self._target(sample)
        geometry = image_geometry(sample)
        boxes = value.get("boxes") or []
        points = value.get("points") or []
        pbox = boxes[0]["box"] if boxes else None
        if points:
            ppoint: tuple[float, float] | None = (float(points[0][0]), float(points[0][1]))
        elif pbox is not None:
            ppoint = ((pbox[0] + pbox[2]) / 2, (pbox[1] + pbox[3]) / 2)
        else:
            ppoint = None
        tb = target.box
        tbox = None if tb is None else (tb.x0, tb.y0, tb.x1, tb.y1)
        tpoint = target.point
        if tpoint is None:
            assert tbox is not None
            tpoint = ((tbox[0] + tbox[2]) / 2, (tbox[1] + tbox[3]) / 2)
        row: dict[str, float] = {}
        if tbox is not None:
            rule = "box"
            hit = ppoint is not None and point_in_region_hit(ppoint, tbox)
            if self.answer in ("box", "both"):
                row["iou"] = box_iou(pbox, tbox) if pbox is not None else 0.0
        else:
            region = _structure_mask(sample, target.structure)
            if region is not None:
                rule = "mask"
                hit = ppoint is not None and point_in_region_hit(ppoint, region)
            else:
                rule = "radius"
                hit = ppoint is not None and (
                    normalized_distance_error(ppoint, tpoint, geometry.height, geometry.width)
                    <= self.hit_radius
                )
        row["hit"] = float(hit)
        row["distance"] = (
            1.0
            if ppoint is None
            else normalized_distance_error(ppoint, tpoint, geometry.height, geometry.width)
        )
        return row, rule

    def template_hash(self) -> str:
        """Hash of the prompt template, the parser version and the options."""
        return stable_hash(
            [
                PROMPT,
                _WHAT,
                self.version,
                PARSER_VERSION,
                self.convention,
                self.answer,
                self.hit_radius,
            ]
        )


def _structure_mask(sample: Sample, structure: str) -> np.ndarray | None:
    """The mask of the named structure among the sample's segmentation targets, if any."""
    for key, target in sample.targets.items():
        if (
            str(key).startswith(TaskKind.SEGMENTATION.value)
            and isinstance(target, MaskTarget)
            and target.structure == structure
        ):
            return target_mask(target)
    return None


register_task("localization", LocalizationTask)
