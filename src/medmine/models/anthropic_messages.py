"""Anthropic Messages API backend (official ``anthropic`` SDK, its retries off).

System messages go to the ``system`` parameter; images are base64 ``image`` blocks; streaming
measures time to first token (input tokens arrive in ``message_start``, output tokens in
``message_delta``). Structured output uses one forced tool whose ``input_schema`` is the
request's JSON schema; the answer is the tool input as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from medmine.core import ImagePart, Request, TextPart
from medmine.models.base import ApiModel, CallResult, scrub
from medmine.models.images import EncodedImage
from medmine.models.openai_chat import status_error
from medmine.models.retry import ProviderError

TOOL_NAME = "answer"


def build_messages(
    request: Request, images: list[EncodedImage]
) -> tuple[str | None, list[dict[str, Any]]]:
    """(system prompt, messages) in the Messages API format."""
    pending = iter(images)
    system = [m.text for m in request.messages if m.role == "system"]
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        blocks: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                blocks.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                image = next(pending)
                blocks.append(
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": image.mime, "data": image.b64()},
                    }
                )
        messages.append({"role": message.role, "content": blocks})
    return ("\n\n".join(system) if system else None), messages


def parse_message(message: Any) -> CallResult:
    """Read an SDK ``Message``: text blocks (or the forced tool's input as JSON), usage, stop."""
    texts, tool_input = [], None
    for block in message.content or ():
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            tool_input = block.input
    text = json.dumps(tool_input) if tool_input is not None else "".join(texts)
    usage = message.usage
    return CallResult(
        text=text,
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        finish_reason=message.stop_reason,
        refused=message.stop_reason == "refusal",
    )


class AnthropicModel(ApiModel):
    """Messages API over the ``anthropic`` SDK (AsyncAnthropic, max_retries=0)."""

    providers = ("anthropic",)

    def _client_or_error(self) -> Any:
        """The SDK client, created on first use after checking the key variable is set."""
        preset = self.preset
        key = self._require_key()
        if self._client is None:
            try:
                import anthropic
            except ImportError as exc:  # pragma: no cover
                raise ProviderError(
                    "client", "the anthropic package is needed: pip install 'medmine[cloud]'"
                ) from exc
            options: dict[str, Any] = {
                "api_key": key or "not-needed",
                "max_retries": 0,
                "timeout": preset.timeout_s,
            }
            base_url = preset.resolved_base_url()
            if base_url:
                options["base_url"] = base_url
            self._client = anthropic.AsyncAnthropic(**options)
        return self._client

    def request_params(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """Keyword arguments of ``messages.create`` (sampling settings go in ``extra_body``).

        The SDK no longer lists ``temperature``/``top_p``; the API still takes them for the
        models that support sampling, so they are sent as extra body fields.
        """
        system, messages = build_messages(request, images)
        settings = request.settings
        params: dict[str, Any] = {
            "model": self.preset.model_id,
            "max_tokens": self._max_tokens(request),
            "messages": messages,
        }
        if system:
            params["system"] = system
        body: dict[str, Any] = {"temperature": settings.temperature}
        if settings.top_p is not None:
            body["top_p"] = settings.top_p
        body.update(self.preset.extra_body)
        params["extra_body"] = body
        if settings.structured and request.json_schema is not None:
            params["tools"] = [
                {
                    "name": TOOL_NAME,
                    "description": "Return the answer in the required structure.",
                    "input_schema": dict(request.json_schema),
                }
            ]
            params["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
        return params

    def build_body(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The JSON body of a non-streaming ``POST /v1/messages`` (batch ``params`` use it)."""
        params = self.request_params(request, images)
        extra = params.pop("extra_body", None) or {}
        return {**params, **extra}

    async def _call(self, request: Request, images: list[EncodedImage]) -> CallResult:
        """One Messages call, streamed when the preset asks for it."""
        client = self._client_or_error()
        params = self.request_params(request, images)
        try:
            if self.preset.stream:
                return await self._call_stream(client, params)
            message = await client.messages.create(**params)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc
        return parse_message(message)

    async def _call_stream(self, client: Any, params: dict[str, Any]) -> CallResult:
        """Streamed Messages call; raises 'malformed' when the stream ends before message_stop."""
        start = self._clock()
        ttft: float | None = None
        texts: list[str] = []
        tool_json: list[str] = []
        input_tokens: int | None = None
        output_tokens: int | None = None
        stop_reason: str | None = None
        finished = False
        stream = await client.messages.create(**params, stream=True)
        async for event in stream:
            kind = event.type
            if kind == "message_start":
                usage = event.message.usage
                input_tokens = getattr(usage, "input_tokens", None)
                output_tokens = getattr(usage, "output_tokens", None)
            elif kind == "content_block_delta":
                delta = event.delta
                if ttft is None:
                    ttft = self._clock() - start
                if delta.type == "text_delta":
                    texts.append(delta.text)
                elif delta.type == "input_json_delta":
                    tool_json.append(delta.partial_json)
            elif kind == "message_delta":
                stop_reason = event.delta.stop_reason or stop_reason
                if event.usage is not None and event.usage.output_tokens is not None:
                    output_tokens = event.usage.output_tokens
            elif kind == "message_stop":
                finished = True
        if not finished:
            raise ProviderError("malformed", "stream ended before message_stop (truncated)")
        text = "".join(texts)
        if tool_json:
            try:
                text = json.dumps(json.loads("".join(tool_json)))
            except ValueError as exc:
                raise ProviderError("malformed", f"tool input is not JSON: {exc}") from exc
        return CallResult(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            finish_reason=stop_reason,
            refused=stop_reason == "refusal",
            ttft_s=ttft,
            streamed=True,
        )

    def _map_error(self, exc: BaseException) -> ProviderError:
        """Classify anthropic SDK errors (429, 529 overloaded, 5xx, 4xx, timeouts)."""
        try:
            import anthropic
        except ImportError:  # pragma: no cover
            return super()._map_error(exc)
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            message = str(exc).lower()
            if status == 400 and ("credit balance" in message or "billing" in message):
                return ProviderError("quota", scrub(str(exc)), status)
            return status_error(status, exc.response.headers, None, exc)
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError("timeout", scrub(str(exc)))
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderError("connection", scrub(f"{exc}: {exc.__cause__ or ''}"))
        if isinstance(exc, anthropic.APIResponseValidationError | json.JSONDecodeError):
            return ProviderError("malformed", scrub(f"{type(exc).__name__}: {exc}"))
        return super()._map_error(exc)
