"""The protocols every task and model implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from medmine.core.kinds import TaskKind
from medmine.core.requests import Request
from medmine.core.responses import Response
from medmine.core.samples import Sample
from medmine.core.scores import MetricSet, Prediction, TaskScores


@runtime_checkable
class Task(Protocol):
    """A task kind: how to ask, how to read the answer, how to score it."""

    name: str
    kind: TaskKind
    version: str  # bump when the prompt or parser changes: it is part of the recipe
    metrics: MetricSet  # what it reports; every view reads this, none keeps its own list

    def applies_to(self, sample: Sample) -> bool:
        """Whether this sample has what the task needs (inputs and target)."""
        ...

    def request(self, sample: Sample) -> Request:
        """The request asking a model to do this task on the sample."""
        ...

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the model's answer; never raises on any text."""
        ...

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Score all predictions of one (model, dataset) pair; failures count as wrong."""
        ...

    def template_hash(self) -> str:
        """A hash of the prompt template and parser version, recorded in the recipe."""
        ...


@runtime_checkable
class Model(Protocol):
    """Anything that answers requests: an API backend, a local model or a baseline."""

    name: str
    max_concurrency: int

    @property
    def cache_id(self) -> str:
        """The model's identity in cache keys (model id, plus fitted state for baselines)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Settings recorded in the run manifest (never a secret)."""
        ...

    async def generate(self, request: Request) -> Response:
        """Answer one request. Provider failures come back as a Response with ``error`` set."""
        ...


@runtime_checkable
class Fittable(Protocol):
    """A model that learns from a support set (training split) before answering."""

    def fit(self, support: Sequence[Sample], task: Task) -> Model:
        """A copy of this model prepared from the support samples for the given task."""
        ...
