"""The types every part of medmine speaks: samples, targets, requests, responses, predictions.

They are small frozen dataclasses (cheap to create, to hash and to store) rather than pydantic
models: the runner creates one of each per sample and its overhead budget is well under a
millisecond. User-facing configuration (suites, presets) is validated with pydantic elsewhere.

The package's modules hold one kind each (``kinds``, ``samples``, ``requests``, ``responses``,
``scores``, ``batch``, ``protocols``, ``cache``); every public name is re-exported here, so
``from medmine.core import X`` is the one way to import them.
"""

from __future__ import annotations

from medmine.core.batch import BatchOutcome, BatchStatus, ItemError
from medmine.core.cache import cache_dir, stable_hash
from medmine.core.kinds import Outcome, ParseStatus, TaskKind
from medmine.core.protocols import Fittable, Model, Task
from medmine.core.requests import (
    GenerationSettings,
    ImagePart,
    Intent,
    Message,
    Part,
    Request,
    TextPart,
    user_request,
)
from medmine.core.responses import Response, Usage, forced_status
from medmine.core.samples import (
    BadSample,
    Box,
    BoxesTarget,
    ImageRef,
    LabelTarget,
    LandmarkTarget,
    MaskTarget,
    ObservationsTarget,
    ReportTarget,
    Sample,
    Target,
    file_sha256,
    image_size,
)
from medmine.core.scores import MetricSet, MetricSpec, Prediction, TaskScores

__all__ = [
    "BadSample",
    "BatchOutcome",
    "BatchStatus",
    "Box",
    "BoxesTarget",
    "Fittable",
    "GenerationSettings",
    "ImagePart",
    "ImageRef",
    "Intent",
    "ItemError",
    "LabelTarget",
    "LandmarkTarget",
    "MaskTarget",
    "Message",
    "MetricSet",
    "MetricSpec",
    "Model",
    "ObservationsTarget",
    "Outcome",
    "ParseStatus",
    "Part",
    "Prediction",
    "ReportTarget",
    "Request",
    "Response",
    "Sample",
    "Target",
    "Task",
    "TaskKind",
    "TaskScores",
    "TextPart",
    "Usage",
    "cache_dir",
    "file_sha256",
    "forced_status",
    "image_size",
    "stable_hash",
    "user_request",
]
