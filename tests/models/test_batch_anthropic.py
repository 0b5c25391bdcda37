"""Anthropic Message Batches channel against a local fake of /v1/messages/batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakebatch import (
    Fail,
    FakeAnthropicBatch,
    Ok,
    batch_run,
    by_sample,
    right_answer,
    stored,
    toy_samples,
)

from medmine.models.anthropic_messages import AnthropicModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy

PRICE_IN, PRICE_OUT = 3.0, 15.0


def _model(
    server: FakeAnthropicBatch, fast_policy: RetryPolicy, **overrides: Any
) -> AnthropicModel:
    fields: dict[str, Any] = {
        "name": "claude-batch",
        "provider": "anthropic",
        "model_id": "claude-sonnet-4-5",
        "base_url": server.url,
        "api_key_env": "MEDMINE_TEST_ANTHROPIC_KEY",
        "price_input_per_mtok": PRICE_IN,
        "price_output_per_mtok": PRICE_OUT,
        "max_image_edge": 64,
        "timeout_s": 5,
    }
    fields.update(overrides)
    return AnthropicModel(Preset.model_validate(fields), retry_policy=fast_policy)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_ANTHROPIC_KEY", "sk-ant-test-secret-123456")


def test_normal_completion_wire_format_and_batch_price(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"
    plan = by_sample(run_dir, lambda i, sid, p: Ok(right_answer(sid), 400, 9))
    with FakeAnthropicBatch(plan=plan, polls=2) as server:
        summary, runner, waits = batch_run(
            run_dir, _model(server, fast_policy), toy_samples(tmp_path)
        )
        (create,) = [r for r in server.requests if r.method == "POST"]
        assert create.path == "/v1/messages/batches"
        auth = create.headers.get("x-api-key") or create.headers.get("authorization", "")
        assert "sk-ant-test-secret-123456" in auth
        requests = create.body["requests"]
        assert server.count("GET", r"/results$") == 1
    assert len(requests) == 4
    for req in requests:
        params = req["params"]
        assert params["model"] == "claude-sonnet-4-5" and params["max_tokens"] == 256
        assert "temperature" not in params  # rejected by current models (not in the SDK's params)
        assert "stream" not in params
        blocks = params["messages"][0]["content"]
        assert blocks[0]["type"] == "image" and blocks[0]["source"]["type"] == "base64"
    assert waits == [0.5, 1.0]
    assert summary.answered == 4 and runner.summary.errors == 0
    rows = stored(run_dir)
    for row in rows.values():
        r = row.response
        assert row.prediction.status.value == "ok"
        assert r.extra["batch"] is True and r.extra["batch_id"] == "msgbatch_001"
        assert r.latency_s is None and r.finish_reason == "end_turn"
        assert r.cost_usd == pytest.approx(0.5 * (400 * PRICE_IN + 9 * PRICE_OUT) / 1e6)


def test_expired_requests_are_resubmitted_and_answers_kept(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"

    def decide(index: int, sid: str, params: Any) -> Ok | None:
        if index == 0 and sid == "s3":
            return None  # result type "expired"
        return Ok(right_answer(sid))

    with FakeAnthropicBatch(plan=by_sample(run_dir, decide)) as server:
        summary, _, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
        assert server.count("POST", r"^/v1/messages/batches$") == 2
        assert len(server.batches["msgbatch_002"].entries) == 1
    rows = stored(run_dir)
    assert rows["s3"].response.extra["batch_id"] == "msgbatch_002"
    assert rows["s0"].response.extra["batch_id"] == "msgbatch_001"
    assert all(r.prediction.status.value == "ok" for r in rows.values())
    assert summary.resubmitted == 1


def test_interrupted_run_polls_the_stored_batch(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"
    samples = toy_samples(tmp_path)

    class Stop(Exception):
        pass

    async def stop(seconds: float) -> None:
        raise Stop

    plan = by_sample(run_dir, lambda i, sid, p: Ok(right_answer(sid)))
    with FakeAnthropicBatch(plan=plan, polls=3) as server:
        with pytest.raises(Stop):
            batch_run(run_dir, _model(server, fast_policy), samples, sleep=stop)
        summary, runner, _ = batch_run(run_dir, _model(server, fast_policy), samples)
        assert server.count("POST", r"^/v1/messages/batches$") == 1  # exactly one create
    assert summary.batches_resumed == 1 and runner.summary.asked == 4
    assert all(r.prediction.status.value == "ok" for r in stored(run_dir).values())


def test_errored_and_canceled_requests(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"

    def decide(index: int, sid: str, params: Any) -> Ok | Fail | None:
        if sid == "s0":
            return Fail(400, "messages.0.content.0: image exceeds 5 MB")
        if sid == "s1":
            return None  # the batch was canceled before this one ran
        return Ok(right_answer(sid))

    with FakeAnthropicBatch(plan=by_sample(run_dir, decide), final=lambda i: "canceled") as server:
        summary, runner, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
        assert server.count("POST", r"^/v1/messages/batches$") == 1  # cancelled: not resubmitted
    rows = stored(run_dir)
    assert rows["s0"].response.error_kind == "client"
    assert "image exceeds 5 MB" in (rows["s0"].response.error or "")
    assert rows["s1"].response.error_kind == "batch_cancelled"
    assert rows["s2"].prediction.status.value == "ok"
    assert summary.request_errors == 2 and runner.summary.errors == 2
