"""AnthropicModel against a fake Messages API server (JSON and SSE event streams)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from conftest import SLEEPS, make_request
from fakeservers import FakeServer, Reply, anthropic_error, anthropic_message, anthropic_sse
from PIL import Image

from medmine.core import GenerationSettings, ImageRef
from medmine.models.anthropic_messages import AnthropicModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy


def preset_for(server: FakeServer, **overrides: object) -> Preset:
    """An Anthropic preset pointed at the fake server."""
    fields: dict[str, object] = {
        "name": "fake-claude",
        "provider": "anthropic",
        "model_id": "claude-sonnet-4-20250514",
        "base_url": server.url,
        "api_key_env": "MEDMINE_TEST_ANTHROPIC_KEY",
        "price_input_per_mtok": 3.0,
        "price_output_per_mtok": 15.0,
        "max_image_edge": 200,
        "stream": False,
        "timeout_s": 5,
    }
    fields.update(overrides)
    return Preset.model_validate(fields)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_ANTHROPIC_KEY", "sk-ant-test-secret-999")


async def test_normal_request_wire_format(
    server: FakeServer, rgb_image: ImageRef, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(body=anthropic_message("melanoma", input_tokens=400, output_tokens=3)))
    model = AnthropicModel(preset_for(server), retry_policy=fast_policy)
    settings = GenerationSettings(temperature=0.2, max_tokens=50, top_p=0.8)
    response = await model.generate(make_request(images=(rgb_image,), settings=settings))
    assert response.text == "melanoma" and response.finish_reason == "end_turn"
    assert response.cost_usd == pytest.approx((400 * 3 + 3 * 15) / 1e6)

    sent = server.requests[0]
    assert sent.path == "/v1/messages"
    auth = sent.headers.get("x-api-key") or sent.headers.get("authorization", "")
    assert auth.endswith("sk-ant-test-secret-999")  # SDK versions differ in the header used
    body = sent.body
    assert body["model"] == "claude-sonnet-4-20250514" and body["max_tokens"] == 50
    assert body["system"] == "You are a radiologist."
    # current models take no sampling parameters under the API version the SDK sends
    assert "temperature" not in body and "top_p" not in body
    assert response.extra["ignored_settings"] == ["temperature", "top_p"]
    blocks = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "user"
    assert [b["type"] for b in blocks] == ["image", "text"]
    source = blocks[0]["source"]
    assert source["type"] == "base64" and source["media_type"] == "image/jpeg"
    assert Image.open(io.BytesIO(base64.b64decode(source["data"]))).size == (200, 150)


async def test_streaming_usage_from_start_and_delta(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(sse=anthropic_sse(["Normal ", "chest"], input_tokens=77, output_tokens=9)))
    model = AnthropicModel(preset_for(server, stream=True), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.text == "Normal chest"
    assert response.usage.input_tokens == 77 and response.usage.output_tokens == 9
    assert response.ttft_s is not None and response.ttft_s <= response.latency_s
    assert server.requests[0].body["stream"] is True


async def test_refusal_stop_reason(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.push(Reply(body=anthropic_message("I won't.", stop_reason="refusal")))
    response = await AnthropicModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.ok and response.refused and response.text == "I won't."


async def test_structured_output_via_forced_tool(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(body=anthropic_message(tool_input={"label": "nevus"}, stop_reason="tool_use"))
    )
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    settings = GenerationSettings(structured=True)
    response = await AnthropicModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request(settings=settings, schema=schema)
    )
    assert json.loads(response.text) == {"label": "nevus"}
    body = server.requests[0].body
    assert body["tools"][0]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}


async def test_429_then_529_then_success(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.push(
        Reply(
            status=429,
            body=anthropic_error("rate_limit_error", "slow"),
            headers={"retry-after": "0.04"},
        ),
        Reply(status=529, body=anthropic_error("overloaded_error", "overloaded")),
        Reply(body=anthropic_message("done")),
    )
    response = await AnthropicModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.text == "done" and response.extra["statuses"] == [429, 529]
    assert SLEEPS[0] == pytest.approx(0.04)


async def test_500_then_success(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.push(
        Reply(status=500, body=anthropic_error("api_error", "boom")),
        Reply(body=anthropic_message("ok")),
    )
    response = await AnthropicModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.text == "ok" and response.extra["statuses"] == [500]


async def test_timeout(server: FakeServer) -> None:
    server.default = Reply(body=anthropic_message("late"), delay_s=1.0)
    policy = RetryPolicy(max_attempts=2, initial_s=0.0, max_s=0.0, jitter=False)
    response = await AnthropicModel(
        preset_for(server, timeout_s=0.2), retry_policy=policy
    ).generate(make_request())
    assert response.error_kind == "timeout" and response.extra["attempts"] == 2


async def test_malformed_and_truncated(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.push(Reply(raw=b"<html>proxy error</html>"), Reply(body=anthropic_message("ok")))
    model = AnthropicModel(preset_for(server), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.text == "ok" and response.extra["statuses"] == ["malformed"]

    server.default = Reply(sse=anthropic_sse(["cut"]), truncate=2)
    streaming = AnthropicModel(preset_for(server, stream=True), retry_policy=fast_policy)
    failed = await streaming.generate(make_request())
    assert failed.error_kind == "malformed" and failed.extra["attempts"] == 4


async def test_credit_exhausted_is_quota(server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.default = Reply(
        status=400,
        body=anthropic_error(
            "invalid_request_error", "Your credit balance is too low to access the Anthropic API."
        ),
    )
    response = await AnthropicModel(preset_for(server), retry_policy=fast_policy).generate(
        make_request()
    )
    assert response.error_kind == "quota" and len(server.requests) == 1
