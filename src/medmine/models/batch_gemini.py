"""Gemini batch mode channel for ``--batch`` (official ``google-genai`` SDK, inline requests).

``client.aio.batches.create(model=..., src=[InlinedRequest(contents, config, metadata)])``
sends ``POST models/{model}:batchGenerateContent``; ``client.aio.batches.get(name=...)``
reports the job state (``JOB_STATE_PENDING`` / ``RUNNING`` while running; ``SUCCEEDED``,
``FAILED``, ``CANCELLED``, ``EXPIRED`` when ended) and, once done, the inline responses
(``dest.inlined_responses``: each a ``GenerateContentResponse`` or an ``error``). Responses
are matched by ``metadata["key"]`` (our custom_id) when the service echoes it, else by
position (they come in request order) when every request has one. Inline batches are limited
to 20 MB in all, so image-heavy runs become several batches.

A preset's ``extra_body`` cannot be carried by inline batch requests: such presets are refused
with a clear error (run them without ``--batch``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from medmine.core import BatchStatus, ItemError, Request, TextPart
from medmine.models.base import CallResult, scrub
from medmine.models.gemini import GeminiModel, _enum_name
from medmine.models.openai_wire import status_error
from medmine.models.retry import ProviderError

_RUNNING = frozenset(
    {
        "JOB_STATE_UNSPECIFIED",
        "JOB_STATE_QUEUED",
        "JOB_STATE_PENDING",
        "JOB_STATE_RUNNING",
        "JOB_STATE_CANCELLING",
        "JOB_STATE_UPDATING",
        "JOB_STATE_PAUSED",
    }
)
_ENDED: dict[str, Any] = {
    "JOB_STATE_SUCCEEDED": "completed",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
    "JOB_STATE_EXPIRED": "expired",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_FAILED": "failed",
}
# google.rpc.Code of a per-request error -> HTTP status (for the shared status mapping)
_RPC_TO_HTTP = {3: 400, 4: 504, 5: 404, 7: 403, 8: 429, 9: 400, 13: 500, 14: 503, 16: 401}


class GeminiBatchChannel:
    """Batch mode (inline requests) of one Gemini model."""

    provider = "gemini"
    max_requests = 10_000
    max_bytes = 19 * 1024 * 1024  # inline batches: 20 MB in all

    def __init__(self, model: GeminiModel) -> None:
        """Bind to a Gemini backend (its client, key, base URL and request builders)."""
        if not isinstance(model, GeminiModel):
            raise ValueError(
                f"GeminiBatchChannel needs a GeminiModel, got {type(model).__name__} "
                f"({getattr(model, 'name', '?')})"
            )
        if model.preset.extra_body:
            raise ValueError(
                f"preset {model.name!r} sets extra_body "
                f"({', '.join(sorted(model.preset.extra_body))}), which Gemini inline batch "
                "requests cannot carry; run it without --batch"
            )
        self.model = model

    def build(self, custom_id: str, request: Request) -> tuple[Any, int]:
        """One ``InlinedRequest`` (keyed by custom_id) and its approximate size in bytes."""
        from google.genai import types

        images = self.model._encode_images(request)
        contents, system = self.model.build_contents(request, images)
        config = self.model.build_config(request, system)
        entry = types.InlinedRequest(contents=contents, config=config, metadata={"key": custom_id})
        text = sum(
            len(p.text.encode())
            for m in request.messages
            for p in m.parts
            if isinstance(p, TextPart)
        )
        size = text + sum(len(base64.b64encode(i.data)) for i in images) + 512
        return entry, size

    async def create(self, entries: Sequence[Any]) -> str:
        """Create the batch job; returns its name (``batches/...``)."""
        client = self.model._client_or_error()
        job = await client.aio.batches.create(
            model=self.model.preset.model_id,
            src=list(entries),
            config={"display_name": f"medmine-{self.model.name}"},
        )
        if not job.name:
            raise ProviderError("malformed", "batch create returned no job name")
        return str(job.name)

    async def status(self, batch_id: str) -> BatchStatus:
        """``batches.get``: the job state."""
        job = await self.model._client_or_error().aio.batches.get(name=batch_id)
        state = _enum_name(job.state) or "JOB_STATE_UNSPECIFIED"
        if state in _RUNNING:
            return BatchStatus(state)
        if state not in _ENDED:
            raise ProviderError("malformed", f"batch {batch_id}: unknown state {state!r}")
        error = getattr(job, "error", None)
        message = scrub(str(getattr(error, "message", "") or "")) if error else ""
        return BatchStatus(state, _ENDED[state], message)

    async def results(
        self, batch_id: str, custom_ids: Sequence[str]
    ) -> dict[str, CallResult | ItemError]:
        """The inline responses of an ended job, by custom_id."""
        job = await self.model._client_or_error().aio.batches.get(name=batch_id)
        responses = list(job.dest.inlined_responses or []) if job.dest else []
        positional = len(responses) == len(custom_ids)
        out: dict[str, CallResult | ItemError] = {}
        for i, item in enumerate(responses):
            key = (item.metadata or {}).get("key")
            if key is None and positional:
                key = custom_ids[i]
            if key is None:
                continue  # cannot tell which request it answers: treated as unanswered
            result = self._read(item)
            if result is not None:
                out[str(key)] = result
        return out

    def _read(self, item: Any) -> CallResult | ItemError | None:
        """One inline response: the answer or the request's error."""
        if item.error is not None:
            code = int(item.error.code or 0)
            message = scrub(str(item.error.message or f"error code {code}"))
            http = code if code >= 100 else _RPC_TO_HTTP.get(code, 500)
            mapped = status_error(http, {}, None, Exception(message))
            return ItemError(mapped.kind, str(mapped), retry=mapped.retryable)
        if item.response is None:
            return None
        try:
            return self.model.parse_response(item.response)
        except ProviderError as exc:
            return ItemError(exc.kind, exc.message, retry=True)
