"""OpenAI Chat Completions backend, also for every OpenAI-compatible server.

One class serves api.openai.com and the servers that speak its wire format (vLLM, Ollama,
llama.cpp, LM Studio, SGLang, 01.AI, Together, DeepSeek, Groq). It uses the official ``openai``
SDK with its own retries off (medmine retries), streams with ``include_usage`` to measure time
to first token, and falls back to a plain request when a server rejects streaming options.
"""

from __future__ import annotations

import json
import re
from typing import Any

from medmine.core import ImagePart, Request, TextPart
from medmine.models.base import ApiModel, CallResult, scrub
from medmine.models.images import EncodedImage
from medmine.models.presets import Preset
from medmine.models.retry import ProviderError, parse_retry_after

_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)
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


class OpenAIChatModel(ApiModel):
    """Chat Completions over the ``openai`` SDK (AsyncOpenAI, max_retries=0)."""

    providers = ("openai", "openai_compatible")

    def __init__(self, preset: Preset, **kwargs: Any) -> None:
        """Bind to a preset; streaming (for time to first token) follows the preset."""
        super().__init__(preset, **kwargs)
        self._stream = preset.stream

    @property
    def reasoning_model(self) -> bool:
        """OpenAI o-series and GPT-5 models take max_completion_tokens and no temperature."""
        return self.preset.provider == "openai" and bool(
            _REASONING_MODEL.match(self.preset.model_id)
        )

    def _client_or_error(self) -> Any:
        """The SDK client, created on first use; the key is read from the env per request."""
        preset = self.preset
        self._require_key()
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
        return self._client

    def request_params(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` (without stream options)."""
        settings = request.settings
        params: dict[str, Any] = {
            "model": self.preset.model_id,
            "messages": build_messages(request, images),
        }
        if self.reasoning_model:
            params["max_completion_tokens"] = self._max_tokens(request)
        else:
            params["max_tokens"] = self._max_tokens(request)
            params["temperature"] = settings.temperature
            if settings.top_p is not None:
                params["top_p"] = settings.top_p
        if settings.seed is not None:
            params["seed"] = settings.seed
        if settings.structured and request.json_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "medmine_answer",
                    "schema": dict(request.json_schema),
                    "strict": True,
                },
            }
        if self.preset.extra_body:
            params["extra_body"] = dict(self.preset.extra_body)
        return params

    def build_body(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The JSON body of a non-streaming ``POST /chat/completions`` (batch lines use it)."""
        return _body(self.request_params(request, images))

    async def _call(self, request: Request, images: list[EncodedImage]) -> CallResult:
        """One Chat Completions call, streamed when the preset and server allow it."""
        client = self._client_or_error()
        params = self.request_params(request, images)
        extra: dict[str, Any] = {}
        if self.reasoning_model:
            ignored = ["temperature"] + (["top_p"] if request.settings.top_p is not None else [])
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
        """Non-streaming request.

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
        start = self._clock()
        ttft: float | None = None
        pieces: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        usage: Any = None
        try:
            stream = await client.post(
                "/chat/completions",
                body=_body({**params, "stream": True, "stream_options": {"include_usage": True}}),
                cast_to=_chunk_class(),
                stream=True,
                stream_cls=_stream_class(),
            )
            async for chunk in stream:
                if getattr(chunk, "usage", None):
                    usage = chunk.usage
                for choice in chunk.choices or ():
                    delta = choice.delta
                    piece = getattr(delta, "content", None) if delta else None
                    refused_piece = getattr(delta, "refusal", None) if delta else None
                    if (piece or refused_piece) and ttft is None:
                        ttft = self._clock() - start
                    if piece:
                        pieces.append(piece)
                    if refused_piece:
                        refusal.append(refused_piece)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except ProviderError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc
        if finish is None:
            raise ProviderError("malformed", "stream ended before a finish_reason (truncated)")
        text = "".join(pieces) or "".join(refusal)
        return CallResult(
            text=text,
            input_tokens=getattr(usage, "prompt_tokens", None),
            output_tokens=getattr(usage, "completion_tokens", None),
            finish_reason=finish,
            refused=bool(refusal) or finish == "content_filter",
            ttft_s=ttft,
            streamed=True,
        )

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
    usage = completion.get("usage") or {}
    finish = choice.get("finish_reason")
    return CallResult(
        text=content or refusal or "",
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        finish_reason=finish,
        refused=bool(refusal) or finish == "content_filter",
    )


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
