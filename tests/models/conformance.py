"""The providers' documented request rules, as checks the fake servers enforce.

Each ``check_*`` function returns None for a body the real provider accepts, or the HTTP 400
error body the provider documents for one it rejects. The allowed fields come from the
official SDKs' own type definitions (openai ``CompletionCreateParams``, anthropic
``MessageCreateParams``, google-genai ``GenerationConfig``); the model rules from the
providers' documentation:

- OpenAI structured outputs, strict mode: supported keywords only; every object has
  ``additionalProperties: false`` and lists every property in ``required``; the root is an
  object. Reasoning models (o-series, gpt-5): ``max_tokens`` is rejected (use
  ``max_completion_tokens``, which counts reasoning tokens); ``temperature``/``top_p`` other
  than the default are rejected; ``reasoning_effort`` is rejected by non-reasoning models.
- Anthropic Messages: fields outside MessageCreateParams are rejected ("Extra inputs are not
  permitted"); under API version 2026-10-21 that includes ``temperature``/``top_p`` for
  current models, and models that still take them reject both together. Thinking needs a
  ``budget_tokens`` >= 1024 and < ``max_tokens`` and forbids a forced tool choice.
- Gemini generateContent: unknown fields are rejected; ``responseJsonSchema`` needs
  ``responseMimeType: application/json``; ``thinkingBudget`` has a per-model range (2.5 Pro
  cannot turn thinking off).

These rules are written from the providers' documents independently of medmine's request
builders, so a builder that drifts from them is caught.
"""

from __future__ import annotations

import re
from typing import Any

from anthropic.types.message_create_params import MessageCreateParamsBase
from google.genai import types as gtypes
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming
from pydantic import ValidationError

OPENAI_FIELDS = frozenset(CompletionCreateParamsStreaming.__annotations__)
ANTHROPIC_FIELDS = frozenset(MessageCreateParamsBase.__annotations__) | {"stream"}
GEMINI_FIELDS = frozenset(
    {
        "contents",
        "systemInstruction",
        "generationConfig",
        "safetySettings",
        "tools",
        "toolConfig",
        "cachedContent",
        "labels",
    }
)

# OpenAI structured outputs guide, "Supported schemas".
OPENAI_STRICT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "description",
        "title",
        "pattern",
        "format",
        "multipleOf",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    }
)
OPENAI_REASONING = re.compile(r"^(o\d|gpt-5)")
OPENAI_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
IMAGE_MEDIA = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DATA_URL = re.compile(r"^data:(image/(?:jpeg|png|gif|webp));base64,[A-Za-z0-9+/=]+$")


# --------------------------------------------------------------------------- OpenAI


def openai_error(message: str, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's documented 400 error body."""
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


def strict_schema_problem(schema: Any, where: tuple[str, ...] = ()) -> str | None:
    """The first way ``schema`` breaks OpenAI's strict-mode rules, or None."""
    if not isinstance(schema, dict):
        return f"In context={where}, schema must be an object"
    if not where and schema.get("type") != "object":
        return "Invalid schema: the root schema must be of type 'object' (not anyOf)"
    for key in schema:
        if key not in OPENAI_STRICT_KEYWORDS:
            return f"In context={where}, '{key}' is not permitted."
    props = schema.get("properties")
    if schema.get("type") == "object" or props is not None:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={where}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        missing = [k for k in (props or {}) if k not in (schema.get("required") or [])]
        if missing:
            return (
                f"In context={where}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
        for name, sub in (props or {}).items():
            if problem := strict_schema_problem(sub, (*where, "properties", name)):
                return problem
    items = schema.get("items")
    if isinstance(items, dict) and (problem := strict_schema_problem(items, (*where, "items"))):
        return problem
    for i, sub in enumerate(schema.get("anyOf") or ()):
        if problem := strict_schema_problem(sub, (*where, "anyOf", str(i))):
            return problem
    return None


def _openai_message_problem(i: int, message: Any) -> str | None:
    """Why one chat message is malformed, or None."""
    if not isinstance(message, dict) or message.get("role") not in (
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
    ):
        return f"messages[{i}]: invalid role"
    content = message.get("content")
    if isinstance(content, str):
        return None
    if not isinstance(content, list) or not content:
        return f"messages[{i}].content: expected a string or a non-empty array of parts"
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str) and set(part) == {"type", "text"}:
            continue
        if kind == "image_url" and message["role"] == "user":
            url = (part.get("image_url") or {}).get("url", "")
            if DATA_URL.match(url) or url.startswith("https://"):
                continue
            return f"messages[{i}].content[{j}].image_url.url: invalid image URL"
        return f"messages[{i}].content[{j}]: invalid content part {part!r:.80}"
    return None


def check_openai(body: Any, *, strict_models: bool = True) -> dict | None:
    """None when api.openai.com would accept this Chat Completions body, else its 400 body."""
    if not isinstance(body, dict):
        return openai_error("We could not parse the JSON body of your request.")
    for key in body:
        if key not in OPENAI_FIELDS:
            return openai_error(f"Unrecognized request argument supplied: {key}", key)
    for key in ("model", "messages"):
        if key not in body:
            return openai_error(f"Missing required parameter: '{key}'.", key)
    for i, message in enumerate(body["messages"]):
        if problem := _openai_message_problem(i, message):
            return openai_error(f"Invalid 'messages': {problem}", "messages")
    if "stream_options" in body and not body.get("stream"):
        return openai_error(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    if "max_tokens" in body and "max_completion_tokens" in body:
        return openai_error("max_tokens and max_completion_tokens cannot both be set.")
    model = str(body["model"])
    if strict_models and OPENAI_REASONING.match(model):
        if "max_tokens" in body:
            return openai_error(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                "'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        for key in ("temperature", "top_p"):
            if key in body and body[key] != 1:
                return openai_error(
                    f"Unsupported value: '{key}' does not support {body[key]} with this model. "
                    "Only the default (1) value is supported.",
                    key,
                    "unsupported_value",
                )
        effort = body.get("reasoning_effort")
        if effort is not None and effort not in OPENAI_EFFORTS:
            return openai_error(f"Invalid value: '{effort}'.", "reasoning_effort")
    elif strict_models and "reasoning_effort" in body:
        return openai_error(
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            "reasoning_effort",
            "unsupported_parameter",
        )
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        if not re.match(r"^[a-zA-Z0-9_-]{1,64}$", str(spec.get("name", ""))):
            return openai_error("Invalid 'response_format.json_schema.name'.", "response_format")
        if spec.get("strict"):
            problem = strict_schema_problem(spec.get("schema"))
            if problem:
                name = spec.get("name")
                return openai_error(
                    f"Invalid schema for response_format '{name}': {problem}",
                    "response_format",
                    "invalid_json_schema",
                )
    return None


# --------------------------------------------------------------------------- Anthropic


def anthropic_error(message: str) -> dict:
    """Anthropic's documented 400 error body."""
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def check_anthropic(body: Any, headers: dict[str, str]) -> dict | None:
    """None when the Messages API would accept this body, else its 400 body."""
    if not headers.get("anthropic-version"):
        return anthropic_error("anthropic-version: header is required")
    if not isinstance(body, dict):
        return anthropic_error("body: expected an object")
    model = str(body.get("model", ""))
    takes_sampling = model.startswith("claude-3")  # older models under their own endpoints
    for key in body:
        if key in ("temperature", "top_p") and takes_sampling:
            continue
        if key not in ANTHROPIC_FIELDS:
            return anthropic_error(f"{key}: Extra inputs are not permitted")
    if takes_sampling and "temperature" in body and "top_p" in body:
        return anthropic_error(
            "`temperature` and `top_p` cannot both be specified for this model. Please use "
            "only one."
        )
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return anthropic_error("max_tokens: Field required (a positive integer)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
        return anthropic_error("messages: at least one message is required, starting with user")
    for i, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return anthropic_error(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for j, block in enumerate(blocks or ()):
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
                continue
            source = block.get("source") or {}
            if (
                kind == "image"
                and source.get("type") == "base64"
                and source.get("media_type") in IMAGE_MEDIA
                and source.get("data")
            ):
                continue
            return anthropic_error(f"messages.{i}.content.{j}: invalid content block")
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return anthropic_error("system: Input should be a string or a list of text blocks")
    tools = {t.get("name"): t for t in body.get("tools") or ()}
    for name, tool in tools.items():
        if (tool.get("input_schema") or {}).get("type") != "object":
            return anthropic_error(f"tools.{name}.input_schema: type must be 'object'")
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool" and choice.get("name") not in tools:
        return anthropic_error(f"tool_choice: tool {choice.get('name')!r} not found in tools")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024 or budget >= max_tokens:
            return anthropic_error(
                "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
            )
        if choice.get("type") in ("tool", "any"):
            return anthropic_error("Thinking may not be enabled when tool_choice forces tool use.")
    return None


# --------------------------------------------------------------------------- Gemini

GEMINI_THINKING = {  # model prefix -> (can turn thinking off, min budget, max budget)
    "gemini-2.5-pro": (False, 128, 32768),
    "gemini-2.5-flash-lite": (True, 512, 24576),
    "gemini-2.5-flash": (True, 1, 24576),
}


def gemini_error(message: str) -> dict:
    """Google's documented 400 error body."""
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


def gemini_thinking_range(model: str) -> tuple[bool, int, int] | None:
    """(can turn off, min, max) thinking budget of a model, None for non-thinking models."""
    for prefix, spec in GEMINI_THINKING.items():
        if model.startswith(prefix):
            return spec
    return None


def check_gemini(model: str, body: Any) -> dict | None:
    """None when generateContent would accept this body for ``model``, else its 400 body."""
    if not isinstance(body, dict):
        return gemini_error("Invalid JSON payload received.")
    for key in body:
        if key not in GEMINI_FIELDS:
            return gemini_error(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return gemini_error("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        for j, part in enumerate(content.get("parts") or ()):
            # proto3 JSON: lowerCamelCase or the proto's snake_case names (the SDK sends both)
            blob = part.get("inlineData") or part.get("inline_data") or {}
            mime = blob.get("mimeType") or blob.get("mime_type")
            if "text" in part or (mime in IMAGE_MEDIA and blob.get("data")):
                continue
            return gemini_error(f"* contents[{i}].parts[{j}]: unsupported part")
    config = body.get("generationConfig") or {}
    try:
        parsed = gtypes.GenerationConfig.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return gemini_error(
            f"Invalid JSON payload received. Unknown name \"{field}\" at 'generation_config': "
            "Cannot find field."
        )
    if parsed.response_json_schema is not None and parsed.response_mime_type != (
        "application/json"
    ):
        return gemini_error(
            "* GenerateContentRequest.generation_config.response_mime_type: must be "
            "application/json when response_json_schema is set"
        )
    thinking = parsed.thinking_config
    budget = thinking.thinking_budget if thinking is not None else None
    spec = gemini_thinking_range(model)
    if budget is not None and budget != -1:
        if spec is None:
            return gemini_error("Thinking is not supported by this model.")
        can_off, low, high = spec
        if budget == 0 and not can_off:
            return gemini_error("Budget 0 is invalid. This model only works in thinking mode.")
        if budget != 0 and not (low <= budget <= high):
            return gemini_error(
                f"The thinking budget {budget} is invalid. Please choose a value between "
                f"{low} and {high}."
            )
    return None
