"""Lesion / structure segmentation: the model outlines the structure as polygon(s).

The answer's polygons are rasterised onto the original image grid (a pixel belongs to a polygon
when its centre is inside, even-odd rule; several polygons are united) and compared with the
ground-truth mask read by the target's value rule. A box answer is accepted as a fallback: the
parser turns it into the box's four corners (status ``repaired``, noted) and it is rasterised
like any polygon. Unparseable, refused and failed answers are an empty mask: Dice 0, and the
worst distance (the image diagonal) for HD95/ASSD — never skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from medmine.core import (
    GenerationSettings,
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
from medmine.core.parallel import process_map
from medmine.datasets.masks import read_mask
from medmine.metrics.bootstrap import mean_ci
from medmine.metrics.geometry import rasterize_polygon
from medmine.metrics.segmentation import segmentation_scores
from medmine.tasks.classification import failure_rates
from medmine.tasks.coords import describe, parse_convention
from medmine.tasks.image_task import ImageTask
from medmine.tasks.registry import register_task
from medmine.tasks.spatial_common import (
    check_convention,
    image_geometry,
    modality,
    pair_schema,
    point_spelling,
    read_prediction,
    size_sentence,
    value_of,
)
from medmine.tasks.spatial_parse import PARSER_VERSION

PROMPT = """\
You are an expert in {category} image interpretation.
Segment the {structure} in this {modality}. {size}
Outline each separate region of the {structure} as a polygon: at least 3 vertices that trace \
its boundary in order.
{convention}
Answer with a JSON object and nothing else:
{{"polygons": [[[{a}, {b}], [{a}, {b}], [{a}, {b}], ...]]}}
If there is no {structure} in the image, answer {{"polygons": []}}."""


def target_mask(target: MaskTarget) -> np.ndarray:
    """The ground-truth foreground as a boolean array, by the target's value rule."""
    arr = read_mask(target.path, value_map=target.value_map, threshold=target.threshold)
    if target.value_map is not None:
        return np.asarray(arr == target.foreground)
    return np.asarray(arr, dtype=bool)


def predicted_mask(value: dict[str, Any], height: int, width: int) -> np.ndarray:
    """Union of the answer's polygons rasterised on a ``(height, width)`` grid."""
    mask = np.zeros((height, width), dtype=bool)
    for poly in value.get("polygons") or []:
        pts = np.asarray(poly, dtype=np.float64)
        if pts.ndim == 2 and pts.shape[0] >= 3 and pts.shape[1] == 2:
            mask |= rasterize_polygon(pts, height, width)
    return mask


def pixel_spacing(sample: Sample) -> tuple[float, float] | None:
    """(row, column) spacing from ``Sample.meta["pixel_spacing"]`` (one number or two), or None."""
    raw = sample.meta.get("pixel_spacing")
    if raw is None:
        return None
    arr = np.asarray(raw, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"sample {sample.id!r}: meta pixel_spacing must be one or two positive numbers, "
            f"got {raw!r}"
        )
    return float(arr[0]), float(arr[1])


#: What this task reports; every view (terminal, Markdown, CSV, HTML, LaTeX, paired
#: tests) reads this declaration.
METRICS = MetricSet(
    headline=MetricSpec("dice", "Dice", per_sample="dice"),
    secondary=(
        MetricSpec("iou", "IoU", per_sample="iou"),
        # Distances are in pixels, or in pixel_spacing units when the samples give a spacing
        # (``tables["distance_units"]``).
        MetricSpec(
            "hd95_median", "HD95 (median)", higher_is_better=False, per_sample="hd95", fmt=".1f"
        ),
        MetricSpec("assd_mean", "ASSD", higher_is_better=False, per_sample="assd", fmt=".1f"),
    ),
)


@dataclass
class SegmentationTask(ImageTask[MaskTarget]):
    """Segmentation as polygons; Dice (headline), IoU, HD95, ASSD as medpy defines them."""

    target_type: ClassVar[type] = MaskTarget

    convention: str = "norm1000_xyxy"
    settings: GenerationSettings = field(
        default_factory=lambda: GenerationSettings(max_tokens=2048)
    )
    metrics: ClassVar[MetricSet] = METRICS
    # answer tokens for cost estimates: a polygon of ~20 vertices at ~6 tokens each
    typical_output_tokens: ClassVar[int] = 150
    name: str = "segmentation"
    kind: TaskKind = TaskKind.SEGMENTATION
    version: str = "1"

    def __post_init__(self) -> None:
        """Validate the coordinate convention option."""
        check_convention(self.convention)

    @property
    def polygon_convention(self) -> str:
        """The point spelling of the convention: how polygon vertices are written."""
        return point_spelling(self.convention)

    def prompt(self, sample: Sample) -> str:
        """The prompt: structure, image size, the convention in words, the JSON form."""
        target = self._target(sample)
        geometry = image_geometry(sample)
        order = parse_convention(self.convention).order
        a, b = ("x", "y") if order == "xy" else ("y", "x")
        return PROMPT.format(
            category=sample.category or "medical",
            structure=target.structure,
            modality=modality(sample),
            size=size_sentence(geometry),
            convention=describe(self.polygon_convention, geometry),
            a=a,
            b=b,
        )

    def json_schema(self, sample: Sample) -> dict[str, object]:
        """JSON schema of the answer: a list of polygons, each a list of vertex pairs."""
        polygon = {"type": "array", "items": pair_schema(), "minItems": 3}
        return {
            "type": "object",
            "properties": {"polygons": {"type": "array", "items": polygon}},
            "required": ["polygons"],
        }

    def intent(self, sample: Sample) -> dict[str, Any]:
        """The intent carries the structure and the coordinate convention."""
        return {"structure": self._target(sample).structure, "convention": self.convention}

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read polygons (boxes become their corners, noted); never raises."""
        return read_prediction(response, sample, "polygons", self.polygon_convention)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Per sample Dice/IoU/HD95/ASSD; mean Dice (headline, CI), mean IoU, median HD95.

        Distances are in pixels, or in the units of ``meta["pixel_spacing"]`` when a sample has
        one. A target whose mask cannot be read (or does not match the image size) is left out
        of the aggregates and listed in ``tables["unreadable_targets"]``.
        """
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
        per_sample: dict[str, dict[str, float]] = {}
        unreadable: dict[str, str] = {}
        degenerate = fallback = 0
        # Reading masks and distance transforms are per-sample CPU work: many samples are
        # scored in worker processes, with exactly the results of scoring them here.
        jobs = [(self, pred, sample) for pred, sample in zip(predictions, samples, strict=True)]
        for one in process_map(_score_batch, jobs, min_items=PARALLEL_FROM, batch=16):
            if one.problem is not None:
                unreadable[one.sample_id] = one.problem
                continue
            assert one.scores is not None
            per_sample[one.sample_id] = one.scores
            degenerate += one.degenerate
            fallback += one.fallback
        return _aggregate(per_sample, predictions, samples, unreadable, degenerate, fallback)

    def template_hash(self) -> str:
        """Hash of the prompt template, the parser version and the options."""
        return stable_hash([PROMPT, self.version, PARSER_VERSION, self.convention])


PARALLEL_FROM = 64  # fewer samples are scored faster here than by starting workers


@dataclass(frozen=True)
class _Scored:
    """One sample's segmentation scores, or why its target could not be read."""

    sample_id: str
    scores: dict[str, float] | None = None
    problem: str | None = None
    degenerate: bool = False  # polygons given, none with area
    fallback: bool = False  # a box answer read as its corners


def _score_batch(jobs: list[tuple[SegmentationTask, Prediction, Sample]]) -> list[_Scored]:
    """Score a batch of (task, prediction, sample) (the unit of work of a worker process)."""
    return [_score_one(task, pred, sample) for task, pred, sample in jobs]


def _score_one(task: SegmentationTask, pred: Prediction, sample: Sample) -> _Scored:
    """Dice/IoU/HD95/ASSD of one prediction against the sample's mask."""
    try:
        gt = target_mask(task._target(sample))
        geometry = image_geometry(sample)
        spacing = pixel_spacing(sample)
    except (OSError, ValueError) as exc:
        return _Scored(sample.id, problem=str(exc))
    if gt.shape != (geometry.height, geometry.width):
        return _Scored(
            sample.id,
            problem=f"mask is {gt.shape[1]}x{gt.shape[0]} but the image is "
            f"{geometry.width}x{geometry.height}",
        )
    value = value_of(pred)
    mask = predicted_mask(value, geometry.height, geometry.width)
    s = segmentation_scores(mask, gt, spacing)
    scores = {"dice": s.dice, "iou": s.iou, "hd95": s.hd95, "assd": s.assd,
              "usable": float(pred.usable)}  # fmt: skip
    return _Scored(
        sample.id,
        scores,
        degenerate=bool(value.get("polygons")) and not mask.any(),
        fallback=pred.usable and "corners of a box" in (pred.detail or ""),
    )


def _aggregate(
    per_sample: dict[str, dict[str, float]],
    predictions: Sequence[Prediction],
    samples: Sequence[Sample],
    unreadable: dict[str, str],
    degenerate: int,
    fallback: int,
) -> TaskScores:
    """Aggregate per-sample segmentation scores into TaskScores."""
    scored = [s for s in samples if s.id in per_sample]
    n = max(len(predictions), 1)
    metrics: dict[str, float] = {
        **failure_rates(predictions),
        "degenerate_rate": degenerate / n,
        "box_fallback_rate": fallback / n,
        "n_unreadable_targets": float(len(unreadable)),
    }
    if scored:
        col = {k: np.array([per_sample[s.id][k] for s in scored]) for k in ("dice", "iou")}
        dist = {k: np.array([per_sample[s.id][k] for s in scored]) for k in ("hd95", "assd")}
        metrics["dice"] = float(col["dice"].mean())
        metrics["iou"] = float(col["iou"].mean())
        metrics["hd95_median"] = float(np.median(dist["hd95"]))
        metrics["assd_mean"] = float(dist["assd"].mean())
        groups = [s.patient_id or s.id for s in scored]
        metrics["dice_ci_low"], metrics["dice_ci_high"] = mean_ci(col["dice"], groups=groups)
    else:
        metrics["dice"] = float("nan")
    units = "pixel_spacing units" if any("pixel_spacing" in s.meta for s in scored) else "pixels"
    return TaskScores(
        metrics=metrics,
        per_sample=per_sample,
        headline=METRICS.headline.key,
        tables={"distance_units": units, "unreadable_targets": unreadable},
    )


register_task("segmentation", SegmentationTask)
