"""The Chat Completions wire format: messages, sampling rules, usage, errors, direct HTTP.

Shared by the live backend (:mod:`openai_chat`), its batch lines and the other providers'
backends (sampling rules, HTTP status mapping). ``DirectClient`` posts the JSON body straight
over httpx with a lean keep-alive pool for ``openai_compatible`` servers (no SDK).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from medmine.core import ImagePart, Request, TextPart
from medmine.models.base import CallResult, scrub
from medmine.models.images import EncodedImage
from medmine.models.presets import Preset
from medmine.models.retry import ProviderError, parse_retry_after

NO_KEY_PLACEHOLDER = "not-needed"


def build_messages(request: Request, images: list[EncodedImage]) -> list[dict[str, Any]]:
    """Chat messages in OpenAI's format; images become ``image_url`` data-URL parts.

    A message with no image is sent as a plain string, which text-only servers also accept.
    """
    pending = iter(images)
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        if not any(isinstance(p, ImagePart) for p in message.parts):
            messages.append({"role": message.role, "content": message.text})
            continue
        content: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            else:
                url = next(pending).data_url()
                content.append({"type": "image_url", "image_url": {"url": url}})
        messages.append({"role": message.role, "content": content})
    return messages


def sampling_params(
    preset: Preset, request: Request, *, reasoning: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """(the sampling settings a model accepts, the names of those left out).

    A reasoning model takes none; otherwise the preset's ``sampling`` list decides, and with
    ``sampling_exclusive`` top_p is dropped when temperature is sent (newer Claude models
    reject both together). Anthropic and Gemini backends use the same rule.
    """
    settings = request.settings
    wanted: dict[str, Any] = {"temperature": settings.temperature}
    if settings.top_p is not None:
        wanted["top_p"] = settings.top_p
    if settings.seed is not None:
        wanted["seed"] = settings.seed
    accepted = set() if reasoning else set(preset.accepted_sampling())
    if preset.sampling_exclusive and {"temperature", "top_p"} <= accepted and "top_p" in wanted:
        accepted.discard("top_p")
    sent = {k: v for k, v in wanted.items() if k in accepted}
    return sent, [k for k in wanted if k not in sent]


class StreamState:
    """What a Chat Completions stream has said so far: text, refusal, finish, usage, TTFT."""

    __slots__ = ("finish", "pieces", "refusal", "start", "ttft", "usage")

    def __init__(self, start: float) -> None:
        """Start empty; ``start`` is the clock reading when the request was sent."""
        self.start = start
        self.ttft: float | None = None
        self.pieces: list[str] = []
        self.refusal: list[str] = []
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def add(self, piece: Any, refused: Any, finish: Any, now: float) -> None:
        """Take one choice delta: a content piece, a refusal piece, a finish reason."""
        if (piece or refused) and self.ttft is None:
            self.ttft = now - self.start
        if piece:
            self.pieces.append(piece)
        if refused:
            self.refusal.append(refused)
        if finish:
            self.finish = finish

    def result(self) -> CallResult:
        """The CallResult; ProviderError('malformed') when the stream never finished."""
        if self.finish is None:
            raise ProviderError("malformed", "stream ended before a finish_reason (truncated)")
        return CallResult(
            text="".join(self.pieces) or "".join(self.refusal),
            **usage_fields(self.usage),
            finish_reason=self.finish,
            refused=bool(self.refusal) or self.finish == "content_filter",
            ttft_s=self.ttft,
            streamed=True,
        )


class DirectClient:
    """Chat Completions over plain HTTP for ``openai_compatible`` servers (no SDK).

    Same wire format as the SDK: ``POST {base_url}/chat/completions`` with a JSON body and
    ``Authorization: Bearer <key or 'not-needed'>``. The key is read from the env per request.
    """

    def __init__(self, preset: Preset, connections: int) -> None:
        """Open nothing yet; the pool holds up to ``connections`` connections."""
        from medmine.models.http_transport import HttpSender

        base_url = (
            preset.resolved_base_url()
            or os.environ.get("OPENAI_BASE_URL", "").strip()
            or "https://api.openai.com/v1"
        )
        self._preset = preset
        try:
            self._sender = HttpSender(base_url, connections, preset.timeout_s)
        except ValueError as exc:  # a misconfigured preset: asking again cannot help
            raise ProviderError("client", f"preset {preset.name!r}: {exc}") from exc

    def _headers(self, accept: bytes) -> list[tuple[bytes, bytes]]:
        """Request headers (the key is read now, never stored)."""
        key = self._preset.api_key() or NO_KEY_PLACEHOLDER
        return [
            (b"Authorization", b"Bearer " + key.encode()),
            (b"Content-Type", b"application/json"),
            (b"Accept", accept),
            (b"User-Agent", b"medmine"),
        ]

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streaming completion: the parsed JSON object (errors raised as ProviderError
        for HTTP statuses, httpx/JSON exceptions otherwise)."""
        response = await self._sender.send(
            "/chat/completions", _dumps(body), self._headers(b"application/json")
        )
        try:
            content = await _read_body(response)
        finally:
            await response.aclose()
        if response.status_code >= 400:
            raise _http_status_error(response.status_code, response.headers, content)
        return json.loads(content)

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streamed completion, up to ``[DONE]``."""
        response = await self._sender.send(
            "/chat/completions", _dumps(body), self._headers(b"text/event-stream")
        )
        try:
            if response.status_code >= 400:
                content = await response.aread()
                raise _http_status_error(response.status_code, response.headers, content)
            events = _sse_data(response.aiter_lines())
            async for data in events:
                if data == "[DONE]":
                    async for _ in events:  # read the body to its end (as the SDK does), so
                        pass  # the connection can carry the next request
                    return
                chunk = json.loads(data)
                if isinstance(chunk, dict) and chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise ProviderError("server", scrub(f"error event in stream: {message}"))
                yield chunk
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._sender.aclose()


def parse_completion(completion: Any) -> CallResult:
    """Read a ``chat.completion`` JSON object: text (or refusal), usage, finish reason.

    Raises ProviderError('malformed') when it has no choices.
    """
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise ProviderError("malformed", "response has no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    refusal = message.get("refusal")
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    finish = choice.get("finish_reason")
    return CallResult(
        text=content or refusal or "",
        **usage_fields(completion.get("usage")),
        finish_reason=finish,
        refused=bool(refusal) or finish == "content_filter",
    )


def usage_fields(usage: Any) -> dict[str, Any]:
    """CallResult usage fields from a Chat Completions ``usage`` object: prompt and completion
    tokens (completion includes reasoning), cached prompt tokens, reasoning tokens."""
    if not isinstance(usage, dict):
        return {"input_tokens": None, "output_tokens": None}
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": usage.get("completion_tokens"),
        "cached_input_tokens": int(prompt.get("cached_tokens") or 0),
        "reasoning_tokens": completion.get("reasoning_tokens"),
    }


async def _read_body(response: Any) -> bytes:
    """The whole body. Without a Content-Encoding the transport's bytes are the body, read
    straight from the stream (httpx's decoder and chunker chain costs ~40 us per response);
    an encoded body (gzip, br) goes through httpx's decoders."""
    encoding = response.headers.get("content-encoding")
    if encoding and encoding.strip().lower() != "identity":
        return await response.aread()
    parts = [chunk async for chunk in response.stream]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _dumps(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as httpx and the SDK send it (NaN is rejected: not JSON)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _http_status_error(status: int, headers: Any, content: bytes) -> ProviderError:
    """A ProviderError for an HTTP error answer, with the server's message and error code."""
    try:
        payload: Any = json.loads(content)
    except ValueError:
        payload = content.decode("utf-8", "replace")[:500]
    code = None
    if isinstance(payload, dict):
        inner = payload.get("error", payload)
        if isinstance(inner, dict):
            value = inner.get("code") or inner.get("type")
            code = str(value) if value else None
    return status_error(status, headers, code, Exception(f"Error code: {status} - {payload}"))


def _body(params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body: the create() params with ``extra_body`` merged in."""
    body = {k: v for k, v in params.items() if k != "extra_body"}
    body.update(params.get("extra_body") or {})
    return body


def _error_code(exc: Any) -> str | None:
    """The provider's error code (e.g. ``insufficient_quota``) from an SDK status error."""
    code = getattr(exc, "code", None)
    if code:
        return str(code)
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            value = inner.get("code") or inner.get("type")
            return str(value) if value else None
    return None


def status_error(status: int, headers: Any, code: str | None, exc: BaseException) -> ProviderError:
    """Map an HTTP error status (plus Retry-After and error code) to a ProviderError."""
    retry_after = parse_retry_after(
        headers.get("retry-after"), milliseconds=headers.get("retry-after-ms")
    )
    message = scrub(str(exc))
    if status == 429:
        if code in ("insufficient_quota", "billing_hard_limit_reached"):
            return ProviderError("quota", message, status)
        return ProviderError("rate_limit", message, status, retry_after)
    if status == 402:
        return ProviderError("quota", message, status)
    if status == 408:
        return ProviderError("timeout", message, status, retry_after)
    if status >= 500:
        return ProviderError("server", message, status, retry_after)
    return ProviderError("client", message, status)
