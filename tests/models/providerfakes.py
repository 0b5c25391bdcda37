"""Simulated providers on 127.0.0.1 that behave like the real ones, not like medmine expects.

Each ``*_responder`` is a :class:`~fakeservers.FakeServer` responder that

- rejects with the provider's documented HTTP 400 body any request the real API rejects
  (:mod:`conformance`),
- counts prompt tokens from what it was sent (text, plus each image unless the server drops
  images, as llama.cpp without a vision projector does),
- spends reasoning/thinking tokens inside the output limit the way the providers document
  (OpenAI ``max_completion_tokens`` and Gemini ``maxOutputTokens`` include them): a budget too
  small for reasoning plus answer ends with finish reason length / MAX_TOKENS and no text,
- answers a structured request with JSON that fits the schema, and a plain one with ``answer``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from conformance import (
    OPENAI_REASONING,
    check_anthropic,
    check_gemini,
    check_openai,
    gemini_thinking_range,
)
from fakeservers import Recorded, Reply, _event
from google.genai import types as gtypes

OPENAI_EFFORT_TOKENS = {"none": 0, "minimal": 80, "low": 700, "medium": 2500, "high": 6000}
GEMINI_DYNAMIC_THINKING = 3000  # what 2.5 models think with no thinkingConfig (dynamic)


def schema_instance(schema: dict[str, Any], counter: list[int] | None = None) -> Any:
    """A value that fits ``schema``: first enum value, increasing numbers, minimum-size arrays
    (the way a constrained decoder fills a schema)."""
    counter = counter if counter is not None else [0]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return schema_instance(options[0], counter) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: schema_instance(v, counter) for k, v in props.items()}
    if kind == "array":
        return [
            schema_instance(schema.get("items") or {}, counter)
            for _ in range(max(1, schema.get("minItems", 1)))
        ]
    if kind in ("number", "integer"):
        counter[0] += 1
        return 100 + 150 * (counter[0] % 6)
    if kind == "boolean":
        return False
    return "benign"


def tokens(text: str) -> int:
    """About 4 characters per token."""
    return math.ceil(len(text) / 4)


@dataclass
class Sim:
    """How a simulated model behaves."""

    answer: str = "The lesion is benign."
    image_tokens: int = 258  # prompt tokens one image costs
    drop_images: bool = False  # the server ignores image parts (llama.cpp without mmproj)
    usage_in_stream: bool = True  # llama.cpp's server sends no usage when streaming
    trickle_s: float = 0.0  # seconds between streamed events
    service_s: float = 0.0  # the server's own time to answer
    echo_key: bool = False  # reject with a 401 that repeats the key it was sent
    seen: list[Recorded] = field(default_factory=list)


def _reply_text(schema: dict[str, Any] | None, sim: Sim) -> str:
    """The model's answer: schema-shaped JSON, or the plain answer."""
    if schema is not None:
        return json.dumps(schema_instance(schema))
    return sim.answer


def _cut(text: str, budget: int) -> str:
    """The first ``budget`` tokens of a text."""
    return text[: max(0, budget) * 4]


# --------------------------------------------------------------------------- OpenAI


def openai_responder(sim: Sim, *, strict_models: bool = True) -> Any:
    """A Chat Completions server enforcing OpenAI's documented rules."""

    def respond(req: Recorded) -> Reply:
        sim.seen.append(req)
        body = req.body
        if sim.echo_key:
            key = req.headers.get("authorization", "").removeprefix("Bearer ")
            return Reply(
                status=401,
                body={
                    "error": {
                        "message": f"Incorrect API key provided: {key}. You can find your "
                        "API key at https://platform.openai.com/account/api-keys.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
        problem = check_openai(body, strict_models=strict_models)
        if problem is not None:
            return Reply(status=400, body=problem)
        prompt = 0
        for message in body["messages"]:
            content = message["content"]
            if isinstance(content, str):
                prompt += tokens(content) + 4
                continue
            for part in content:
                if part["type"] == "text":
                    prompt += tokens(part["text"])
                elif not sim.drop_images:
                    prompt += sim.image_tokens
            prompt += 4
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        text = _reply_text(schema, sim)
        model = str(body["model"])
        reasoning = 0
        if OPENAI_REASONING.match(model):
            reasoning = OPENAI_EFFORT_TOKENS[body.get("reasoning_effort") or "medium"]
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or 10**9
        finish = "stop"
        if reasoning + tokens(text) > limit:
            finish = "length"
            text = _cut(text, limit - reasoning)
            reasoning = min(reasoning, limit)
        completion = reasoning + tokens(text)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        if body.get("stream"):
            with_usage = (body.get("stream_options") or {}).get("include_usage")
            return Reply(
                sse=_openai_stream(
                    model, text, finish, usage if with_usage and sim.usage_in_stream else None
                ),
                delay_s=sim.service_s,
                trickle_s=sim.trickle_s,
            )
        message = {"role": "assistant", "content": text, "refusal": None}
        return Reply(
            body={
                "id": "chatcmpl-sim",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            },
            delay_s=sim.service_s,
        )

    return respond


def _openai_stream(model: str, text: str, finish: str, usage: dict | None) -> list[str]:
    """``chat.completion.chunk`` events of an answer, in 3 pieces, then usage and [DONE]."""

    def chunk(choices: list[dict], extra: dict | None = None) -> str:
        obj = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": choices,
            **(extra or {}),
        }
        return f"data: {json.dumps(obj)}\n\n"

    step = max(1, math.ceil(len(text) / 3))
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    events = [
        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    ]
    events += [
        chunk([{"index": 0, "delta": {"content": p}, "finish_reason": None}]) for p in pieces
    ]
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
    if usage is not None:
        events.append(chunk([], {"usage": usage}))
    events.append("data: [DONE]\n\n")
    return events


# --------------------------------------------------------------------------- Anthropic


def anthropic_responder(sim: Sim) -> Any:
    """A Messages API server enforcing Anthropic's documented rules."""

    def respond(req: Recorded) -> Reply:
        sim.seen.append(req)
        body = req.body
        problem = check_anthropic(body, req.headers)
        if problem is not None:
            return Reply(status=400, body=problem)
        prompt = tokens(body.get("system") or "") if isinstance(body.get("system"), str) else 0
        for message in body["messages"]:
            for block in message["content"]:
                prompt += tokens(block["text"]) if block["type"] == "text" else sim.image_tokens
        thinking = 0
        if (body.get("thinking") or {}).get("type") == "enabled":
            thinking = min(body["thinking"]["budget_tokens"], 1500)
        tools = body.get("tools") or []
        forced = (body.get("tool_choice") or {}).get("type") == "tool"
        schema = tools[0]["input_schema"] if tools else None
        text = _reply_text(schema, sim)
        limit = body["max_tokens"]
        stop = "tool_use" if forced else "end_turn"
        if thinking + tokens(text) > limit:
            stop = "max_tokens"
            text = _cut(text, limit - thinking)
        output = min(limit, thinking + tokens(text))
        usage = {
            "input_tokens": prompt,
            "output_tokens": output,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
        use_tool = forced and stop != "max_tokens"
        if body.get("stream"):
            return Reply(
                sse=_anthropic_stream(body["model"], text, forced, stop, usage),
                delay_s=sim.service_s,
                trickle_s=sim.trickle_s,
            )
        content: list[dict[str, Any]]
        if use_tool:
            content = [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": tools[0]["name"],
                    "input": json.loads(text),
                }
            ]
        elif forced:  # a cut tool call: the API returns what was generated of the input
            content = [{"type": "tool_use", "id": "toolu_1", "name": tools[0]["name"], "input": {}}]
        else:
            content = [{"type": "text", "text": text}]
        message = {
            "id": "msg_sim",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        return Reply(body=message, delay_s=sim.service_s)

    return respond


def _anthropic_stream(model: str, text: str, tool: bool, stop: str, usage: dict) -> list[str]:
    """The documented event sequence: message_start, a content block, message_delta, stop."""
    start = {
        "id": "msg_sim",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    block = (
        {"type": "tool_use", "id": "toolu_1", "name": "answer", "input": {}}
        if tool
        else {"type": "text", "text": ""}
    )
    step = max(1, math.ceil(len(text) / 3))
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    delta_kind, key = ("input_json_delta", "partial_json") if tool else ("text_delta", "text")
    events = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
    ]
    events += [
        _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": delta_kind, key: p}},
        )
        for p in pieces
    ]
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events


# --------------------------------------------------------------------------- Gemini

_GEMINI_PATH = re.compile(
    r"/models/(?P<model>[^:/]+):(?P<method>generateContent|streamGenerateContent)"
)


def gemini_responder(sim: Sim) -> Any:
    """A generateContent server enforcing Google's documented rules and thinking budgets."""

    def respond(req: Recorded) -> Reply:
        sim.seen.append(req)
        match = _GEMINI_PATH.search(req.path)
        if match is None:
            return Reply(
                status=404,
                body={"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}},
            )
        model, body = match["model"], req.body
        problem = check_gemini(model, body)
        if problem is not None:
            return Reply(status=400, body=problem)
        prompt = 0
        for content in [body.get("systemInstruction") or {"parts": []}, *body["contents"]]:
            for part in content.get("parts") or ():
                prompt += tokens(part["text"]) if "text" in part else sim.image_tokens
        # proto3 JSON takes camelCase or snake_case names: read them as the SDK's type does
        config = gtypes.GenerationConfig.model_validate(body.get("generationConfig") or {})
        thinking = 0
        if gemini_thinking_range(model) is not None:
            budget = config.thinking_config.thinking_budget if config.thinking_config else None
            budget = -1 if budget is None else budget
            thinking = GEMINI_DYNAMIC_THINKING if budget == -1 else min(budget, 1500)
        text = _reply_text(config.response_json_schema, sim)
        limit = config.max_output_tokens or 65536
        finish = "STOP"
        if thinking + tokens(text) > limit:
            finish = "MAX_TOKENS"
            thinking = min(thinking, limit)
            text = _cut(text, limit - thinking)
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "totalTokenCount": prompt + thinking + tokens(text),
        }
        if text:  # the API leaves the count out when there is no answer text
            usage["candidatesTokenCount"] = tokens(text)
        if thinking:
            usage["thoughtsTokenCount"] = thinking
        parts = [{"text": text}] if text else []
        candidate = {
            "content": {"role": "model", "parts": parts},
            "finishReason": finish,
            "index": 0,
        }
        response = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
        if match["method"] == "streamGenerateContent":
            return Reply(
                sse=[f"data: {json.dumps(response)}\r\n\r\n"],
                delay_s=sim.service_s,
                trickle_s=sim.trickle_s,
            )
        return Reply(body=response, delay_s=sim.service_s)

    return respond
