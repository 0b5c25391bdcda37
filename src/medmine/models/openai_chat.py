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
import re
from typing import Any

from medmine.core import Request, TextPart
from medmine.models.accounting import image_dropped_by_tokens
from medmine.models.base import ApiModel, CallResult, scrub
from medmine.models.images import EncodedImage
from medmine.models.openai_wire import (
    NO_KEY_PLACEHOLDER,
    DirectClient,
    StreamState,
    _body,
    _error_code,
    build_messages,
    parse_completion,
    sampling_params,
    status_error,
    usage_fields,
)
from medmine.models.presets import Preset
from medmine.models.retry import ProviderError
from medmine.models.schemas import strict_schema

__all__ = [
    "OpenAIChatModel",
    "build_messages",
    "parse_completion",
    "sampling_params",
    "status_error",
    "usage_fields",
]

_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)
# Fewest prompt tokens an image adds on any vision server we know (a 56x56 image is 4 tokens
# on Qwen2.5-VL, a CLIP-style encoder adds 64-729): a smaller difference means it was dropped.
IMAGE_TOKENS_MIN = 4


class OpenAIChatModel(ApiModel):
    """Chat Completions: the ``openai`` SDK (AsyncOpenAI, max_retries=0) for provider
    ``openai``, direct HTTP (:class:`DirectClient`) for ``openai_compatible``."""

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
            self._client = DirectClient(preset, self.max_concurrency)
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
            # import the SDK's lazy modules and build its response model now, not in the
            # first timed request
            _sdk_response_class(), _stream_class()
            _chunk_class().model_validate(
                {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": []}
            )  # fmt: skip
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

    def _payload(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The create() params, built before timing."""
        return self.request_params(request, images)

    async def _call(
        self, request: Request, images: list[EncodedImage], payload: Any = None
    ) -> CallResult:
        """One Chat Completions call, streamed when the preset and server allow it."""
        client = self._client_or_error()
        params = payload if payload is not None else self.request_params(request, images)
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
        if isinstance(client, DirectClient):
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
        state = StreamState(self._clock())
        if isinstance(client, DirectClient):
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
