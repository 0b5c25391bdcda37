"""What a backend records when the answer is not a plain answer: truncated, withheld,
dropped image, past the deadline, an echoed key; and how it times and bills what it got."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import make_request
from fakeservers import FakeServer, Reply, gemini_response, openai_sse
from providerfakes import Sim, anthropic_responder, openai_responder

from medmine.core import GenerationSettings, ImageRef, ParseStatus, Response, Usage
from medmine.models.anthropic_messages import AnthropicModel
from medmine.models.gemini import GeminiModel
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy
from medmine.models.secrets import redact

KEY = "sk-proj-Zq8x_unusual-SHAPE.of/key==9f3"  # a key no pattern would recognise


def _preset(server: FakeServer, provider: str, **overrides: object) -> Preset:
    fields: dict[str, object] = {
        "name": f"fake-{provider}",
        "provider": provider,
        "model_id": {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-20250514"}.get(
            provider, "gemini-2.5-flash"
        ),
        "base_url": server.url + ("/v1" if provider.startswith("openai") else ""),
        "api_key_env": "MEDMINE_TEST_KEY",
        "price_input_per_mtok": 2.0,
        "price_output_per_mtok": 8.0,
        "stream": False,
        "timeout_s": 5,
        "image_probe": False,
    }
    fields.update(overrides)
    return Preset.model_validate(fields)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_KEY", KEY)


def once() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, initial_s=0.0, max_s=0.0, jitter=False)


@pytest.mark.parametrize("stream", [False, True])
async def test_truncated_forced_tool_call_is_truncated_not_retried(
    stream: bool, server: FakeServer
) -> None:
    server.responder = anthropic_responder(Sim())
    preset = _preset(server, "anthropic", stream=stream)
    schema = {"type": "object", "properties": {"report": {"type": "string"}}}
    settings = GenerationSettings(max_tokens=2, structured=True)
    response = await AnthropicModel(preset, retry_policy=once()).generate(
        make_request(settings=settings, schema=schema)
    )
    assert len(server.requests) == 1  # cut by the limit: asking again cannot help
    assert response.error_kind == "truncated" and response.finish_reason == "max_tokens"
    assert response.cost_usd is not None and response.cost_usd > 0  # billed, recorded
    assert response.latency_s is not None


async def test_malformed_complete_tool_call_spend_is_recorded(server: FakeServer) -> None:
    bad = [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":'
        '"message","role":"assistant","model":"c","content":[],"stop_reason":null,'
        '"stop_sequence":null,"usage":{"input_tokens":1000,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"tool_use","id":"t","name":"answer","input":{}}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"input_json_delta","partial_json":"{\\"report\\": nope"}}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
        '"tool_use","stop_sequence":null},"usage":{"output_tokens":50}}\n\n',
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    server.push(Reply(sse=bad), Reply(sse=bad), Reply(sse=bad))
    preset = _preset(server, "anthropic", stream=True)
    schema = {"type": "object", "properties": {"report": {"type": "string"}}}
    response = await AnthropicModel(preset, retry_policy=once()).generate(
        make_request(settings=GenerationSettings(structured=True), schema=schema)
    )
    assert response.error_kind == "malformed" and response.extra["attempts"] == 3
    per_attempt = (1000 * 2.0 + 50 * 8.0) / 1e6
    assert response.cost_usd == pytest.approx(3 * per_attempt)  # every billed attempt


@pytest.mark.parametrize(
    ("reason", "refused"), [("RECITATION", True), ("SAFETY", True), ("OTHER", True)]
)
async def test_gemini_withheld_answers_are_refusals_with_their_reason(
    reason: str, refused: bool, server: FakeServer
) -> None:
    server.push(Reply(body=gemini_response("", finish_reason=reason)))
    response = await GeminiModel(_preset(server, "gemini"), retry_policy=once()).generate(
        make_request()
    )
    assert response.error is None and response.refused is refused
    assert response.extra["refusal_reason"] == reason


async def test_gemini_thinking_tokens_billed_when_no_candidate_count(server: FakeServer) -> None:
    body = gemini_response("", finish_reason="MAX_TOKENS")
    body["usageMetadata"] = {
        "promptTokenCount": 100,
        "thoughtsTokenCount": 300,
        "totalTokenCount": 400,
    }
    server.push(Reply(body=body))
    response = await GeminiModel(_preset(server, "gemini"), retry_policy=once()).generate(
        make_request()
    )
    assert response.error_kind == "truncated"
    assert response.usage.output_tokens == 300 and not response.usage.estimated
    assert response.cost_usd == pytest.approx((100 * 2.0 + 300 * 8.0) / 1e6)


async def test_cached_input_tokens_use_the_cached_price(server: FakeServer) -> None:
    completion = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "ok", "refusal": None},
            }
        ],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 10,
            "total_tokens": 1010,
            "prompt_tokens_details": {"cached_tokens": 800},
        },
    }
    server.push(Reply(body=completion))
    preset = _preset(server, "openai", price_cached_input_per_mtok=0.5)
    response = await OpenAIChatModel(preset, retry_policy=once()).generate(make_request())
    assert response.cost_usd == pytest.approx((200 * 2.0 + 800 * 0.5 + 10 * 8.0) / 1e6)
    assert response.extra["cached_input_tokens"] == 800


@pytest.mark.parametrize("provider", ["openai", "openai_compatible"])
async def test_trickling_server_is_cut_at_the_deadline(provider: str, server: FakeServer) -> None:
    """A server sending one event a second never trips a per-read timeout; the whole-request
    deadline cuts it and the attempt is recorded as a timeout."""
    server.push(Reply(sse=openai_sse(["a"] * 30), trickle_s=0.5))
    preset = _preset(server, provider, stream=True, timeout_s=1.5)
    start = time.perf_counter()
    response = await OpenAIChatModel(preset, retry_policy=RetryPolicy(max_attempts=1)).generate(
        make_request()
    )
    elapsed = time.perf_counter() - start
    assert response.error_kind == "timeout" and "1.5 s" in response.error
    assert 1.4 < elapsed < 3.0


@pytest.mark.parametrize("provider", ["openai", "openai_compatible"])
async def test_echoed_key_is_redacted_whatever_its_shape(provider: str, server: FakeServer) -> None:
    server.responder = openai_responder(Sim(echo_key=True))
    model = OpenAIChatModel(_preset(server, provider), retry_policy=once())
    response = await model.generate(make_request())
    assert response.error_kind == "client" and response.extra["attempts"] == 1  # 401: no retry
    assert KEY not in response.to_json() and "Incorrect API key provided: ***" in response.error
    assert KEY not in redact(f"prefix {KEY} suffix") and redact("no secret here") == (
        "no secret here"
    )


async def test_queueing_is_recorded_apart_from_latency(server: FakeServer) -> None:
    """Eight requests on a preset serving two at a time: each answer's latency is the
    server's service time, the wait for a slot is queue_s; TTFT never exceeds latency."""
    server.responder = openai_responder(Sim(service_s=0.2))
    preset = _preset(server, "openai_compatible", concurrency=2, stream=True)
    model = OpenAIChatModel(preset, retry_policy=once())
    responses: list[Response] = await asyncio.gather(
        *(model.generate(make_request()) for _ in range(8))
    )
    assert all(r.error is None for r in responses)
    assert model.peak_in_flight == 2
    for r in responses:
        assert 0.19 < r.latency_s < 0.4, r.latency_s
        assert r.ttft_s is not None and r.ttft_s <= r.latency_s
    queued = sorted(r.extra["queue_s"] for r in responses)
    assert queued[-1] > 0.5  # the last pair waited for three pairs before it


async def test_encoding_and_client_setup_are_not_timed(
    server: FakeServer, rgb_image: ImageRef
) -> None:
    server.responder = openai_responder(Sim(service_s=0.05))
    preset = _preset(server, "openai", max_image_edge=2048)
    model = OpenAIChatModel(preset, retry_policy=once())
    response = await model.generate(make_request(images=(rgb_image,)))
    assert response.error is None
    assert response.latency_s < 0.05 + 0.1  # no SDK import, client build or JPEG encoding


async def test_text_only_preset_carries_its_modality(server: FakeServer) -> None:
    model = OpenAIChatModel(_preset(server, "openai", modality="text"))
    assert model.modality == "text"


def test_core_check_reads_truncation_before_the_task() -> None:
    from medmine.core import forced_status

    cut = Response(
        text='{"label": "mel',
        model="m",
        error="truncated: cut",
        error_kind="truncated",
        usage=Usage(10, 256),
    )
    assert forced_status(cut) == (ParseStatus.TRUNCATED, "truncated: cut")
    dropped = Response(text="x", model="m", error="image dropped: y", error_kind="image_dropped")
    assert forced_status(dropped) == (ParseStatus.ERROR, "image dropped: y")
    assert forced_status(Response(text="fine", model="m")) is None


def test_anthropic_message_usage_counts_cache_reads() -> None:
    from types import SimpleNamespace

    from medmine.models.anthropic_messages import usage_fields

    usage = SimpleNamespace(
        input_tokens=10, output_tokens=5, cache_read_input_tokens=900, cache_creation_input_tokens=0
    )
    assert usage_fields(usage) == {
        "input_tokens": 910,
        "output_tokens": 5,
        "cached_input_tokens": 900,
    }
