"""How a model's requests reach its provider's batch API (the channel protocol), and what a batched
run reports.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from medmine.core import BatchStatus, ItemError, Model, Request
from medmine.models.base import ApiModel, CallResult
from medmine.run.runner import Job, RunSummary

# provider -> "module:Class" of its channel; imported only when a model of that provider runs.
CHANNELS: dict[str, str] = {
    "openai": "medmine.models.batch_openai:OpenAIBatchChannel",
    "anthropic": "medmine.models.batch_anthropic:AnthropicBatchChannel",
    "gemini": "medmine.models.batch_gemini:GeminiBatchChannel",
}


class BatchChannel(Protocol):
    """One provider's batch API, bound to one model (an :class:`ApiModel`).

    ``build`` turns a request into the provider's batch entry (a JSONL line, a ``params``
    object, an inline request) using the backend's own body builder; it raises OSError or
    ValueError when the request's image cannot be read. The async methods may raise the SDK's
    exceptions: the driver maps them with ``model._map_error`` and retries transient ones.
    ``results`` returns, per custom_id, the parsed answer or an :class:`ItemError`; a custom_id
    that is absent was not answered (expired) and is resubmitted.
    """

    provider: str
    model: ApiModel
    max_requests: int
    max_bytes: int

    def build(self, custom_id: str, request: Request) -> tuple[Any, int]:
        """The provider's entry for one request and its approximate size on the wire (bytes)."""
        ...

    async def create(self, entries: Sequence[Any]) -> str:
        """Upload/create one batch of entries; returns the provider's batch id."""
        ...

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's current status."""
        ...

    async def results(
        self, batch_id: str, custom_ids: Sequence[str]
    ) -> dict[str, CallResult | ItemError]:
        """The ended batch's answers by custom_id (``custom_ids`` in submission order)."""
        ...


def default_channel(model: Model) -> BatchChannel | None:
    """The batch channel for a model, or None when it has none (it is then asked live)."""
    if not isinstance(model, ApiModel):
        return None
    target = CHANNELS.get(model.preset.provider)
    if target is None:
        return None
    module_name, class_name = target.split(":")
    channel: BatchChannel = getattr(importlib.import_module(module_name), class_name)(model)
    return channel


@dataclass
class BatchSummary:
    """What ``run_batch`` did. ``jobs`` are the jobs as run: pass them to ``Runner.score``.

    ``run`` is the runner's own summary (answers asked, cached, resumed, errors). Batch
    figures: jobs submitted and resumed, requests sent, answered, recorded as request errors,
    resubmitted after an expiry, given up after ``max_rounds``, and still unfinished at the
    provider (a rerun of the same command collects them); ``live`` counts the requests of
    models without a batch channel, asked one by one.
    """

    jobs: list[Job]
    run: RunSummary
    batches_submitted: int = 0
    batches_resumed: int = 0
    requests_submitted: int = 0
    answered: int = 0
    request_errors: int = 0
    resubmitted: int = 0
    gave_up: int = 0
    unfinished: int = 0
    live: int = 0
    batch_ids: list[str] = field(default_factory=list)
