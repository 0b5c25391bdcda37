"""OpenAIChatModel against a fake OpenAI-compatible server speaking the documented wire format."""

from __future__ import annotations

import base64
import io

import pytest
from conftest import SLEEPS, make_request
from fakeservers import FakeServer, Reply, openai_completion, openai_error, openai_sse
from PIL import Image
from providerfakes import Sim, openai_responder

from medmine.core import GenerationSettings, ImageRef
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy


def preset_for(server: FakeServer, **overrides: object) -> Preset:
    """An OpenAI preset pointed at the fake server, with prices for cost checks."""
    fields: dict[str, object] = {
        "name": "fake-gpt",
        "provider": "openai",
        "model_id": "gpt-4o",
        "base_url": server.url + "/v1",
        "api_key_env": "MEDMINE_TEST_OPENAI_KEY",
        "price_input_per_mtok": 2.5,
        "price_output_per_mtok": 10.0,
        "stream": False,
        "timeout_s": 5,
        "image_probe": False,  # scripted replies: the probe has its own tests
    }
    fields.update(overrides)
    return Preset.model_validate(fields)


@pytest.fixture(params=["openai", "openai_compatible"])
def provider(request: pytest.FixtureRequest) -> str:
    """Both paths: the official SDK (``openai``) and direct HTTP (``openai_compatible``)."""
    return request.param


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_OPENAI_KEY", "sk-test-secret-123456")


async def test_normal_request_wire_format_usage_cost(
    provider: str, server: FakeServer, rgb_image: ImageRef, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(body=openai_completion("benign nevus", prompt_tokens=900, completion_tokens=4))
    )
    model = OpenAIChatModel(
        preset_for(server, provider=provider, max_image_edge=320), retry_policy=fast_policy
    )
    settings = GenerationSettings(temperature=0.0, max_tokens=64, seed=7, top_p=0.9)
    response = await model.generate(make_request(images=(rgb_image,), settings=settings))

    assert response.ok and response.text == "benign nevus"
    assert response.usage.input_tokens == 900 and response.usage.output_tokens == 4
    assert not response.usage.estimated
    assert response.cost_usd == pytest.approx((900 * 2.5 + 4 * 10.0) / 1e6)
    assert response.latency_s is not None and response.latency_s > 0
    assert response.ttft_s is None and response.extra["attempts"] == 1

    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-secret-123456"
    body = sent.body
    assert body["model"] == "gpt-4o"
    limit = "max_completion_tokens" if provider == "openai" else "max_tokens"
    assert body[limit] == 64 and body["temperature"] == 0.0
    assert body["seed"] == 7 and body["top_p"] == 0.9
    assert body["messages"][0] == {"role": "system", "content": "You are a radiologist."}
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (320, 240)  # 640x480 scaled to max edge 320
    assert "stream" not in body


async def test_streaming_records_ttft_and_usage(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(sse=openai_sse(["Pneumo", "nia"], prompt_tokens=50, completion_tokens=2)))
    model = OpenAIChatModel(
        preset_for(server, provider=provider, stream=True), retry_policy=fast_policy
    )
    response = await model.generate(make_request())
    assert response.text == "Pneumonia" and response.finish_reason == "stop"
    assert response.ttft_s is not None and 0 <= response.ttft_s <= response.latency_s
    assert response.usage.input_tokens == 50 and response.usage.output_tokens == 2
    assert response.extra["streamed"] is True
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_refusal_and_content_filter(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(body=openai_completion(None, refusal="I can't help with that.")),  # type: ignore[arg-type]
        Reply(body=openai_completion("", finish_reason="content_filter")),
    )
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    first = await model.generate(make_request())
    assert first.ok and first.refused and first.text == "I can't help with that."
    second = await model.generate(make_request())
    assert second.refused and second.finish_reason == "content_filter"


async def test_429_with_retry_after_then_success(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(
            status=429,
            body=openai_error(429, "slow down", "rate_limit_exceeded"),
            headers={"Retry-After": "0.03"},
        ),
        Reply(body=openai_completion("ok")),
    )
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.ok and response.text == "ok"
    assert response.extra["statuses"] == [429]
    assert response.extra["attempts"] == 2
    assert [pytest.approx(0.03)] == SLEEPS  # Retry-After honoured, not the backoff
    assert len(server.requests) == 2


async def test_500_then_success(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(status=500, body=openai_error(500, "boom")),
        Reply(status=503, body=openai_error(503, "busy")),
        Reply(body=openai_completion("fine")),
    )
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.text == "fine" and response.extra["statuses"] == [500, 503]
    assert SLEEPS == [0.01, 0.02]  # exponential backoff without jitter


async def test_persistent_500_becomes_error_response(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.default = Reply(status=500, body=openai_error(500, "down"))
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert not response.ok and response.error_kind == "server"
    assert response.extra["statuses"] == [500, 500, 500, 500]
    assert "sk-test-secret" not in (response.error or "")


async def test_timeout_is_retried_then_reported(provider: str, server: FakeServer) -> None:
    server.push(
        Reply(body=openai_completion("late"), delay_s=1.0),
        Reply(body=openai_completion("late"), delay_s=1.0),
    )
    policy = RetryPolicy(max_attempts=2, initial_s=0.0, max_s=0.0, jitter=False)
    model = OpenAIChatModel(
        preset_for(server, provider=provider, timeout_s=0.2), retry_policy=policy
    )
    response = await model.generate(make_request())
    assert response.error_kind == "timeout"
    assert response.extra["statuses"] == ["timeout", "timeout"]


async def test_malformed_body(provider: str, server: FakeServer, fast_policy: RetryPolicy) -> None:
    server.default = Reply(raw=b"{not json at all")
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.error_kind == "malformed" and response.extra["attempts"] == 4


async def test_truncated_stream_is_retried(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(sse=openai_sse(["par", "tial"]), truncate=3), Reply(sse=openai_sse(["whole"]))
    )
    model = OpenAIChatModel(
        preset_for(server, provider=provider, stream=True), retry_policy=fast_policy
    )
    response = await model.generate(make_request())
    assert response.text == "whole"
    assert response.extra["statuses"] == ["malformed"]


async def test_quota_exhausted_is_not_retried(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(status=429, body=openai_error(429, "You exceeded your quota", "insufficient_quota")),
        Reply(body=openai_completion("never")),
    )
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.error_kind == "quota" and response.extra["attempts"] == 1
    assert len(server.requests) == 1


async def test_bad_request_is_not_retried(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.default = Reply(status=400, body=openai_error(400, "bad schema"))
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.error_kind == "client" and len(server.requests) == 1


async def test_structured_output_and_reasoning_params(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(body=openai_completion('{"label": "melanoma"}')))
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string"}},
        "required": ["label"],
        "additionalProperties": False,
    }
    model = OpenAIChatModel(preset_for(server, model_id="gpt-5-mini"), retry_policy=fast_policy)
    settings = GenerationSettings(max_tokens=77, structured=True)
    response = await model.generate(make_request(settings=settings, schema=schema))
    body = server.requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert body["max_completion_tokens"] == 77
    assert "max_tokens" not in body and "temperature" not in body
    assert response.extra["ignored_settings"] == ["temperature"]


async def test_compatible_server_without_key_or_usage(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(body=openai_completion("a" * 40, prompt_tokens=None)))
    preset = preset_for(
        server,
        provider="openai_compatible",
        api_key_env=None,
        model_id="qwen",
        price_input_per_mtok=None,
        price_output_per_mtok=None,
        extra_body={"top_k": 5},
    )
    model = OpenAIChatModel(preset, retry_policy=fast_policy)
    response = await model.generate(make_request("x" * 40, system=None))
    assert response.usage.estimated
    assert response.usage.input_tokens == 10 and response.usage.output_tokens == 10
    assert response.cost_usd is None
    sent = server.requests[0]
    assert sent.headers["authorization"] == "Bearer not-needed"
    assert sent.body["top_k"] == 5


@pytest.mark.parametrize("stream", [False, True])
async def test_server_that_drops_images_is_caught_by_a_probe(
    stream: bool, server: FakeServer, rgb_image: ImageRef, fast_policy: RetryPolicy
) -> None:
    """A llama.cpp-like server without a vision projector: it answers (plausibly) from the
    text alone and, streaming, reports no usage. One probe per endpoint (with and without the
    image) shows the image added no tokens: every image answer is an 'image dropped' failure."""
    sim = Sim(answer="Benign nevus.", drop_images=True, usage_in_stream=False)
    server.responder = openai_responder(sim, strict_models=False)
    preset = preset_for(
        server,
        provider="openai_compatible",
        api_key_env=None,
        model_id="m",
        stream=stream,
        image_probe=True,
    )
    model = OpenAIChatModel(preset, retry_policy=fast_policy)
    for _ in range(2):
        response = await model.generate(make_request(images=(rgb_image,)))
        assert response.error_kind == "image_dropped"
        assert response.error.startswith("image dropped")
        assert response.text == "Benign nevus."  # kept, never scored
    assert len(sim.seen) == 2 + 2  # one probe pair per endpoint, then the two requests
    text_only = await model.generate(make_request())
    assert text_only.error is None  # a text request is not affected


async def test_server_that_reads_images_passes_the_probe(
    server: FakeServer, rgb_image: ImageRef, fast_policy: RetryPolicy
) -> None:
    server.responder = openai_responder(Sim(answer="Benign nevus."), strict_models=False)
    preset = preset_for(
        server, provider="openai_compatible", api_key_env=None, model_id="m", image_probe=True
    )
    response = await OpenAIChatModel(preset, retry_policy=fast_policy).generate(
        make_request(images=(rgb_image,))
    )
    assert response.error is None and response.text == "Benign nevus."
    assert len(server.requests) == 3  # the probe pair, then the request
    assert "image_ignored" not in response.extra


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but no image was provided. Please upload the image.",
        "I cannot see any image attached to your message.",
        "Please provide the image so I can classify it.",
    ],
)
async def test_answer_saying_no_image_was_provided_is_image_dropped(
    answer: str, provider: str, server: FakeServer, rgb_image: ImageRef, fast_policy: RetryPolicy
) -> None:
    server.responder = openai_responder(Sim(answer=answer))
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    response = await model.generate(make_request(images=(rgb_image,)))
    assert response.error_kind == "image_dropped"
    assert response.error == "image dropped: the answer says no image was provided"


async def test_stream_options_rejected_falls_back(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(
        Reply(status=400, body=openai_error(400, "Unknown field: stream_options")),
        Reply(body=openai_completion("plain")),
    )
    model = OpenAIChatModel(
        preset_for(server, provider=provider, stream=True), retry_policy=fast_policy
    )
    response = await model.generate(make_request())
    assert response.text == "plain" and "stream_fallback" in response.extra
    assert "stream" not in server.requests[1].body


async def test_text_only_preset_rejects_images(
    provider: str, server: FakeServer, rgb_image: ImageRef
) -> None:
    model = OpenAIChatModel(preset_for(server, provider=provider, modality="text"))
    with pytest.raises(ValueError, match="text-only"):
        await model.generate(make_request(images=(rgb_image,)))


async def test_missing_key_is_a_client_error(
    provider: str, server: FakeServer, fast_policy: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDMINE_TEST_OPENAI_KEY")
    response = await OpenAIChatModel(
        preset_for(server, provider=provider), retry_policy=fast_policy
    ).generate(make_request())
    assert response.error_kind == "client" and "MEDMINE_TEST_OPENAI_KEY" in (response.error or "")
    assert server.requests == []


async def test_missing_image_file_is_an_input_error(
    provider: str, server: FakeServer, tmp_path
) -> None:
    model = OpenAIChatModel(preset_for(server, provider=provider))
    response = await model.generate(make_request(images=(ImageRef(tmp_path / "gone.png"),)))
    assert response.error_kind == "input" and "gone.png" in (response.error or "")


def test_describe_has_no_secret(server: FakeServer) -> None:
    model = OpenAIChatModel(preset_for(server))
    text = repr(model.describe()) + repr(model) + repr(model.preset)
    assert "sk-test-secret" not in text
    assert model.cache_id == "openai:gpt-4o"
    assert model.describe()["api_key_env"] == "MEDMINE_TEST_OPENAI_KEY"


async def test_aclose_releases_the_client(
    provider: str, server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(body=openai_completion("a")), Reply(body=openai_completion("b")))
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    assert (await model.generate(make_request())).text == "a"
    await model.aclose()
    await model.aclose()  # idempotent
    assert (await model.generate(make_request())).text == "b"  # a new client is made
    await model.aclose()


# --------------------------------------------------------------------------- direct HTTP path


def compatible_preset(server: FakeServer, **overrides: object) -> Preset:
    """An ``openai_compatible`` preset (direct HTTP, no SDK) on the fake server."""
    fields: dict[str, object] = {"provider": "openai_compatible", "api_key_env": None}
    fields.update(overrides)
    return preset_for(server, **fields)


async def test_only_provider_openai_goes_through_the_sdk(
    server: FakeServer, fast_policy: RetryPolicy, provider: str
) -> None:
    server.push(Reply(body=openai_completion("ok")))
    model = OpenAIChatModel(preset_for(server, provider=provider), retry_policy=fast_policy)
    assert (await model.generate(make_request())).text == "ok"
    sdk_headers = [k for k in server.requests[0].headers if k.startswith("x-stainless")]
    assert bool(sdk_headers) == (provider == "openai")
    assert server.requests[0].headers["content-type"] == "application/json"
    await model.aclose()


async def test_direct_pool_is_sized_to_the_preset_concurrency(server: FakeServer) -> None:
    server.push(Reply(body=openai_completion("ok")))
    model = OpenAIChatModel(compatible_preset(server, concurrency=3))
    assert (await model.generate(make_request())).ok
    transport = model._client._sender._transport
    assert transport.max_connections == 3
    await model.aclose()


async def test_error_event_inside_a_stream_is_a_server_error(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    error = 'data: {"error": {"message": "engine crashed", "type": "server_error"}}\n\n'
    server.default = Reply(sse=[error])
    model = OpenAIChatModel(compatible_preset(server, stream=True), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.error_kind == "server" and "engine crashed" in (response.error or "")
    assert response.extra["attempts"] == 4


async def test_stream_without_usage_estimates_tokens(
    server: FakeServer, fast_policy: RetryPolicy
) -> None:
    server.push(Reply(sse=openai_sse(["a" * 8, "b" * 8], prompt_tokens=None)))
    model = OpenAIChatModel(compatible_preset(server, stream=True), retry_policy=fast_policy)
    response = await model.generate(make_request("x" * 40, system=None))
    assert response.text == "a" * 8 + "b" * 8 and response.ttft_s is not None
    assert response.usage.estimated and response.usage.output_tokens == 4


async def test_refused_stream(server: FakeServer, fast_policy: RetryPolicy) -> None:
    events = [
        'data: {"choices": [{"index": 0, "delta": {"refusal": "No."}, "finish_reason": null}]}\n\n',
        'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n',
        "data: [DONE]\n\n",
    ]
    server.push(Reply(sse=events))
    model = OpenAIChatModel(compatible_preset(server, stream=True), retry_policy=fast_policy)
    response = await model.generate(make_request())
    assert response.refused and response.text == "No." and response.finish_reason == "stop"


async def test_unreachable_server_is_a_connection_error(fast_policy: RetryPolicy) -> None:
    preset = Preset(
        name="down", provider="openai_compatible", model_id="m", base_url="http://127.0.0.1:9/v1"
    )
    response = await OpenAIChatModel(preset, retry_policy=fast_policy).generate(make_request())
    assert response.error_kind == "connection" and response.extra["attempts"] == 4


async def test_bad_base_url_is_a_client_error_not_retried(fast_policy: RetryPolicy) -> None:
    preset = Preset(name="bad", provider="openai_compatible", model_id="m", base_url="localhost/v1")
    response = await OpenAIChatModel(preset, retry_policy=fast_policy).generate(make_request())
    assert response.error_kind == "client" and "base URL" in (response.error or "")
    assert response.extra["attempts"] == 0  # refused while building the client: nothing sent
