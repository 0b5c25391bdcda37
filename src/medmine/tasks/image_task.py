"""What the image tasks share: their target, checked, and the request they send.

Classification, segmentation, localization, detection and report generation each ask about a
sample's image(s) and read one target kind. A task class mixes in :class:`ImageTask`, names
its target class in ``target_type``, and says what its request's intent carries by
overriding :meth:`ImageTask.intent`; the request is always the image(s) first, then the
prompt, with the task's settings and answer schema.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar, cast

from medmine.core import (
    GenerationSettings,
    Request,
    Sample,
    TaskKind,
    user_request,
)

T = TypeVar("T")  # the task's target class


class ImageTask(ABC, Generic[T]):
    """Base of an image task dataclass (``name``, ``kind``, ``settings``), generic in its target."""

    target_type: ClassVar[type]
    name: str
    kind: TaskKind
    settings: GenerationSettings

    def applies_to(self, sample: Sample) -> bool:
        """Needs an image and a target of the task's type under the task's kind."""
        return bool(sample.images) and isinstance(sample.target(self.kind), self.target_type)

    def _target(self, sample: Sample) -> T:
        """The sample's target for this task; ValueError naming the sample when it has none."""
        target = sample.target(self.kind)
        if not isinstance(target, self.target_type):
            raise ValueError(
                f"sample {sample.id!r} has no {self.kind} target ({self.target_type.__name__})"
            )
        return cast(T, target)

    @abstractmethod
    def prompt(self, sample: Sample) -> str:
        """The prompt text for a sample (each task writes its own)."""

    def json_schema(self, sample: Sample) -> dict[str, object] | None:
        """The JSON schema of the answer, or None to ask for free text."""
        return None

    def intent(self, sample: Sample) -> dict[str, Any]:
        """What the request's intent carries besides the task and images (labels, structure)."""
        return {}

    def request(self, sample: Sample) -> Request:
        """Image(s) first, then the prompt: the order most vision models are tuned on."""
        return user_request(
            self.name,
            sample.id,
            sample.images,
            self.prompt(sample),
            self.settings,
            self.json_schema(sample),
            **self.intent(sample),
        )
