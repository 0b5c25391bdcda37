"""The runner's vocabulary: jobs, units of work, executors and the run summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from medmine.core import Model, Request, Sample, Task


class Executor(Protocol):
    """Where models answer: the local process by default, or remote workers.

    ``wrap`` returns a Model with the same name and cache_id whose ``generate`` runs
    elsewhere; the runner, the store, the cache and resume semantics stay the same.
    """

    def wrap(self, model: Model) -> Model:
        """A model that answers through this executor."""
        ...

    def summary(self) -> dict[str, object]:
        """What the executor did (workers, retried requests), for the manifest."""
        ...


# Response.error_kind values that mean the input file, not the model, failed.
INPUT_ERRORS = frozenset({"input", "bad_image"})


@dataclass
class Job:
    """One model on one task on one dataset's test samples (with its training split as support)."""

    model: Model
    task: Task
    dataset: str
    samples: Sequence[Sample]
    support: Sequence[Sample] = ()
    fingerprint: str = ""


@dataclass
class Unit:
    """One pending question: a model, a task, a sample and repeat, with its request and key."""

    model: Model
    model_name: str
    task: Task
    dataset: str
    sample: Sample
    repeat: int
    request: Request
    key: str


@dataclass
class RunSummary:
    """What a run did: answers asked, taken from cache, resumed, failed, skipped."""

    asked: int = 0
    from_cache: int = 0
    resumed: int = 0
    errors: int = 0
    bad_samples: int = 0
    stopped_models: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)  # model -> why it could not run
    not_sent: int = 0  # units left unsent (no key, budget, user stop)
    resent: int = 0  # requests in flight when an earlier run died, sent again now
    medmine_errors: int = 0
    interrupted: bool = False


def is_free(model: Model) -> bool:
    """True for models that cost nothing to ask (baselines, local weights, zero-priced
    presets): a spending cap never holds them back."""
    info = model.describe()
    if info.get("provider") in ("baseline", "hf_local"):
        return True
    preset = getattr(model, "preset", None)
    prices = (
        getattr(preset, "price_input_per_mtok", None),
        getattr(preset, "price_output_per_mtok", None),
    )
    return preset is not None and prices == (0, 0)


def sample_paths(sample: Sample) -> str:
    """The sample's image paths (or its id when it has none), to name it in a message."""
    return ", ".join(str(im.path) for im in sample.images) or sample.id
