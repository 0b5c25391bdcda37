"""Anthropic Message Batches channel for ``--batch`` (official ``anthropic`` SDK).

``messages.batches.create(requests=[{"custom_id", "params"}])`` where ``params`` is exactly the
body the live backend sends to ``/v1/messages``; ``messages.batches.retrieve`` reports
``processing_status`` ``in_progress`` / ``canceling`` / ``ended`` with ``request_counts``;
``messages.batches.results`` streams the ``results_url`` JSONL, one
``{"custom_id", "result": {"type": "succeeded" | "errored" | "canceled" | "expired", ...}}``
per request, in no particular order. Limits: 100,000 requests or 256 MB per batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from medmine.core import BatchStatus, ItemError, Request
from medmine.models.anthropic_messages import AnthropicModel, parse_message
from medmine.models.base import CallResult, scrub
from medmine.models.retry import ProviderError

# error.type of an errored request -> (medmine error kind, resubmit it?)
_ERROR_KINDS: dict[str, tuple[str, bool]] = {
    "invalid_request_error": ("client", False),
    "authentication_error": ("client", False),
    "permission_error": ("client", False),
    "not_found_error": ("client", False),
    "request_too_large": ("client", False),
    "billing_error": ("quota", False),
    "rate_limit_error": ("rate_limit", True),
    "api_error": ("server", True),
    "overloaded_error": ("server", True),
    "timeout_error": ("timeout", True),
}


class AnthropicBatchChannel:
    """The Message Batches API of one Anthropic model."""

    provider = "anthropic"
    max_requests = 100_000
    max_bytes = 250 * 1024 * 1024  # the documented limit is 256 MB per batch

    def __init__(self, model: AnthropicModel) -> None:
        """Bind to an Anthropic backend (its client, key, base URL and body builder)."""
        if not isinstance(model, AnthropicModel):
            raise ValueError(
                f"AnthropicBatchChannel needs an AnthropicModel, got {type(model).__name__} "
                f"({getattr(model, 'name', '?')})"
            )
        self.model = model

    def build(self, custom_id: str, request: Request) -> tuple[dict[str, Any], int]:
        """One ``{"custom_id", "params"}`` request and its JSON size in bytes."""
        images = self.model._encode_images(request)
        entry = {"custom_id": custom_id, "params": self.model.build_body(request, images)}
        return entry, len(json.dumps(entry, separators=(",", ":")).encode())

    async def create(self, entries: Sequence[dict[str, Any]]) -> str:
        """Create the batch; returns its id (``msgbatch_...``)."""
        client = self.model._client_or_error()
        batch = await client.messages.batches.create(requests=list(entries))
        return str(batch.id)

    async def status(self, batch_id: str) -> BatchStatus:
        """``messages.batches.retrieve``: processing status and request counts."""
        batch = await self.model._client_or_error().messages.batches.retrieve(batch_id)
        state = str(batch.processing_status)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        if state in ("in_progress", "canceling"):
            return BatchStatus(state, None, counts=counts)
        if state != "ended":
            raise ProviderError("malformed", f"batch {batch_id}: unknown status {state!r}")
        outcome = "cancelled" if batch.cancel_initiated_at is not None else "completed"
        if counts.get("expired") and outcome == "completed":
            outcome = "expired"
        return BatchStatus(state, outcome, counts=counts)

    async def results(
        self, batch_id: str, custom_ids: Sequence[str]
    ) -> dict[str, CallResult | ItemError]:
        """Stream the results JSONL of an ended batch."""
        client = self.model._client_or_error()
        out: dict[str, CallResult | ItemError] = {}
        decoder = await client.messages.batches.results(batch_id)
        async for line in decoder:
            item = read_result(line.result)
            if item is not None:
                out[str(line.custom_id)] = item
        return out


def read_result(result: Any) -> CallResult | ItemError | None:
    """One request's result: the answer, its error, or None (expired: resubmit)."""
    kind = result.type
    if kind == "succeeded":
        return parse_message(result.message)
    if kind == "expired":
        return None
    if kind == "canceled":
        return ItemError("batch_cancelled", "the batch was cancelled before this request ran")
    if kind == "errored":
        inner = getattr(getattr(result, "error", None), "error", None)
        error_type = str(getattr(inner, "type", "") or "")
        message = scrub(f"{error_type}: {getattr(inner, 'message', '') or ''}".strip(": "))
        if error_type == "invalid_request_error" and (
            "credit balance" in message.lower() or "billing" in message.lower()
        ):
            return ItemError("quota", message)
        mapped, retry = _ERROR_KINDS.get(error_type, ("client", False))
        return ItemError(mapped, message, retry=retry)
    return ItemError("malformed", f"unknown batch result type {kind!r}", retry=True)
