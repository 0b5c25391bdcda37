"""Google Gemini backend (official ``google-genai`` SDK, its retries off).

Images are inline data parts, system messages the ``system_instruction``; usage comes from
``usage_metadata``. A SAFETY / PROHIBITED_CONTENT-style finish reason or a prompt
``block_reason`` is a refusal. Structured output uses ``response_mime_type=application/json``
with the request's JSON schema as ``response_json_schema`` (the SDK field that takes plain JSON
Schema; ``response_schema`` takes Google's OpenAPI subset and rejects common JSON Schema keys).
"""

from __future__ import annotations

import json
from typing import Any

from medmine.core import ImagePart, Request, TextPart
from medmine.models.accounting import WITHHELD_REASONS
from medmine.models.base import ApiModel, CallResult, scrub
from medmine.models.gemini_wire import prepare, send, send_streamed
from medmine.models.images import EncodedImage
from medmine.models.openai_wire import sampling_params, status_error
from medmine.models.retry import ProviderError

# Finish reasons meaning Google withheld the answer (safety, recitation, blocklists, other
# policy): refusals with that reason, not the model's parse failures.
REFUSAL_REASONS = WITHHELD_REASONS - {"content_filter", "refusal"}


def _enum_name(value: Any) -> str | None:
    """The name of an SDK enum (or a plain string), None for None."""
    if value is None:
        return None
    return str(getattr(value, "name", None) or getattr(value, "value", value))


class GeminiModel(ApiModel):
    """``generate_content`` / ``generate_content_stream`` over ``google-genai``."""

    providers = ("gemini",)

    def _prepare(self) -> None:
        """Import the SDK and build the client before the first request is timed."""
        self._client_or_error()

    def _client_or_error(self) -> Any:
        """The SDK client, created on first use after checking the key variable is set."""
        preset = self.preset
        key = self._require_key()
        if self._client is None:
            try:
                from google import genai
                from google.genai import types
            except ImportError as exc:  # pragma: no cover
                raise ProviderError(
                    "client", "the google-genai package is needed: pip install 'medmine[cloud]'"
                ) from exc
            http = types.HttpOptions(
                base_url=preset.resolved_base_url(),
                timeout=int(preset.timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            self._client = genai.Client(api_key=key or "not-needed", http_options=http)
            # build the SDK's lazy async side and response model now, not in a timed request
            _ = self._client.aio.models
            types.GenerateContentResponse.model_validate(
                {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]},
                                 "finishReason": "STOP"}],
                 "usageMetadata": {"promptTokenCount": 1}}
            )  # fmt: skip
        return self._client

    def build_contents(self, request: Request, images: list[EncodedImage]) -> tuple[Any, Any]:
        """(contents, system instruction) as google-genai types."""
        from google.genai import types

        pending = iter(images)
        system = [m.text for m in request.messages if m.role == "system"]
        contents = []
        for message in request.messages:
            if message.role == "system":
                continue
            parts = []
            for part in message.parts:
                if isinstance(part, TextPart):
                    parts.append(types.Part.from_text(text=part.text))
                elif isinstance(part, ImagePart):
                    image = next(pending)
                    parts.append(types.Part.from_bytes(data=image.data, mime_type=image.mime))
            role = "model" if message.role == "assistant" else "user"
            contents.append(types.Content(role=role, parts=parts))
        return contents, ("\n\n".join(system) if system else None)

    def build_config(self, request: Request, system: str | None) -> Any:
        """The GenerateContentConfig for a request."""
        from google.genai import types

        settings = request.settings
        fields: dict[str, Any] = {"max_output_tokens": self._max_tokens(request)}
        fields.update(sampling_params(self.preset, request)[0])
        if self.preset.reasoning == "budget" and self.preset.thinking_budget is not None:
            # maxOutputTokens counts thinking: the preset's reserve is already added to it
            fields["thinking_config"] = types.ThinkingConfig(
                thinking_budget=self.preset.thinking_budget
            )
        if system:
            fields["system_instruction"] = system
        if settings.structured and request.json_schema is not None:
            fields["response_mime_type"] = "application/json"
            fields["response_json_schema"] = dict(request.json_schema)
        if self.preset.extra_body:
            fields["http_options"] = types.HttpOptions(extra_body=dict(self.preset.extra_body))
        return types.GenerateContentConfig(**fields)

    def _payload(self, request: Request, images: list[EncodedImage]) -> tuple[Any, Any, Any]:
        """(contents, config) as SDK types and the REST body the SDK converts them to, built
        before timing (:mod:`gemini_wire`)."""
        contents, system = self.build_contents(request, images)
        config = self.build_config(request, system)
        client = self._client_or_error()
        return contents, config, prepare(client, self.preset.model_id, contents, config)

    async def _call(
        self, request: Request, images: list[EncodedImage], payload: Any = None
    ) -> CallResult:
        """One generate_content call, streamed when the preset asks for it."""
        client = self._client_or_error()
        contents, config, ready = payload if payload is not None else self._payload(request, images)
        model = self.preset.model_id
        start = self._clock()
        try:
            if not self.preset.stream:
                if ready is not None:
                    response = await send(client, ready)
                else:
                    response = await client.aio.models.generate_content(
                        model=model, contents=contents, config=config
                    )
                return self._result([response], None, streamed=False)
            chunks = []
            ttft: float | None = None
            if ready is not None:
                stream = send_streamed(client, ready)
            else:
                stream = await client.aio.models.generate_content_stream(
                    model=model, contents=contents, config=config
                )
            async for chunk in stream:
                if ttft is None and _chunk_text(chunk):
                    ttft = self._clock() - start
                chunks.append(chunk)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc
        return self._result(chunks, ttft, streamed=True)

    def parse_response(self, response: Any) -> CallResult:
        """Read one non-streamed ``GenerateContentResponse`` (batch inlined responses use it)."""
        return self._result([response], None, streamed=False)

    def _result(self, chunks: list[Any], ttft: float | None, *, streamed: bool) -> CallResult:
        """Merge response chunks: text, last usage, finish or block reason."""
        if not chunks:
            raise ProviderError("malformed", "empty response (no chunks)")
        text = "".join(_chunk_text(c) for c in chunks)
        finish: str | None = None
        block: str | None = None
        usage: Any = None
        for chunk in chunks:
            for candidate in chunk.candidates or ():
                finish = _enum_name(candidate.finish_reason) or finish
            feedback = getattr(chunk, "prompt_feedback", None)
            if feedback is not None and feedback.block_reason is not None:
                block = _enum_name(feedback.block_reason)
            if chunk.usage_metadata is not None:
                usage = chunk.usage_metadata
        if finish is None and block is None:
            raise ProviderError("malformed", "response ended without a finish reason (truncated)")
        refused = block is not None or finish in REFUSAL_REASONS
        extra = {"block_reason": block} if block else {}
        thoughts = getattr(usage, "thoughts_token_count", None)
        return CallResult(
            text=text,
            input_tokens=getattr(usage, "prompt_token_count", None),
            output_tokens=_output_tokens(usage),
            cached_input_tokens=int(getattr(usage, "cached_content_token_count", None) or 0),
            reasoning_tokens=int(thoughts) if thoughts is not None else None,
            finish_reason=finish or block,
            refused=refused,
            ttft_s=ttft,
            streamed=streamed,
            extra=extra,
        )

    def _map_error(self, exc: BaseException) -> ProviderError:
        """Classify google-genai API errors by HTTP code, plus timeouts and bad bodies."""
        try:
            from google.genai import errors
        except ImportError:  # pragma: no cover
            return super()._map_error(exc)
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, errors.APIError):
            code = int(getattr(exc, "code", 0) or 0)
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            error = status_error(code, headers, None, exc)
            if error.kind == "rate_limit" and error.retry_after is None:
                error.retry_after = _retry_delay(getattr(exc, "details", None))
            if code == 0:
                return ProviderError("malformed", scrub(str(exc)))
            return error
        if isinstance(exc, json.JSONDecodeError):
            return ProviderError("malformed", scrub(f"{type(exc).__name__}: {exc}"))
        return super()._map_error(exc)


def _chunk_text(chunk: Any) -> str:
    """Concatenated text parts of a response chunk's first candidate (thoughts excluded)."""
    for candidate in chunk.candidates or ():
        content = candidate.content
        if content is None or not content.parts:
            return ""
        return "".join(p.text for p in content.parts if p.text and not getattr(p, "thought", None))
    return ""


def _output_tokens(usage: Any) -> int | None:
    """Candidate tokens plus thinking tokens (both billed as output). The API leaves out
    ``candidatesTokenCount`` when the answer is empty (all the budget went to thinking):
    the thinking tokens are still billed. None when neither is reported."""
    if usage is None:
        return None
    candidates = usage.candidates_token_count
    thoughts = getattr(usage, "thoughts_token_count", None)
    if candidates is None and thoughts is None:
        return None
    return int(candidates or 0) + int(thoughts or 0)


def _retry_delay(details: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo ``retryDelay`` such as ``"17s"``, if present."""
    if not isinstance(details, dict):
        return None
    error = details.get("error", details)
    for item in error.get("details", []) if isinstance(error, dict) else []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None
