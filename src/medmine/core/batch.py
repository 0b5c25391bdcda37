"""Batch-API job types shared by the model backends and the batch driver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

BatchOutcome = Literal["completed", "expired", "cancelled", "failed"]


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """Where a provider batch is. ``outcome`` is set once it has ended (nothing more will come).

    ``completed``/``expired``: fetch the results; requests without one are resubmitted.
    ``cancelled``: fetch the results; requests without one are recorded as cancelled.
    ``failed``: the whole batch was rejected (``message`` says why); every request is an error.
    """

    state: str
    outcome: BatchOutcome | None = None
    message: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """True once the provider will not answer any more of the batch's requests."""
        return self.outcome is not None


@dataclass(frozen=True, slots=True)
class ItemError:
    """A per-request failure inside a batch. ``retry``: resubmit it in the next round."""

    kind: str
    message: str
    retry: bool = False
