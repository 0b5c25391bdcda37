"""A tiny example task kind, with a tiny model for it, in ONE module and nothing else.

``image_category``: "which imaging category is this image from?" scored by accuracy against
the sample's category. The registries find this module through ``$MEDMINE_TASK_MODULES`` and
``$MEDMINE_BASELINE_MODULES`` (a packaged plugin would use the ``medmine.tasks`` and
``medmine.baselines`` entry-point groups; a built-in one is just a file in ``tasks/``).
``tests/test_example_task.py`` shows it reaching ``tasks list``, a suite and every report
view without any other file changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from medmine.baselines.registry import register_baseline
from medmine.core import (
    GenerationSettings,
    ImagePart,
    Intent,
    Message,
    MetricSet,
    MetricSpec,
    ParseStatus,
    Prediction,
    Request,
    Response,
    Sample,
    TaskScores,
    TextPart,
    stable_hash,
)
from medmine.tasks.registry import register_task

CATEGORIES = ("dermatology", "radiology", "dentistry", "ophthalmology", "endoscopy")
PROMPT = (
    "Which imaging category is this image from? Answer with one word out of: "
    + ", ".join(CATEGORIES)
    + "."
)


class ImageCategoryTask:
    """Name the imaging category of one image; accuracy (headline)."""

    name = "image_category"
    kind = "image_category"
    version = "1"
    description = "Example task: the imaging category of one image; accuracy."
    metrics = MetricSet(headline=MetricSpec("accuracy", "Accuracy", per_sample="correct"))

    def __init__(self, **options: Any) -> None:
        if options:
            raise ValueError(f"image_category takes no options (got {sorted(options)})")

    def applies_to(self, sample: Sample) -> bool:
        """Samples with an image and a known category."""
        return bool(sample.images) and sample.category in CATEGORIES

    def request(self, sample: Sample) -> Request:
        """The question with the sample's first image."""
        parts = (ImagePart(sample.images[0]), TextPart(PROMPT))
        return Request(
            messages=(Message("user", parts),),
            intent=Intent(task=self.name, sample_id=sample.id, labels=CATEGORIES),
            settings=GenerationSettings(max_tokens=16),
        )

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """The one category word in the answer; none or several is unparseable."""
        found = {c for c in CATEGORIES if re.search(rf"\b{c}\b", response.text.lower())}
        if len(found) != 1:
            return Prediction(None, ParseStatus.UNPARSEABLE, f"{len(found)} categories named")
        return Prediction(found.pop(), ParseStatus.OK)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Accuracy over every sample asked; an unread answer counts as wrong."""
        per = {
            s.id: {"correct": float(p.usable and p.value == s.category)}
            for p, s in zip(predictions, samples, strict=True)
        }
        n = len(per)
        accuracy = sum(v["correct"] for v in per.values()) / n if n else float("nan")
        return TaskScores({"accuracy": accuracy}, per, headline="accuracy")

    def template_hash(self) -> str:
        """The prompt and the parser version."""
        return stable_hash([PROMPT, self.version])


class AlwaysRadiology:
    """A fake model that answers every question the way a terse MLLM would: one sentence
    naming radiology."""

    name = "always-radiology"
    max_concurrency = 4
    cache_id = "always-radiology/1"

    def describe(self) -> dict[str, Any]:
        """What the manifest records."""
        return {"name": self.name, "backend": "example"}

    async def generate(self, request: Request) -> Response:
        """The same answer to everything."""
        return Response(text="This is a radiology image.", model=self.cache_id, latency_s=0.0)


register_task("image_category", ImageCategoryTask)
register_baseline("always-radiology", AlwaysRadiology)
