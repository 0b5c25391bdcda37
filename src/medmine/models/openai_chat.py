"""OpenAI Chat Completions backend, also for every OpenAI-compatible server.

One class serves api.openai.com and the servers that speak its wire format (vLLM, Ollama,
llama.cpp, LM Studio, SGLang, 01.AI, Together, DeepSeek, Groq). Provider ``openai`` goes through
the official ``openai`` SDK with its own retries off (medmine retries). Provider
``openai_compatible`` (servers with no SDK of their own) posts the same JSON body straight over
httpx with a lean keep-alive pool sized to the preset's concurrency (:mod:`http_transport`),
which keeps up with a raw asyncio load generator (benchmarks/backend_throughput.py). Both stream
with ``include_usage`` to measure time to first token, and fall back to a plain request when a
server rejects streaming options.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from medmine.core import ImagePart, Request, TextPart
from medmine.models.accounting import image_dropped_by_tokens
from medmine.models.base import ApiModel, CallResult, scrub
from medmine.models.images import EncodedImage
from medmine.models.presets import Preset
from medmine.models.retry import ProviderError, parse_retry_after
from medmine.models.schemas import strict_schema

_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)
NO_KEY_PLACEHOLDER = "not-needed"
# Fewest prompt tokens an image adds on any vision server we know (a 56x56 image is 4 tokens
# on Qwen2.5-VL, a CLIP-style encoder adds 64-729): a smaller difference means it was dropped.
IMAGE_TOKENS_MIN = 4


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


class _StreamState:
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


class _DirectClient:
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
            content = await response.aread()
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


class OpenAIChatModel(ApiModel):
    """Chat Completions: the ``openai`` SDK (AsyncOpenAI, max_retries=0) for provider
    ``openai``, direct HTTP (:class:`_DirectClient`) for ``openai_compatible``."""

    providers = ("openai", "openai_compatible")

    def __init__(self, preset: Preset, **kwargs: Any) -> None:
        """Bind to a preset; streaming (for time to first token) follows the preset."""
        super().__init__(preset, **kwargs)
        self._stream = preset.stream

    @property
    def reasoning_model(self) -> bool:
        """A reasoning model (preset ``reasoning: effort``, or an OpenAI o-series/GPT-5 id):
        it takes max_completion_tokens, which counts reasoning tokens too."""
        if self.preset.reasoning == "effort":
            return True
        return self.preset.provider == "openai" and bool(
            _REASONING_MODEL.match(self.preset.model_id)
        )

    def _prepare(self) -> None:
        """Import the SDK and build the client before the first request is timed."""
        self._client_or_error()

    def _client_or_error(self) -> Any:
        """The client (SDK or direct), created on first use; the key is read per request."""
        preset = self.preset
        self._require_key()
        if self._client is None and preset.provider == "openai_compatible":
            self._client = _DirectClient(preset, self.max_concurrency)
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - openai is a dev dependency
                raise ProviderError(
                    "client", "the openai package is needed: pip install 'medmine[cloud]'"
                ) from exc

            async def read_key() -> str:
                return preset.api_key() or NO_KEY_PLACEHOLDER

            options: dict[str, Any] = {
                "api_key": read_key,
                "max_retries": 0,
                "timeout": preset.timeout_s,
            }
            base_url = preset.resolved_base_url()
            if base_url:
                options["base_url"] = base_url
            self._client = openai.AsyncOpenAI(**options)
            _sdk_response_class(), _stream_class()  # import the SDK's lazy modules now
        return self._client

    def sampling_params(self, request: Request) -> tuple[dict[str, Any], list[str]]:
        """(sampling parameters the model accepts, names of the settings left out)."""
        return sampling_params(self.preset, request, reasoning=self.reasoning_model)

    def request_params(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` (without stream options).

        The output limit is ``max_completion_tokens`` for OpenAI and for reasoning models (it
        counts reasoning tokens: the preset's reasoning reserve is added to the answer budget),
        ``max_tokens`` for other OpenAI-compatible servers. Only the sampling parameters the
        preset lists are sent. A structured request sends the schema in strict form.
        """
        settings = request.settings
        params: dict[str, Any] = {
            "model": self.preset.model_id,
            "messages": build_messages(request, images),
        }
        if self.preset.provider == "openai" or self.reasoning_model:
            params["max_completion_tokens"] = self._max_tokens(request)
        else:
            params["max_tokens"] = self._max_tokens(request)
        if self.reasoning_model and self.preset.reasoning_effort:
            params["reasoning_effort"] = self.preset.reasoning_effort
        params.update(self.sampling_params(request)[0])
        if settings.structured and request.json_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "medmine_answer",
                    "schema": strict_schema(request.json_schema),
                    "strict": True,
                },
            }
        if self.preset.extra_body:
            params["extra_body"] = dict(self.preset.extra_body)
        return params

    async def _probe_endpoint(self, request: Request, images: list[EncodedImage]) -> bool | None:
        """Ask a self-hosted server the same prompt with and without its images (one output
        token each, once per endpoint): a server that reports the same prompt tokens for both
        dropped the image (llama.cpp without a vision projector does, silently)."""
        if self.preset.provider != "openai_compatible" or not self.preset.image_probe:
            return None
        client = self._client_or_error()
        text_only = dataclasses.replace(
            request,
            messages=tuple(
                dataclasses.replace(m, parts=tuple(p for p in m.parts if isinstance(p, TextPart)))
                for m in request.messages
            ),
        )
        counts: list[int | None] = []
        for probe, probe_images in ((request, images), (text_only, [])):
            body = {
                "model": self.preset.model_id,
                "messages": build_messages(probe, probe_images),
                "max_tokens": 1,
            }
            try:
                async with asyncio.timeout(self.preset.timeout_s):
                    answer = await client.complete(body)
            except Exception:  # the probe is advisory: no verdict, the request goes on
                return None
            counts.append(usage_fields(answer.get("usage"))["input_tokens"])
        return image_dropped_by_tokens(counts[0], counts[1], IMAGE_TOKENS_MIN * len(images))

    def build_body(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The JSON body of a non-streaming ``POST /chat/completions`` (batch lines use it)."""
        return _body(self.request_params(request, images))

    async def _call(self, request: Request, images: list[EncodedImage]) -> CallResult:
        """One Chat Completions call, streamed when the preset and server allow it."""
        client = self._client_or_error()
        params = self.request_params(request, images)
        extra: dict[str, Any] = {}
        ignored = self.sampling_params(request)[1]
        if ignored:
            extra["ignored_settings"] = ignored
        if self._stream:
            try:
                result = await self._call_stream(client, params)
            except ProviderError as exc:
                if exc.kind != "client" or "stream" not in exc.message.lower():
                    raise
                self._stream = False  # this server rejects streaming options: stop asking
                extra["stream_fallback"] = exc.message[:200]
                result = await self._call_plain(client, params)
        else:
            result = await self._call_plain(client, params)
        result.extra.update(extra)
        return result

    async def _call_plain(self, client: Any, params: dict[str, Any]) -> CallResult:
        """Non-streaming request (direct HTTP for compatible servers, else the SDK)."""
        if isinstance(client, _DirectClient):
            return parse_completion(await client.complete(_body(params)))
        return await self._call_plain_sdk(client, params)

    async def _call_plain_sdk(self, client: Any, params: dict[str, Any]) -> CallResult:
        """Non-streaming request through the SDK.

        Sent with the SDK's documented ``client.post`` (auth, timeout and error classes of the
        SDK) and parsed here: skipping the SDK's per-request param transform and response
        models makes this path ~1.5x faster at high concurrency (benchmarks/).
        """
        try:
            raw = await client.post(
                "/chat/completions", body=_body(params), cast_to=_sdk_response_class()
            )
            completion = json.loads(raw.content)
        except Exception as exc:
            raise self._map_error(exc) from exc
        return parse_completion(completion)

    async def _call_stream(self, client: Any, params: dict[str, Any]) -> CallResult:
        """Streaming request with usage in the final chunk; measures time to first token."""
        body = _body({**params, "stream": True, "stream_options": {"include_usage": True}})
        state = _StreamState(self._clock())
        if isinstance(client, _DirectClient):
            async for chunk in client.stream(body):
                usage = chunk.get("usage")
                if usage:
                    state.usage = usage
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    state.add(
                        delta.get("content"),
                        delta.get("refusal"),
                        choice.get("finish_reason"),
                        self._clock(),
                    )
            return state.result()
        try:
            stream = await client.post(
                "/chat/completions",
                body=body,
                cast_to=_chunk_class(),
                stream=True,
                stream_cls=_stream_class(),
            )
            async for chunk in stream:
                usage = getattr(chunk, "usage", None)
                if usage:
                    state.usage = usage.model_dump()
                for choice in chunk.choices or ():
                    delta = choice.delta
                    state.add(
                        getattr(delta, "content", None) if delta else None,
                        getattr(delta, "refusal", None) if delta else None,
                        choice.finish_reason,
                        self._clock(),
                    )
        except ProviderError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc
        return state.result()

    def _map_error(self, exc: BaseException) -> ProviderError:
        """Classify openai SDK errors: 429 (quota or rate), 5xx, 4xx, timeouts, bad bodies."""
        try:
            import openai
        except ImportError:  # pragma: no cover
            return super()._map_error(exc)
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, openai.APIStatusError):
            return status_error(exc.status_code, exc.response.headers, _error_code(exc), exc)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError("timeout", scrub(str(exc)))
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError("connection", scrub(f"{exc}: {exc.__cause__ or ''}"))
        if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError):
            return ProviderError("malformed", scrub(f"{type(exc).__name__}: {exc}"))
        return super()._map_error(exc)


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


def _sdk_response_class() -> Any:
    """The HTTP response class of the SDK's transport (httpx or httpx2): raw-response cast."""
    from openai import _base_client

    transport = getattr(_base_client, "httpx2", None) or _base_client.httpx
    return transport.Response


def _chunk_class() -> Any:
    """The SDK's ChatCompletionChunk model."""
    from openai.types.chat import ChatCompletionChunk

    return ChatCompletionChunk


def _stream_class() -> Any:
    """AsyncStream of chunks (server-sent events)."""
    from openai import AsyncStream

    return AsyncStream[_chunk_class()]


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
