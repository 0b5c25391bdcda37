"""Worked examples for few-shot prompting: which support cases, and their answers as text.

:func:`choose_examples` draws K cases from the support split, stratified by label (round robin
over the labels, each label's cases in a seeded order), so a 2-shot classification prompt
shows two different classes. :func:`example_answer` writes a case's ground truth in exactly the
JSON form the task's prompt asks for, so the example teaches the format the parser reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from medmine.core import (
    BoxesTarget,
    LabelTarget,
    LandmarkTarget,
    ObservationsTarget,
    ReportTarget,
    Sample,
    Task,
    TaskKind,
)

#: Task kinds whose ground truth can be written as a worked answer.
FEW_SHOT_KINDS = frozenset(
    {
        TaskKind.CLASSIFICATION,
        TaskKind.LOCALIZATION,
        TaskKind.DETECTION,
        TaskKind.DIAGNOSIS,
        TaskKind.VQA,
        TaskKind.REPORT_GENERATION,
    }
)


def example_label(task: Task, sample: Sample) -> str:
    """What examples are stratified by: the task's own notion, else the class label."""
    own = getattr(task, "example_label", None)
    if callable(own):
        return str(own(sample))
    target = sample.target(task.kind)
    if isinstance(target, LabelTarget):
        return target.label
    if isinstance(target, LandmarkTarget):
        return target.structure
    if isinstance(target, BoxesTarget):
        return "lesions" if target.boxes else "none"
    return "all"


def choose_examples(support: Sequence[Sample], task: Task, k: int, seed: int) -> tuple[Sample, ...]:
    """K support cases the task applies to, stratified by label, in a seeded order.

    Raises ValueError when the support split has fewer than K usable cases.
    """
    pool = sorted((s for s in support if task.applies_to(s)), key=lambda s: s.id)
    if len(pool) < k:
        raise ValueError(
            f"{k}-shot prompting needs {k} support examples; the support split has {len(pool)}"
        )
    rng = np.random.default_rng([seed, k, len(pool)])
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in pool:
        groups[example_label(task, s)].append(s)
    labels = sorted(groups)
    rng.shuffle(labels)
    queues = {lab: [groups[lab][i] for i in rng.permutation(len(groups[lab]))] for lab in labels}
    chosen: list[Sample] = []
    while len(chosen) < k:
        for lab in labels:
            if queues[lab] and len(chosen) < k:
                chosen.append(queues[lab].pop(0))
    return tuple(chosen)


def example_answer(task: Task, sample: Sample) -> str:
    """The sample's ground truth written as the answer the task's prompt asks for."""
    own = getattr(task, "example_answer", None)
    if callable(own):
        return str(own(sample))
    target = sample.target(task.kind)
    if isinstance(target, LabelTarget):
        return json.dumps({"label": target.label})
    if isinstance(target, ObservationsTarget):
        from medmine.tasks.observation_parse import values_to_words

        return json.dumps(values_to_words(target.values))
    if isinstance(target, ReportTarget):
        section = str(getattr(task, "section", "both"))
        if section == "findings":
            return target.findings
        if section == "impression":
            return target.impression
        return f"FINDINGS: {target.findings}\nIMPRESSION: {target.impression}"
    if isinstance(target, LandmarkTarget | BoxesTarget):
        return _spatial_answer(task, sample, target)
    raise ValueError(f"task {task.name}: no worked-answer form for sample {sample.id}")


def _spatial_answer(task: Task, sample: Sample, target: LandmarkTarget | BoxesTarget) -> str:
    """A box answer in the task's coordinate convention (localization and detection)."""
    from medmine.tasks.coords import box_from_pixels, point_from_pixels
    from medmine.tasks.spatial_common import box_spelling, image_geometry, point_spelling

    convention = str(getattr(task, "convention", "norm1000_xyxy"))
    geometry = image_geometry(sample)
    if isinstance(target, BoxesTarget):
        lesions = [
            {
                "label": b.label,
                "box": list(
                    box_from_pixels((b.x0, b.y0, b.x1, b.y1), box_spelling(convention), geometry)
                ),
            }
            for b in target.boxes
        ]
        return json.dumps({"lesions": lesions})
    answer: dict[str, object] = {}
    form = str(getattr(task, "answer", "box"))
    if form in ("box", "both") and target.box is not None:
        b = target.box
        answer["box"] = list(
            box_from_pixels((b.x0, b.y0, b.x1, b.y1), box_spelling(convention), geometry)
        )
    if form in ("point", "both") and target.point is not None:
        spelled = point_from_pixels(target.point, point_spelling(convention), geometry)
        answer["point"] = list(spelled)
    if not answer:
        raise ValueError(f"sample {sample.id}: no {form} in its localization target")
    return json.dumps(answer)
