"""Every preset family against simulated providers that enforce the documented rules.

The fake servers reject (HTTP 400, the provider's error shape) what the real APIs reject and
spend reasoning/thinking tokens inside the output limit, so a request builder that sends a
non-strict schema, sampling parameters a model refuses, or a budget that leaves no room for the
answer fails here the way it would in production.
"""

from __future__ import annotations

import json

import pytest
from conformance import check_anthropic, check_gemini, check_openai, strict_schema_problem
from conftest import make_request
from fakeservers import FakeServer
from providerfakes import Sim, anthropic_responder, gemini_responder, openai_responder

from medmine.core import GenerationSettings, ImageRef
from medmine.models.anthropic_messages import AnthropicModel
from medmine.models.factory import build_model
from medmine.models.gemini import GeminiModel
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset, load_presets
from medmine.models.retry import RetryPolicy
from medmine.models.schemas import strict_schema

# The classification task's schema with probabilities: an optional nested object.
LABELS = ["nevus", "melanoma", "keratosis"]
SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": LABELS},
        "probabilities": {
            "type": "object",
            "properties": {lab: {"type": "number"} for lab in LABELS},
        },
        "boxes": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "uniqueItems": True,
        },
    },
    "required": ["label"],
}
RESPONDERS = {
    "openai": openai_responder,
    "anthropic": anthropic_responder,
    "gemini": gemini_responder,
}
FAMILIES = ["gpt-4o", "gpt-5", "claude-sonnet-4", "gemini-2.5-pro", "gemini-2.5-flash"]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, f"test-key-for-{name.lower()}-0123456789")


def family_preset(name: str, server: FakeServer, **overrides: object) -> Preset:
    """The built-in preset, pointed at the fake server (everything else as shipped)."""
    preset = load_presets()[name]
    base = server.url + "/v1" if preset.provider == "openai" else server.url
    return preset.model_copy(update={"base_url": base, "timeout_s": 10, **overrides})


def policy() -> RetryPolicy:
    """One attempt: a rejected request must show as rejected, not be retried away."""
    return RetryPolicy(max_attempts=1)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
async def test_every_family_completes_a_structured_request(
    family: str, stream: bool, server: FakeServer, rgb_image: ImageRef
) -> None:
    preset = family_preset(family, server, stream=stream)
    sim = Sim()
    server.responder = RESPONDERS[preset.provider](sim)
    model = build_model(preset)
    settings = GenerationSettings(temperature=0.0, max_tokens=256, structured=True, top_p=0.9)
    response = await model.generate(
        make_request(images=(rgb_image,), settings=settings, schema=SCHEMA)
    )
    assert response.error is None, response.error
    assert response.finish_reason not in ("length", "max_tokens", "MAX_TOKENS")
    answer = json.loads(response.text)
    assert answer["label"] == "nevus"
    assert set(answer["probabilities"]) == set(LABELS)
    assert len(sim.seen) == 1  # accepted at once: nothing rejected, nothing retried
    assert response.usage.output_tokens > 0 and not response.usage.estimated
    assert response.cost_usd is not None and response.cost_usd > 0
    assert response.ttft_s is None or response.ttft_s <= response.latency_s


@pytest.mark.parametrize("family", ["gpt-5", "gemini-2.5-pro", "gemini-2.5-flash"])
async def test_reasoning_budget_left_out_gives_a_truncated_outcome(
    family: str, server: FakeServer, rgb_image: ImageRef
) -> None:
    """What the issue saw: the task's 256 tokens as the whole limit of a reasoning model. The
    answer is empty and cut, and it is recorded as truncated, not as an answer."""
    preset = family_preset(family, server, reasoning_tokens=0)
    if preset.provider == "gemini":  # default (dynamic) thinking, as before presets knew it
        preset = preset.model_copy(update={"reasoning": "none", "thinking_budget": None})
    server.responder = RESPONDERS[preset.provider](Sim())
    settings = GenerationSettings(max_tokens=256, structured=True)
    response = await build_model(preset).generate(
        make_request(images=(rgb_image,), settings=settings, schema=SCHEMA)
    )
    assert response.error_kind == "truncated" and response.error.startswith("truncated")
    assert response.text == ""
    # the reasoning tokens were billed even though there is no answer
    assert response.usage.output_tokens >= 256 and not response.usage.estimated
    assert response.cost_usd is not None and response.cost_usd > 0


def test_old_request_shapes_are_rejected_by_the_fakes() -> None:
    """The fakes reject what the issue reports the real APIs rejected."""
    messages = [{"role": "user", "content": "hi"}]
    loose = {"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": SCHEMA}}
    problem = check_openai({"model": "gpt-4o", "messages": messages, "response_format": loose})
    assert problem is not None and "additionalProperties" in problem["error"]["message"]
    problem = check_openai({"model": "gpt-5", "messages": messages, "max_tokens": 256})
    assert problem["error"]["code"] == "unsupported_parameter"
    problem = check_openai({"model": "o3", "messages": messages, "temperature": 0.0})
    assert problem["error"]["code"] == "unsupported_value"
    claude = {"model": "claude-sonnet-4-20250514", "max_tokens": 9, "messages": messages}
    headers = {"anthropic-version": "2026-10-21"}
    assert check_anthropic({**claude, "temperature": 0.0}, headers) is not None
    old = {**claude, "model": "claude-3-opus-20240229"}
    assert check_anthropic({**old, "temperature": 0.0}, headers) is None
    assert check_anthropic({**old, "temperature": 0.0, "top_p": 0.9}, headers) is not None
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    off = {"contents": contents, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}
    assert "thinking mode" in check_gemini("gemini-2.5-pro", off)["error"]["message"]
    assert check_gemini("gemini-2.5-flash", off) is None
    bad = {"contents": contents, "generationConfig": {"maxTokens": 5}}
    assert check_gemini("gemini-2.5-flash", bad) is not None


def test_strict_schema_meets_openai_rules_and_keeps_the_answer_shape() -> None:
    dropped: list[str] = []
    strict = strict_schema(SCHEMA, dropped)
    assert strict_schema_problem(strict) is None
    assert dropped == ["$.properties.boxes.uniqueItems"]
    assert strict["required"] == ["label", "probabilities", "boxes"]
    assert strict["properties"]["probabilities"]["anyOf"][1] == {"type": "null"}
    inner = strict["properties"]["probabilities"]["anyOf"][0]
    assert inner["additionalProperties"] is False and inner["required"] == LABELS
    assert SCHEMA["required"] == ["label"]  # the task's schema is not modified


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_bodies_conform(family: str, rgb_image: ImageRef) -> None:
    """The bodies written into batch files pass the same checks as live requests."""
    preset = load_presets()[family]
    model = build_model(preset)
    settings = GenerationSettings(max_tokens=256, structured=True, temperature=0.0, top_p=0.9)
    request = make_request(images=(rgb_image,), settings=settings, schema=SCHEMA)
    images = model._encode_images(request)
    if isinstance(model, OpenAIChatModel):
        assert check_openai(model.build_body(request, images)) is None
    elif isinstance(model, AnthropicModel):
        headers = {"anthropic-version": "2026-10-21"}
        assert check_anthropic(model.build_body(request, images), headers) is None
    else:
        assert isinstance(model, GeminiModel)
        contents, system = model.build_contents(request, images)
        config = model.build_config(request, system)
        rest = {
            "contents": [
                c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in contents
            ],
            "generationConfig": config.model_dump(
                mode="json",
                by_alias=True,
                exclude_none=True,
                exclude={"system_instruction", "http_options"},
            ),
        }
        assert check_gemini(preset.model_id, rest) is None


def test_retired_preset_refuses_and_names_its_replacement(tmp_path: object) -> None:
    preset = load_presets()["claude-3-opus"]
    with pytest.raises(ValueError, match=r"retired .* 2026-01-05; use 'claude-opus-4'"):
        build_model(preset)
    own = preset.model_copy(update={"base_url": "http://127.0.0.1:9/"})
    assert build_model(own).name == "claude-3-opus"


async def test_retired_model_on_its_own_endpoint_takes_one_sampling_parameter(
    server: FakeServer,
) -> None:
    preset = load_presets()["claude-3-opus"].model_copy(
        update={"base_url": server.url, "sampling_exclusive": True, "stream": False}
    )
    server.responder = anthropic_responder(Sim())
    settings = GenerationSettings(temperature=0.2, top_p=0.9, max_tokens=64)
    response = await AnthropicModel(preset, retry_policy=policy()).generate(
        make_request(settings=settings)
    )
    assert response.error is None, response.error
    assert server.requests[0].body["temperature"] == 0.2
    assert "top_p" not in server.requests[0].body
    assert response.extra["ignored_settings"] == ["top_p"]
