"""Anthropic Messages API backend (official ``anthropic`` SDK, its retries off).

System messages go to the ``system`` parameter; images are base64 ``image`` blocks; streaming
measures time to first token (input tokens arrive in ``message_start``, output tokens in
``message_delta``). Structured output uses one forced tool whose ``input_schema`` is the
request's JSON schema; the answer is the tool input as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from medmine.core import ImagePart, Request, TextPart, Usage
from medmine.models.base import ApiModel, CallResult, scrub
from medmine.models.images import EncodedImage
from medmine.models.openai_wire import sampling_params, status_error
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
    return CallResult(
        text=text,
        **usage_fields(message.usage),
        finish_reason=message.stop_reason,
        refused=message.stop_reason == "refusal",
    )


def usage_fields(usage: Any) -> dict[str, Any]:
    """CallResult usage fields from an Anthropic ``usage``: ``input_tokens`` there excludes
    prompt-cache reads and writes, so they are added back (reads are the cached tokens)."""
    if usage is None:
        return {"input_tokens": None, "output_tokens": None}
    fresh = getattr(usage, "input_tokens", None)
    read = int(getattr(usage, "cache_read_input_tokens", None) or 0)
    written = int(getattr(usage, "cache_creation_input_tokens", None) or 0)
    return {
        "input_tokens": None if fresh is None else fresh + read + written,
        "output_tokens": getattr(usage, "output_tokens", None),
        "cached_input_tokens": read,
    }


class AnthropicModel(ApiModel):
    """Messages API over the ``anthropic`` SDK (AsyncAnthropic, max_retries=0)."""

    providers = ("anthropic",)

    def _prepare(self) -> None:
        """Import the SDK and build the client before the first request is timed."""
        self._client_or_error()

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
            # build the SDK's lazy resources and response model now, not in a timed request
            _ = self._client.messages
            anthropic.types.Message.model_validate(
                {"id": "m", "type": "message", "role": "assistant", "model": "m", "content": [],
                 "stop_reason": None, "stop_sequence": None,
                 "usage": {"input_tokens": 0, "output_tokens": 0}}
            )  # fmt: skip
        return self._client

    def request_params(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """Keyword arguments of ``messages.create``.

        The SDK's typed params no longer list ``temperature``/``top_p``: they are sent (as
        extra body fields) only when the preset says the model accepts them, never together
        when it marks them exclusive. With a thinking budget, ``thinking`` is enabled and
        ``max_tokens`` (which counts thinking) gets the reasoning reserve; a forced tool
        call is not allowed with thinking, so the answer tool is then offered, not forced.
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
        thinking = self.preset.reasoning == "budget" and self.preset.thinking_budget
        if thinking:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.preset.thinking_budget}
        body = {k: v for k, v in self.sampling(request)[0].items() if k != "seed"}
        body.update(self.preset.extra_body)
        if body:
            params["extra_body"] = body
        if settings.structured and request.json_schema is not None:
            params["tools"] = [
                {
                    "name": TOOL_NAME,
                    "description": "Return the answer in the required structure.",
                    "input_schema": dict(request.json_schema),
                }
            ]
            forced = {"type": "tool", "name": TOOL_NAME}
            params["tool_choice"] = {"type": "auto"} if thinking else forced
        return params

    def sampling(self, request: Request) -> tuple[dict[str, Any], list[str]]:
        """(sampling settings sent, settings left out); thinking takes no sampling settings."""
        thinking = self.preset.reasoning == "budget"
        sent, left = sampling_params(self.preset, request, reasoning=thinking)
        if "seed" in sent:  # the Messages API has no seed
            sent.pop("seed")
            left.append("seed")
        return sent, left

    def build_body(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The JSON body of a non-streaming ``POST /v1/messages`` (batch ``params`` use it)."""
        params = self.request_params(request, images)
        extra = params.pop("extra_body", None) or {}
        return {**params, **extra}

    def _payload(self, request: Request, images: list[EncodedImage]) -> dict[str, Any]:
        """The create() params, built before timing."""
        return self.request_params(request, images)

    async def _call(
        self, request: Request, images: list[EncodedImage], payload: Any = None
    ) -> CallResult:
        """One Messages call, streamed when the preset asks for it."""
        client = self._client_or_error()
        params = payload if payload is not None else self.request_params(request, images)
        try:
            if self.preset.stream:
                result = await self._call_stream(client, params)
            else:
                result = parse_message(await self._post(client, params, stream=False))
        except ProviderError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc
        ignored = self.sampling(request)[1]
        if ignored:
            result.extra["ignored_settings"] = ignored
        return result

    @staticmethod
    async def _post(client: Any, params: dict[str, Any], *, stream: bool) -> Any:
        """``POST /v1/messages`` through the SDK's documented ``client.post`` (its auth,
        headers, timeout and error classes) with the body as built: the same JSON
        ``messages.create`` sends, without its per-call params transform (which costs a
        first request hundreds of milliseconds: see benchmarks/latency.py)."""
        import anthropic
        from anthropic.types import Message, RawMessageStreamEvent

        extra = params.get("extra_body") or {}
        body = {k: v for k, v in params.items() if k != "extra_body"} | extra
        if not stream:
            return await client.post("/v1/messages", body=body, cast_to=Message)
        return await client.post(
            "/v1/messages",
            body={**body, "stream": True},
            cast_to=Message,
            stream=True,
            stream_cls=anthropic.AsyncStream[RawMessageStreamEvent],
        )

    async def _call_stream(self, client: Any, params: dict[str, Any]) -> CallResult:
        """Streamed Messages call; raises 'malformed' when the stream ends before message_stop."""
        start = self._clock()
        ttft: float | None = None
        texts: list[str] = []
        tool_json: list[str] = []
        usage: dict[str, Any] = {"input_tokens": None, "output_tokens": None}
        stop_reason: str | None = None
        finished = False
        stream = await self._post(client, params, stream=True)
        async for event in stream:
            kind = event.type
            if kind == "message_start":
                usage = usage_fields(event.message.usage)
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
                    usage["output_tokens"] = event.usage.output_tokens
            elif kind == "message_stop":
                finished = True
        if not finished:
            raise ProviderError("malformed", "stream ended before message_stop (truncated)")
        text = "".join(texts)
        if tool_json and stop_reason == "max_tokens":
            text = "".join(tool_json)  # cut by the limit: kept as sent, recorded as truncated
        elif tool_json:
            try:
                text = json.dumps(json.loads("".join(tool_json)))
            except ValueError as exc:
                error = ProviderError("malformed", f"tool input is not JSON: {exc}")
                error.usage = Usage(usage["input_tokens"], usage["output_tokens"])
                raise error from exc
        return CallResult(
            text=text,
            **usage,
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
