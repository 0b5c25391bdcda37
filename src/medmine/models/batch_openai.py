"""OpenAI Batch API channel for ``--batch`` (official ``openai`` SDK).

A batch is a JSONL file of ``{"custom_id", "method": "POST", "url": "/v1/chat/completions",
"body"}`` lines (the body is exactly what the live backend sends, without streaming), uploaded
with ``files.create(purpose="batch")`` and started with ``batches.create(completion_window="24h")``.
``batches.retrieve`` reports ``validating``, ``in_progress``, ``finalizing``, ``cancelling``
(still running) or ``completed``, ``failed``, ``expired``, ``cancelled`` (ended). The output file
holds ``{"custom_id", "response": {"status_code", "body"}, "error"}`` lines; the error file holds
failed requests, with ``error.code`` ``batch_expired`` / ``batch_cancelled`` for requests the
batch never ran. Limits: 50,000 requests and 200 MB per input file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from medmine.core import BatchStatus, ItemError, Request
from medmine.models.base import CallResult, scrub
from medmine.models.openai_chat import OpenAIChatModel, parse_completion, status_error
from medmine.models.retry import ProviderError

ENDPOINT = "/v1/chat/completions"
_RUNNING = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
_ENDED: dict[str, Any] = {
    "completed": "completed",
    "expired": "expired",
    "cancelled": "cancelled",
    "failed": "failed",
}
# error.code of requests that never ran: resubmitted (expired, timed out) or recorded.
_RETRY_CODES = frozenset({"batch_expired", "request_timeout"})


class OpenAIBatchChannel:
    """The Batch API of one OpenAI model (provider ``openai``)."""

    provider = "openai"
    max_requests = 50_000
    max_bytes = 190 * 1024 * 1024  # the documented limit is 200 MB per input file

    def __init__(self, model: OpenAIChatModel) -> None:
        """Bind to an OpenAI backend (its client, key, base URL and body builder)."""
        if not isinstance(model, OpenAIChatModel) or model.preset.provider != "openai":
            raise ValueError(
                f"OpenAIBatchChannel needs an OpenAIChatModel of provider 'openai', got "
                f"{type(model).__name__} ({getattr(model, 'name', '?')})"
            )
        self.model = model

    def build(self, custom_id: str, request: Request) -> tuple[str, int]:
        """One JSONL line (text) for the request, and its size in bytes."""
        images = self.model._encode_images(request)
        line = json.dumps(
            {
                "custom_id": custom_id,
                "method": "POST",
                "url": ENDPOINT,
                "body": self.model.build_body(request, images),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return line, len(line.encode()) + 1

    async def create(self, entries: Sequence[str]) -> str:
        """Upload the JSONL file and create the batch; returns the batch id."""
        client = self.model._client_or_error()
        data = ("\n".join(entries) + "\n").encode()
        uploaded = await client.files.create(
            file=("medmine-batch.jsonl", data, "application/jsonl"), purpose="batch"
        )
        batch = await client.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"created_by": "medmine"},
        )
        return str(batch.id)

    async def status(self, batch_id: str) -> BatchStatus:
        """``batches.retrieve``: the status and request counts."""
        batch = await self.model._client_or_error().batches.retrieve(batch_id)
        state = str(batch.status)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        if state in _RUNNING:
            return BatchStatus(state, None, counts=counts)
        if state not in _ENDED:
            raise ProviderError("malformed", f"batch {batch_id}: unknown status {state!r}")
        message = ""
        if batch.errors is not None and batch.errors.data:
            message = "; ".join(
                f"line {e.line}: {e.message}" if e.line is not None else str(e.message)
                for e in batch.errors.data
            )
        return BatchStatus(state, _ENDED[state], scrub(message), counts)

    async def results(
        self, batch_id: str, custom_ids: Sequence[str]
    ) -> dict[str, CallResult | ItemError]:
        """Read the output and error files of an ended batch."""
        client = self.model._client_or_error()
        batch = await client.batches.retrieve(batch_id)
        out: dict[str, CallResult | ItemError] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await client.files.content(file_id)
            for number, raw in enumerate(content.text.splitlines(), 1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                    cid = str(line["custom_id"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ProviderError(
                        "malformed", f"batch {batch_id}: file {file_id} line {number}: {exc}"
                    ) from exc
                item = read_line(line)
                if item is not None:
                    out[cid] = item
        return out


def read_line(line: dict[str, Any]) -> CallResult | ItemError | None:
    """One output/error-file line: the answer, the request's error, or None (never ran,
    resubmit)."""
    response = line.get("response") or None
    error = line.get("error") or None
    if response is not None:
        status = int(response.get("status_code") or 0)
        body = response.get("body")
        if status == 200:
            try:
                return parse_completion(body)
            except ProviderError as exc:
                return ItemError(exc.kind, exc.message, retry=True)
        inner = body.get("error") if isinstance(body, dict) else None
        inner = inner if isinstance(inner, dict) else {}
        message = str(inner.get("message") or body)
        code = inner.get("code") or inner.get("type")
        mapped = status_error(status, {}, str(code) if code else None, Exception(message))
        return ItemError(mapped.kind, str(mapped), retry=mapped.retryable)
    if error is not None:
        code = str(error.get("code") or "")
        if code in _RETRY_CODES:
            return None
        message = scrub(f"{code}: {error.get('message') or ''}".strip(": "))
        kind = "batch_cancelled" if code == "batch_cancelled" else "client"
        return ItemError(kind, message)
    return ItemError("malformed", "batch line has neither a response nor an error", retry=True)
