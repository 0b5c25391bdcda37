"""GeminiModel against a fake Gemini API server (generateContent and streamGenerateContent)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from conftest import SLEEPS, make_request
from fakeservers import FakeServer, Reply, gemini_error, gemini_response, gemini_sse
from PIL import Image

from medmine.core import GenerationSettings, ImageRef
from medmine.models.gemini import GeminiModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy


def preset_for(server: FakeServer, **overrides: object) -> Preset:
    """A Gemini preset pointed at the fake server."""
    fields: dict[str, object] = {
        "name": "fake-gemini",
        "provider": "gemini",
        "model_id": "gemini-2.5-flash",
        "base_url": server.url,
        "api_key_env": "MEDMINE_TEST_GEMINI_KEY",
        "price_input_per_mtok": 0.3,
        "price_output_per_mtok": 2.5,
        "coord_convention": "norm1000_yxyx",
        "max_image_edge": 256,
        "stream": False,
        "timeout_s": 5,
    }
    fields.update(overrides)
    return Preset.model_validate(fields)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_GEMINI_KEY", "AIzaTestSecretKey1234567")


async def test_normal_request_wire_format(
    server: FakeServer, rgb_image: ImageRef, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(body=gemini_response("polyp", prompt_tokens=300, output_tokens=2)))
    settings = GenerationSettings(temperature=0.0, max_tokens=40, seed=3, top_p=0.5)
    model = GeminiModel(preset_for(server), retry_policy=fast_policy)
    response = await model.generate(make_request(images=(rgb_image,), settings=settings))
    assert response.text == "polyp" and response.finish_reason == "STOP"
    assert response.usage.input_tokens == 300 and response.usage.output_tokens == 2
    assert response.cost_usd == pytest.approx((300 * 0.3 + 2 * 2.5) / 1e6)

    sent = server.requests[0]
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.headers["x-goog-api-key"] == "AIzaTestSecretKey1234567"
    body = sent.body
    assert body["systemInstruction"]["parts"][0]["text"] == "You are a radiologist."
    config = body["generationConfig"]
    assert config["temperature"] == 0.0 and config["maxOutputTokens"] == 40
    assert config["seed"] == 3 and config["topP"] == 0.5
    parts = body["contents"][0]["parts"]
    assert body["contents"][0]["role"] == "user"
    inline = parts[0]["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")) == "image/jpeg"
    data = inline["data"]  # the SDK sends URL-safe base64, which the API accepts
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    assert Image.open(io.BytesIO(raw)).size == (256, 192)
    assert parts[1]["text"] == "What is shown?"


async def test_streaming(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.push(Reply(sse=gemini_sse(["No ", "finding"], prompt_tokens=42, output_tokens=3)))
    model = GeminiModel(preset_for(server, stream=True), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.text == "No finding"
    assert response.usage.input_tokens == 42 and response.usage.output_tokens == 3
    assert response.ttft_s is not None and response.ttft_s <= response.latency_s
    assert ":streamGenerateContent" in server.requests[0].path
    assert "alt=sse" in server.requests[0].path


async def test_safety_finish_and_prompt_block_are_refusals(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(body=gemini_response("", finish_reason="SAFETY")),
        Reply(body=gemini_response(block_reason="PROHIBITED_CONTENT")),
    )
    model = GeminiModel(preset_for(server), retry_policy=fast_policy)
    first = await model.generate(make_request())
    assert first.ok and first.refused and first.finish_reason == "SAFETY"
    second = await model.generate(make_request())
    assert second.refused and second.extra["block_reason"] == "PROHIBITED_CONTENT"


async def test_structured_output(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.push(Reply(body=gemini_response('{"label": "ulcer"}')))
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string"}},
        "additionalProperties": False,
    }
    model = GeminiModel(preset_for(server), retry_policy=fast_policy)
    response = await model.generate(
        make_request(settings=GenerationSettings(structured=True), schema=schema)
    )
    assert json.loads(response.text) == {"label": "ulcer"}
    config = server.requests[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema


async def test_429_with_retry_after_then_500_then_success(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(
            status=429,
            body=gemini_error(429, "RESOURCE_EXHAUSTED", "rate"),
            headers={"Retry-After": "0.02"},
        ),
        Reply(status=500, body=gemini_error(500, "INTERNAL", "boom")),
        Reply(body=gemini_response("ok")),
    )
    response = await GeminiModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.text == "ok" and response.extra["statuses"] == [429, 500]
    assert SLEEPS[0] == pytest.approx(0.02)
    assert len(server.requests) == 3  # the SDK did not retry on its own


async def test_timeout(server: FakeServer) -> None:
    server.default = Reply(body=gemini_response("late"), delay_s=1.0)
    policy = RetryPolicy(max_attempts=2, initial_s=0.0, max_s=0.0, jitter=False)
    model = GeminiModel(preset_for(server, timeout_s=0.2), retry_policy=policy)
    response = await model.generate(make_request())
    assert response.error_kind == "timeout" and response.extra["attempts"] == 2


async def test_malformed_and_truncated(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.default = Reply(raw=b"not json")
    response = await GeminiModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.error_kind == "malformed" and response.extra["attempts"] == 4

    server.default = Reply(sse=gemini_sse(["a", "b", "c"]), truncate=1)
    streaming = GeminiModel(preset_for(server, stream=True), retry_policy=fast_policy)
    truncated = await streaming.generate(make_request())
    assert truncated.error_kind == "malformed"


async def test_bad_request_not_retried_and_key_not_leaked(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.default = Reply(
        status=400,
        body=gemini_error(400, "INVALID_ARGUMENT", "API key not valid: AIzaTestSecretKey1234567"),
    )
    response = await GeminiModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.error_kind == "client" and len(server.requests) == 1
    assert "AIzaTestSecretKey1234567" not in (response.error or "")
